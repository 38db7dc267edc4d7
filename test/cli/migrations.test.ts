// Schema migrations through a real server on each store: `schema diff` of two files and against
// the server, with the relationships each removal would orphan; `schema apply` (dry run,
// refusal while it would orphan, --yes, a confirmation, none possible); and `relationship
// migrate`, which renames a relation's data in atomic batches and resumes when run again.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { migrateRelationships } from "../../src/cli/relationship-command.js";
import { TrellisClient } from "../../src/sdk/index.js";
import {
  type CliServer,
  startCliServer,
  temporaryDirectory,
  trellis,
} from "../support/cli-harness.js";
import { STORE_KINDS } from "../support/test-stores.js";

const V1 = `definition user {}

definition document {
	relation viewer: user
	relation banned: user
	permission view = viewer - banned
}
`;

/** Step 1 of a rename: the new relation beside the old, the permission reading both. */
const V2 = `definition user {}

definition document {
	relation viewer: user
	relation reader: user
	relation banned: user
	permission view = (viewer + reader) - banned
}
`;

/** Step 2: the old relation gone. */
const V3 = `definition user {}

definition document {
	relation reader: user
	relation banned: user
	permission view = reader - banned
}

definition folder {
	relation owner: user
}
`;

interface Change {
  kind: string;
  target: string;
  orphans?: number;
}

const dir = temporaryDirectory("trellis-cli-migrate-");
const files = {
  v1: join(dir.path, "v1.zed"),
  v2: join(dir.path, "v2.zed"),
  v3: join(dir.path, "v3.zed"),
};
writeFileSync(files.v1, V1);
writeFileSync(files.v2, V2);
writeFileSync(files.v3, V3);
afterAll(() => dir.remove());

