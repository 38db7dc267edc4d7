// Golden files: every `testdata/*.zed` is parsed, compiled and formatted; the result (canonical
// text, or every diagnostic with its position) must equal `*.zed.expected`. A schema with
// partials is also printed compiled, partials spliced. Rewrite the expectations with
// `REGEN=1 npx vitest run src/schema/golden.test.ts` and review the diff.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { stripSpans } from "./ast.js";
import { compileSchema } from "./compiler.js";
import { formatSchema } from "./formatter.js";
import { parseSchema } from "./parser.js";

const dir = join(import.meta.dirname, "testdata");
const files = readdirSync(dir).filter((f) => f.endsWith(".zed"));

function render(text: string): string {
  const parsed = parseSchema(text);
  const compiled = parsed.diagnostics.length > 0 ? undefined : compileSchema(parsed.ast);
  const diagnostics = compiled?.diagnostics ?? parsed.diagnostics;
  if (diagnostics.length > 0) {
    const lines = diagnostics.map((d) => `${d.position.line}:${d.position.column}: ${d.message}`);
    return `errors:\n${lines.join("\n")}\n`;
  }
  const formatted = `formatted:\n${formatSchema(parsed.ast)}`;
  if (!parsed.ast.items.some((i) => i.kind === "partial")) return formatted;
  return `${formatted}\ncompiled:\n${formatSchema(compiled!.schema!.ast)}`;
}

describe("schema golden files", () => {
  test("the test data directory is not empty", () => {
    expect(files.length).toBeGreaterThan(3);
  });

  for (const file of files) {
    test(`${file} renders as expected`, () => {
      const text = readFileSync(join(dir, file), "utf8");
      const actual = render(text);
      const expectedPath = join(dir, `${file}.expected`);
      if (process.env.REGEN === "1") writeFileSync(expectedPath, actual);
      expect(actual).toBe(readFileSync(expectedPath, "utf8"));
    });

    const parsed = parseSchema(readFileSync(join(dir, file), "utf8"));
    if (parsed.diagnostics.length > 0) continue;
    test(`${file} formats to a fixed point with the same tree`, () => {
      const once = formatSchema(parsed.ast);
      const reparsed = parseSchema(once);
      expect(reparsed.diagnostics).toEqual([]);
      expect(stripSpans(reparsed.ast)).toEqual(stripSpans(parsed.ast));
      expect(formatSchema(reparsed.ast)).toBe(once);
    });
  }
});
