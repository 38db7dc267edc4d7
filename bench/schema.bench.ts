// Parse + compile time of a 200-definition schema (goal: under 20 ms median).
// Run: npx vitest bench --run bench/schema.bench.ts
import { bench, describe } from "vitest";
import { compileSchemaText } from "../src/schema/compiler.js";
import { formatSchema } from "../src/schema/formatter.js";
import { parseSchema } from "../src/schema/parser.js";
import { generatedSchema } from "../test/support/generated-schema.js";

const text = generatedSchema(200);

describe(`schema of 200 definitions (${text.length} chars)`, () => {
  bench("parse", () => {
    parseSchema(text);
  });
  bench("parse + compile", () => {
    compileSchemaText(text);
  });
  const ast = parseSchema(text).ast;
  bench("format", () => {
    formatSchema(ast);
  });
});
