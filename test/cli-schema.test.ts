// The `trellis schema` commands, run as a user runs them: the built executable in a child
// process (`make test` builds before testing).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "trellis");
const run = promisify(execFile);

async function trellis(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeAll(() => {
  if (!existsSync(join(root, "dist", "cli", "main.js"))) {
    throw new Error("dist/ is missing: run `make build` (make test does) before this test");
  }
  dir = mkdtempSync(join(tmpdir(), "trellis-cli-"));
});

describe("trellis schema", () => {
  test("validate exits 0 and says ok for a valid schema", async () => {
    const file = join(dir, "ok.zed");
    writeFileSync(file, "definition user {}\ndefinition doc { relation owner: user }\n");
    const r = await trellis("schema", "validate", file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${file}: ok`);
  });

  test("validate exits 1 and prints FILE:line:col for each error", async () => {
    const file = join(dir, "bad.zed");
    writeFileSync(
      file,
      "definition user {}\ndefinition doc {\n  relation owner: usr\n  relation xyz: nada\n}\n",
    );
    const r = await trellis("schema", "validate", file);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${escapeRegExp(file)}:3:19: `));
    expect(lines[1]).toMatch(new RegExp(`^${escapeRegExp(file)}:4:17: `));
  });

  test("validate exits 1 for a file that cannot be read", async () => {
    const r = await trellis("schema", "validate", join(dir, "missing.zed"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ENOENT");
  });

  test("format prints the canonical form", async () => {
    const file = join(dir, "messy.zed");
    writeFileSync(
      file,
      "definition   user{}\ndefinition doc{relation owner:user|user:*\npermission view=(owner)+nil}",
    );
    const r = await trellis("schema", "format", file);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "definition user {}\n\ndefinition doc {\n\trelation owner: user | user:*\n\tpermission view = owner + nil\n}\n",
    );
  });

  test("format --check fails on unformatted input and --write fixes it", async () => {
    const file = join(dir, "fixme.zed");
    writeFileSync(file, "definition user {   }\n");
    expect((await trellis("schema", "format", "--check", file)).code).toBe(1);
    expect((await trellis("schema", "format", "--write", file)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("definition user {}\n");
    expect((await trellis("schema", "format", "--check", file)).code).toBe(0);
  });

  test("format exits 1 on a schema with errors and prints no text", async () => {
    const file = join(dir, "broken.zed");
    writeFileSync(file, "definition doc { relation owner user }");
    const r = await trellis("schema", "format", file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/:1:33: /);
  });
});

describe("trellis schema with imports and partials", () => {
  function project(): string {
    const root = mkdtempSync(join(dir, "composed-"));
    mkdirSync(join(root, "teams"));
    writeFileSync(
      join(root, "root.zed"),
      'use import\nuse partial\n\nimport "teams/team.zed"\n\npartial owned {\n\trelation owner: user\n}\n\ndefinition doc {\n\t...owned\n\trelation viewer: team#member\n\tpermission view = owner + viewer\n}\n',
    );
    writeFileSync(
      join(root, "teams", "team.zed"),
      'use import\n\nimport "../user.zed"\n\ndefinition team {\n\trelation member: user\n}\n',
    );
    writeFileSync(join(root, "user.zed"), "definition user {}\n");
    return root;
  }

  test("compile prints the single schema a server accepts", async () => {
    const root = project();
    const r = await trellis("schema", "compile", join(root, "root.zed"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "definition user {}\n\ndefinition team {\n\trelation member: user\n}\n\ndefinition doc {\n\trelation owner: user\n\trelation viewer: team#member\n\tpermission view = owner + viewer\n}\n",
    );
    const out = join(root, "compiled.zed");
    expect((await trellis("schema", "compile", join(root, "root.zed"), "--out", out)).code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(r.stdout);
    const validated = await trellis("schema", "validate", out);
    expect(validated.code).toBe(0);
  });

  test("validate reads the imports and names the file of each error", async () => {
    const root = project();
    writeFileSync(join(root, "user.zed"), "definition user {\n\trelation friend: usr\n}\n");
    const r = await trellis("schema", "validate", join(root, "root.zed"));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^${escapeRegExp(join(root, "user.zed"))}:2:19: `));
    const compiled = await trellis("schema", "compile", join(root, "root.zed"));
    expect(compiled.code).toBe(1);
    expect(compiled.stdout).toBe("");
  });

  test("validate refuses an import cycle and a missing file, at the import", async () => {
    const root = project();
    writeFileSync(join(root, "user.zed"), 'use import\nimport "root.zed"\ndefinition user {}\n');
    const cycle = await trellis("schema", "validate", join(root, "root.zed"));
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toMatch(/user\.zed:2:8: /);
    writeFileSync(join(root, "user.zed"), 'use import\nimport "nowhere.zed"\n');
    const missing = await trellis("schema", "validate", join(root, "root.zed"));
    expect(missing.stderr).toMatch(/user\.zed:2:8: /);
  });

  test("format prints a file with imports as written, imports kept", async () => {
    const root = project();
    const r = await trellis("schema", "format", join(root, "root.zed"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, "root.zed"), "utf8"));
  });
});

describe("trellis validate", () => {
  test("reads schemaFile relative to the validation file, imports included", async () => {
    const root = mkdtempSync(join(dir, "validate-"));
    mkdirSync(join(root, "schema"));
    mkdirSync(join(root, "tests"));
    writeFileSync(
      join(root, "schema", "root.zed"),
      'use import\nimport "user.zed"\ndefinition doc {\n\trelation owner: user\n\tpermission view = owner\n}\n',
    );
    writeFileSync(join(root, "schema", "user.zed"), "definition user {}\n");
    const file = join(root, "tests", "doc.yaml");
    writeFileSync(
      file,
      "schemaFile: ../schema/root.zed\nrelationships: |-\n  doc:d#owner@user:ann\nassertions:\n  assertTrue:\n    - doc:d#view@user:ann\nvalidation:\n  doc:d#view: []\n",
    );
    const r = await trellis("validate", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /doc\.yaml:8: validation of doc:d#view: user:ann is found but not listed/,
    );
    const updated = await trellis("validate", "--update", file);
    expect(updated.code, updated.stderr).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(
      'schemaFile: ../schema/root.zed\nrelationships: |-\n  doc:d#owner@user:ann\nassertions:\n  assertTrue:\n    - doc:d#view@user:ann\nvalidation:\n  doc:d#view:\n    - "[user:ann] is <doc:d#owner>"\n',
    );
    expect((await trellis("validate", file)).code).toBe(0);
  });

  test("--update still fails on a failing assertion", async () => {
    const file = join(dir, "failing.yaml");
    writeFileSync(
      file,
      "schema: |-\n  definition user {}\n  definition doc {\n    relation owner: user\n  }\nassertions:\n  assertTrue:\n    - doc:d#owner@user:ann\nvalidation:\n  doc:d#owner: []\n",
    );
    const r = await trellis("validate", "--update", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failing\.yaml:8: assertTrue failed/);
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("trellis init", () => {
  test("writes a preset and its validation file, which validate, and keeps existing files", async () => {
    const target = join(dir, "init");
    const r = await trellis("init", "--preset", "rbac", "--dir", target);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(target, "rbac.zed"), "utf8")).toContain("definition");
    const validated = await trellis("validate", join(target, "rbac.yaml"));
    expect(validated.code, validated.stderr + validated.stdout).toBe(0);
    const again = await trellis("init", "--preset", "rbac", "--dir", target);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("--force");
    expect((await trellis("init", "--preset", "rbac", "--dir", target, "--force")).code).toBe(0);
    const unknown = await trellis("init", "--preset", "nope", "--dir", target);
    expect(unknown.code).toBe(2);
  });
});

describe("trellis bench", () => {
  test("--help says what it runs without running it", async () => {
    const r = await trellis("bench", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("disagreements: N");
    expect(r.stdout).toContain("--scale");
  });
});
