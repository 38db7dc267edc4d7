// `trellis import` (validation files, JSON lines, stdin) and `trellis backup create|restore`
// between real servers on each store: the round trip keeps every relationship with its caveat
// and expiration, repeats of an import are harmless, and a restore over existing data follows
// --conflict-strategy.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  CLI_SCHEMA,
  type CliServer,
  startCliServer,
  temporaryDirectory,
} from "../support/cli-harness.js";
import { STORE_KINDS } from "../support/test-stores.js";

const root = join(import.meta.dirname, "..", "..");

async function tuplesOf(server: CliServer, type: string): Promise<string[]> {
  const r = await server.run(["--json", "relationship", "read", type]);
  expect(r.code, r.stderr).toBe(0);
  return r
    .lines<{ relationship: string }>()
    .map((l) => l.relationship)
    .sort();
}

for (const kind of STORE_KINDS) {
  describe(`import and backup on ${kind}`, () => {
    const dir = temporaryDirectory("trellis-cli-transfer-");
    let source: CliServer;
    let target: CliServer;

    beforeAll(async () => {
      [source, target] = await Promise.all([startCliServer(kind), startCliServer(kind)]);
    });
    afterAll(async () => {
      await Promise.all([source.close(), target.close()]);
      dir.remove();
    });

    test("import of a validation file writes its schema and relationships; again is harmless", async () => {
      const file = join(root, "schema", "docs.yaml");
      const first = await source.run(["--json", "import", file]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.json()).toMatchObject({ schemaWritten: true, relationships: 18 });
      const again = await source.run(["--json", "import", file]);
      expect(again.code, again.stderr).toBe(0);
      expect((await tuplesOf(source, "document")).length).toBe(7);
      const check = await source.run([
        "permission",
        "check",
        "document:design",
        "view",
        "user:alice",
      ]);
      expect(check.stdout.trim()).toBe("true");
    });

    test("import of JSON lines from a file and from stdin, schema line included", async () => {
      const lines = [
        JSON.stringify({ schema: CLI_SCHEMA }),
        JSON.stringify("document:j1#viewer@user:ann"),
        JSON.stringify({
          relationship: 'document:j2#viewer@user:ben[on_day:{"allowed":"friday"}]',
        }),
        "",
        JSON.stringify({
          relationship: "document:j3#viewer@user:cy[expiration:2300-01-01T00:00:00Z]",
        }),
      ].join("\n");
      const file = join(dir.path, "rels.jsonl");
      writeFileSync(file, lines);
      const fromFile = await target.run(["--json", "import", file]);
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromFile.json()).toMatchObject({ schemaWritten: true, relationships: 3 });
      const fromStdin = await target.run(["--json", "import", "-", "--no-schema"], {
        stdin: `${JSON.stringify("document:j4#owner@user:dee")}\n`,
      });
      expect(fromStdin.json()).toMatchObject({ schemaWritten: false, relationships: 1 });
      expect(await tuplesOf(target, "document")).toEqual([
        "document:j1#viewer@user:ann",
        'document:j2#viewer@user:ben[on_day:{"allowed":"friday"}]',
        "document:j3#viewer@user:cy[expiration:2300-01-01T00:00:00Z]",
        "document:j4#owner@user:dee",
      ]);
      const bad = join(dir.path, "bad.jsonl");
      writeFileSync(bad, '"document:j5#viewer@user:x"\n{"nothing": 1}\n');
      const refused = await target.run(["import", bad]);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`${bad}:2`);
      expect((await target.run(["import", join(dir.path, "missing.yaml")])).code).toBe(2);
    });

    test("backup create then restore reproduces schema and relationships on another server", async () => {
      const file = join(dir.path, "source.backup");
      const made = await source.run(["--json", "backup", "create", file]);
      expect(made.code, made.stderr).toBe(0);
      // The relationship that expired in 2001 no longer exists, so it is not saved.
      expect(made.json()).toMatchObject({ relationships: 17 });
      expect(existsSync(`${file}.partial`)).toBe(false);
      const header = JSON.parse(readFileSync(file, "utf8").split("\n")[0]!);
      expect(header).toMatchObject({ trellisBackup: 1 });
      expect((await source.run(["backup", "create", file])).code).toBe(2);

      const fresh = await startCliServer(kind);
      try {
        const restored = await fresh.run(["--json", "backup", "restore", file]);
        expect(restored.code, restored.stderr).toBe(0);
        expect(restored.json()).toMatchObject({ relationships: 17 });
        for (const type of ["document", "folder", "group", "organization"]) {
          expect(await tuplesOf(fresh, type)).toEqual(await tuplesOf(source, type));
        }
        expect((await fresh.run(["schema", "read"])).stdout).toBe(
          (await source.run(["schema", "read"])).stdout,
        );
        // Over the same data: CREATE fails the restore; touch replaces.
        expect((await fresh.run(["backup", "restore", file])).code).toBe(3);
        const touched = await fresh.run([
          "--json",
          "backup",
          "restore",
          file,
          "--conflict-strategy",
          "touch",
        ]);
        expect(touched.code, touched.stderr).toBe(0);
        expect(touched.json().relationships).toBe(17);
      } finally {
        await fresh.close();
      }
      const notBackup = join(dir.path, "rels.jsonl");
      expect((await source.run(["backup", "restore", notBackup])).code).toBe(3);
      expect((await source.run(["backup", "restore", join(dir.path, "none")])).code).toBe(2);
    });
  });
}
