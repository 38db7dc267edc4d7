// Composed schemas: every folder of `testdata/imports/` holds a `root.zed` and the files it
// imports; composing it must give `expected` (the compiled text, or every diagnostic as
// file:line:col). Rewrite with `REGEN=1 npx vitest run src/schema/composition.test.ts`.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { describe, expect, test } from "vitest";
import { SchemaError } from "../core/errors.js";
import { composeSchema, type SchemaFiles } from "./composition.js";
import { parseSchema } from "./parser.js";
import { compileSchemaFile, composeSchemaFile } from "./schema-files.js";
import { MAX_IMPORTED_FILES, MAX_SCHEMA_BYTES } from "./schema-limits.js";

const dir = join(import.meta.dirname, "testdata", "imports");
const cases = readdirSync(dir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function render(folder: string): string {
  const composed = composeSchemaFile(join(folder, "root.zed"));
  const strip = (s: string) => s.split(`${folder}${sep}`).join("");
  if (composed.text !== undefined) return `compiled:\n${composed.text}`;
  const lines = composed.diagnostics.map(
    (d) => `${strip(d.file ?? "?")}:${d.position.line}:${d.position.column}: ${strip(d.message)}`,
  );
  return `errors:\n${lines.join("\n")}\n`;
}

describe("composed schema folders", () => {
  test("there are cases", () => {
    expect(cases.length).toBeGreaterThan(8);
  });

  for (const name of cases) {
    test(`${name} composes as expected`, () => {
      const folder = join(dir, name);
      const actual = render(folder);
      const expectedPath = join(folder, "expected");
      if (process.env.REGEN === "1") writeFileSync(expectedPath, actual);
      expect(actual).toBe(readFileSync(expectedPath, "utf8"));
    });
  }

  test("a compiled schema parses back and compiles alone, as a server receives it", () => {
    for (const name of ["simple", "nested", "diamond", "partials-across-files"]) {
      const text = compileSchemaFile(join(dir, name, "root.zed"));
      expect(parseSchema(text).ast.imports).toEqual([]);
      expect(composeSchema("alone.zed", memoryFiles({}), text).diagnostics).toEqual([]);
    }
  });

  test("compileSchemaFile throws a SchemaError naming the file", () => {
    try {
      compileSchemaFile(join(dir, "error-in-import", "root.zed"));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SchemaError);
      const e = err as SchemaError;
      expect(e.diagnostics[0]?.file).toMatch(/broken\.zed$/);
      expect([e.line, e.column]).toEqual([2, 19]);
    }
  });
});

/** Files in memory under /schemas; `links` maps a path to where its symbolic link points. */
function memoryFiles(
  contents: Record<string, string>,
  links: Record<string, string> = {},
): SchemaFiles {
  return {
    read: (path) => contents[links[path] ?? path],
    realPath: (path) => links[path] ?? path,
  };
}

describe("composition rules beyond the test folders", () => {
  test("a symbolic link out of the root's folder is refused", () => {
    const files = memoryFiles(
      {
        "/schemas/root.zed": 'use import\nimport "linked.zed"\n',
        "/etc/secret.zed": "definition user {}\n",
      },
      { "/schemas/linked.zed": "/etc/secret.zed" },
    );
    const composed = composeSchema("/schemas/root.zed", files);
    expect(composed.diagnostics).toHaveLength(1);
    expect(composed.diagnostics[0]).toMatchObject({
      file: "/schemas/root.zed",
      position: { line: 2, column: 8 },
    });
  });

  test("an inline root's imports are relative to the path that names it", () => {
    const files = memoryFiles({ "/repo/tests/user.zed": "definition user {}\n" });
    const composed = composeSchema(
      "/repo/tests/check.yaml",
      files,
      'use import\nimport "user.zed"\ndefinition doc { relation owner: user }\n',
    );
    expect(composed.diagnostics).toEqual([]);
    expect(composed.text).toBe(
      "definition user {}\n\ndefinition doc {\n\trelation owner: user\n}\n",
    );
  });

  test(`more than ${MAX_IMPORTED_FILES} files are refused`, () => {
    const contents: Record<string, string> = {};
    const n = MAX_IMPORTED_FILES + 2;
    for (let i = 0; i < n; i++) {
      contents[resolve("/s", `f${i}.zed`)] =
        i === n - 1 ? "" : `use import\nimport "f${i + 1}.zed"\n`;
    }
    const composed = composeSchema("/s/f0.zed", memoryFiles(contents));
    expect(composed.diagnostics.map((d) => d.message)).toEqual([
      `more than ${MAX_IMPORTED_FILES} files imported`,
    ]);
  });

  test("the byte limit holds for all the files together", () => {
    const half = `// ${"x".repeat(MAX_SCHEMA_BYTES / 2)}\n`;
    const files = memoryFiles({
      "/s/root.zed": `use import\nimport "a.zed"\nimport "b.zed"\n${half}`,
      "/s/a.zed": half,
      "/s/b.zed": half,
    });
    const composed = composeSchema("/s/root.zed", files);
    expect(composed.diagnostics).toHaveLength(1);
    expect(composed.diagnostics[0]?.message).toMatch(/over the limit/);
  });
});
