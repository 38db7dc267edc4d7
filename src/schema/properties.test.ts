import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fuzzRuns, propertyParameters } from "../../test/support/property-runs.js";
import { schemaAst, tokenSoup } from "../../test/support/schema-arbitraries.js";
import { SchemaError } from "../core/errors.js";
import { stripSpans } from "./ast.js";
import { compileSchema, compileSchemaText } from "./compiler.js";
import { formatSchema } from "./formatter.js";
import { parseSchema } from "./parser.js";

const runs = fuzzRuns(500);

/** Any input yields a schema or a SchemaError with positions; nothing else escapes. */
function assertTotal(text: string): void {
  try {
    compileSchemaText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(SchemaError);
    for (const d of (err as SchemaError).diagnostics) {
      expect(d.position.line).toBeGreaterThanOrEqual(1);
      expect(d.position.column).toBeGreaterThanOrEqual(1);
      expect(d.position.offset).toBeLessThanOrEqual(text.length);
    }
  }
}

describe("schema language properties", () => {
  test("random strings never throw anything but a SchemaError", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), assertTotal),
      propertyParameters(runs),
    );
  });

  test("token soups never throw anything but a SchemaError", () => {
    fc.assert(fc.property(tokenSoup, assertTotal), propertyParameters(runs));
  });

  test("formatting a generated tree and parsing it back gives the same tree", () => {
    fc.assert(
      fc.property(schemaAst, (ast) => {
        const text = formatSchema(ast);
        const reparsed = parseSchema(text);
        expect(reparsed.diagnostics).toEqual([]);
        expect(stripSpans(reparsed.ast)).toEqual(stripSpans(ast));
      }),
      propertyParameters(runs),
    );
  });

  test("formatting is idempotent", () => {
    fc.assert(
      fc.property(schemaAst, (ast) => {
        const once = formatSchema(ast);
        expect(formatSchema(parseSchema(once).ast)).toBe(once);
      }),
      propertyParameters(runs),
    );
  });

  test("compiling a generated tree reports problems instead of throwing", () => {
    fc.assert(
      fc.property(schemaAst, (ast) => {
        const result = compileSchema(ast);
        expect(result.schema === undefined).toBe(result.diagnostics.length > 0);
      }),
      { ...propertyParameters(runs), numRuns: Math.ceil(runs / 5) },
    );
  });
});