describe("schema diff of two files", () => {
  test("lists added, removed and changed members without counting (no server named)", async () => {
    const r = await trellis(["--json", "schema", "diff", files.v1, files.v3]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<{ changes: Change[]; orphans: number | null }>();
    expect(out.orphans).toBeNull();
    expect(out.changes.map((c) => [c.kind, c.target])).toEqual([
      ["MEMBER_ADDED", "document#reader"],
      ["MEMBER_CHANGED", "document#view"],
      ["MEMBER_REMOVED", "document#viewer"],
      ["DEFINITION_ADDED", "folder"],
      ["MEMBER_ADDED", "folder#owner"],
    ]);
    const text = await trellis(["schema", "diff", files.v1, files.v3]);
    expect(text.stdout).toContain("- document#viewer");
    expect(text.stdout).toContain("+ folder");
  });

  test("a schema file that does not compile is exit 3 with FILE:line:col", async () => {
    const bad = join(dir.path, "bad.zed");
    writeFileSync(bad, "definition document {\n\trelation viewer: nobody\n}\n");
    const r = await trellis(["schema", "diff", files.v1, bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:`));
  });
});

for (const kind of STORE_KINDS) {
  describe(`renaming a relation on ${kind}, through a real server`, () => {
    let server: CliServer;
    const viewers = Array.from({ length: 23 }, (_, i) => `document:d${i}#viewer@user:u${i}`);

    beforeAll(async () => {
      server = await startCliServer(kind, {
        schema: V1,
        tuples: [...viewers, "document:d0#banned@user:mallory"],
      });
    });
    afterAll(() => server.close());

    test("diff against the server counts what a removal would orphan", async () => {
      const r = await server.run(["--json", "schema", "diff", files.v3]);
      expect(r.code, r.stderr).toBe(0);
      const out = r.json<{ changes: Change[]; orphans: number }>();
      expect(out.changes.find((c) => c.target === "document#viewer")).toMatchObject({
        kind: "MEMBER_REMOVED",
        orphans: 23,
      });
      expect(out.orphans).toBe(23);
      const text = await server.run(["schema", "diff", files.v3]);
      expect(text.stdout).toContain("would orphan 23 relationships");
      // Two files and a named server: the server's data is counted.
      const both = await server.run(["--json", "schema", "diff", files.v1, files.v3]);
      expect(both.json<{ orphans: number }>().orphans).toBe(23);
    });

    test("apply refuses a schema that would orphan relationships, writing nothing", async () => {
      const r = await server.run(["--json", "schema", "apply", files.v3, "--yes"]);
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stderr.trim().split("\n").pop()!).error.code).toBe("FAILED_PRECONDITION");
      const dry = await server.run(["schema", "apply", files.v3, "--dry-run"]);
      expect(dry.code).toBe(3);
      const read = await server.run(["schema", "read"]);
      expect(read.stdout).not.toContain("reader");
    });

    test("apply without --yes asks; with no one to ask it is a usage error", async () => {
      const nobody = await server.run(["schema", "apply", files.v2]);
      expect(nobody.code).toBe(2);
      const declined = await server.run(["schema", "apply", files.v2], {
        confirm: async () => false,
      });
      expect(declined.code).toBe(1);
      const dry = await server.run(["--json", "schema", "apply", files.v2, "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.json()).toMatchObject({ applied: false, dryRun: true, orphans: 0 });
      let asked = "";
      const accepted = await server.run(["--json", "schema", "apply", files.v2], {
        confirm: async (question) => {
          asked = question;
          return true;
        },
      });
      expect(accepted.code, accepted.stderr).toBe(0);
      expect(asked).toMatch(/apply/);
      expect((await server.run(["schema", "read"])).stdout).toContain("relation reader: user");
      const again = await server.run(["--json", "schema", "apply", files.v2, "--yes"]);
      expect(again.json()).toMatchObject({ applied: false, changes: [] });
    });

    test("migrate moves every relationship, resumes after an interruption, and the schema then applies", async () => {
      const dry = await server.run([
        "--json",
        "relationship",
        "migrate",
        "--from",
        "document#viewer",
        "--to",
        "document#reader",
        "--dry-run",
      ]);
      expect(dry.json()).toEqual({ toMove: 23, dryRun: true });

      // Interrupted after two batches of five: whole batches moved, nothing half-done.
      const client = new TrellisClient({ address: server.address });
      let batches = 0;
      await expect(
        migrateRelationships(client, {
          from: { type: "document", relation: "viewer" },
          to: { type: "document", relation: "reader" },
          batchSize: 5,
          onBatch: () => {
            batches++;
            if (batches === 2) throw new Error("interrupted");
          },
        }),
      ).rejects.toThrow("interrupted");
      await client.close();
      const half = await server.run(["--json", "relationship", "read", "document", "reader"]);
      expect(half.lines()).toHaveLength(10);
      const left = await server.run(["--json", "relationship", "read", "document", "viewer"]);
      expect(left.lines()).toHaveLength(13);
      // Every relationship is on exactly one side meanwhile: access never lapses.
      for (let i = 0; i < 23; i++) {
        const check = await server.run([
          "permission",
          "check",
          `document:d${i}`,
          "view",
          `user:u${i}`,
        ]);
        expect(check.stdout.trim(), `d${i}`).toBe("true");
      }

      const resumed = await server.run([
        "--json",
        "relationship",
        "migrate",
        "--from",
        "document#viewer",
        "--to",
        "document#reader",
        "--batch-size",
        "4",
      ]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.json().moved).toBe(13);
      const readers = (await server.run(["--json", "relationship", "read", "document", "reader"]))
        .lines<{ relationship: string }>()
        .map((l) => l.relationship)
        .sort();
      expect(readers).toEqual(viewers.map((v) => v.replace("#viewer@", "#reader@")).sort());
      expect((await server.run(["relationship", "read", "document", "viewer"])).stdout).toBe("");
      const nothingLeft = await server.run([
        "--json",
        "relationship",
        "migrate",
        "--from",
        "document#viewer",
        "--to",
        "document#reader",
      ]);
      expect(nothingLeft.json().moved).toBe(0);

      const applied = await server.run(["--json", "schema", "apply", files.v3, "--yes"]);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.json()).toMatchObject({ applied: true, orphans: 0 });
      const banned = await server.run([
        "permission",
        "check",
        "document:d0",
        "view",
        "user:mallory",
      ]);
      expect(banned.stdout.trim()).toBe("false");
      expect(
        (await server.run(["permission", "check", "document:d7", "view", "user:u7"])).stdout.trim(),
      ).toBe("true");
    });

    test("migrate refuses ends that are not relations of the server's schema", async () => {
      const same = await server.run([
        "relationship",
        "migrate",
        "--from",
        "document#reader",
        "--to",
        "document#reader",
      ]);
      expect(same.code).toBe(2);
      const permission = await server.run([
        "relationship",
        "migrate",
        "--from",
        "document#reader",
        "--to",
        "document#view",
      ]);
      expect(permission.code).toBe(2);
      const unknown = await server.run([
        "relationship",
        "migrate",
        "--from",
        "document#nope",
        "--to",
        "document#reader",
      ]);
      expect(unknown.code).toBe(2);
      const malformed = await server.run([
        "relationship",
        "migrate",
        "--from",
        "document",
        "--to",
        "document#reader",
      ]);
      expect(malformed.code).toBe(2);
    });
  });
}
