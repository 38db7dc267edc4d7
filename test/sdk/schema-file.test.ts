// `compileSchemaFile` from the package's main entry: a program turns a root schema file and its
// imports into the one text any Trellis (embedded, or a server through trellis/client) accepts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { compileSchemaFile, SchemaError, Trellis } from "../../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-schema-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a schema split across files is written as one and read back compiled", async () => {
  mkdirSync(join(dir, "parts"));
  writeFileSync(
    join(dir, "root.zed"),
    'use import\nuse partial\n\nimport "parts/user.zed"\n\npartial owned {\n\trelation owner: user\n}\n\ndefinition doc {\n\t...owned\n\tpermission edit = owner\n}\n',
  );
  writeFileSync(join(dir, "parts", "user.zed"), "definition user {}\n");
  const text = compileSchemaFile(join(dir, "root.zed"));
  const trellis = await Trellis.open({ datastore: `sqlite:${join(dir, "trellis.db")}` });
  try {
    await trellis.writeSchema(text);
    expect((await trellis.readSchema()).schema).toBe(
      "definition user {}\n\ndefinition doc {\n\trelation owner: user\n\tpermission edit = owner\n}\n",
    );
  } finally {
    await trellis.close();
  }
});

test("an error names the file it is in", () => {
  writeFileSync(join(dir, "bad.zed"), 'use import\nimport "missing.zed"\n');
  expect(() => compileSchemaFile(join(dir, "bad.zed"))).toThrow(SchemaError);
  expect(() => compileSchemaFile(join(dir, "bad.zed"))).toThrow(/bad\.zed:2:8: /);
});
