// zed's verbs through `trellis` against a real server over each store engine: schema read and
// write, relationship create|touch|delete|read|bulk-delete, permission check (with context,
// consistency flags, --explain) and the lookups, with exit codes and parsed --json output.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  CLI_SCHEMA,
  type CliServer,
  startCliServer,
  temporaryDirectory,
} from "../support/cli-harness.js";
import { STORE_KINDS } from "../support/test-stores.js";

for (const kind of STORE_KINDS) {
  describe(`trellis against a server on ${kind}`, () => {
    let server: CliServer;
    const dir = temporaryDirectory("trellis-cli-remote-");

    beforeAll(async () => {
      server = await startCliServer(kind);
    });
    afterAll(async () => {
      await server.close();
      dir.remove();
    });

    test("schema write prints a zookie and schema read gives the text back", async () => {
      const { writeFileSync } = await import("node:fs");
      const file = `${dir.path}/schema.zed`;
      writeFileSync(file, CLI_SCHEMA);
      const wrote = await server.run(["--json", "schema", "write", file]);
      expect(wrote.code, wrote.stderr).toBe(0);
      expect(wrote.json().zookie).toMatch(/\S/);
      const read = await server.run(["--json", "schema", "read"]);
      expect(read.code).toBe(0);
      expect(read.json<{ schema: string }>().schema).toContain("caveat on_day");
      const text = await server.run(["schema", "read"]);
      expect(text.stdout).toContain("definition document");
    });

    test("relationship create writes once and refuses a second CREATE (exit 3); touch repeats harmlessly", async () => {
      const created = await server.run([
        "relationship",
        "create",
        "folder:handbook",
        "viewer",
        "group:eng#member",
      ]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout.trim()).toMatch(/\S/);
      const again = await server.run([
        "relationship",
        "create",
        "folder:handbook#viewer@group:eng#member",
      ]);
      expect(again.code).toBe(3);
      for (let i = 0; i < 2; i++) {
        const touched = await server.run([
          "relationship",
          "touch",
          "document:readme",
          "folder",
          "folder:handbook",
        ]);
        expect(touched.code, touched.stderr).toBe(0);
      }
      expect(
        (await server.run(["relationship", "touch", "group:eng#member@user:alice"])).code,
      ).toBe(0);
    });

    test("tuples piped on stdin are written in batches", async () => {
      const lines = Array.from({ length: 7 }, (_, i) => `document:doc${i}#owner@user:piper`);
      const r = await server.run(["--json", "relationship", "touch", "--batch-size", "3"], {
        stdin: `${lines.join("\n")}\n// a comment\n\n`,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().written).toBe(7);
      const bad = await server.run(["relationship", "touch"], { stdin: "not a tuple\n" });
      expect(bad.code).toBe(3);
    });

    test("permission check answers true, false and caveated; exits 1 only with --error-on-no-permission", async () => {
      const allowed = await server.run([
        "permission",
        "check",
        "document:readme",
        "view",
        "user:alice",
      ]);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout.trim()).toBe("true");
      const denied = await server.run([
        "permission",
        "check",
        "document:readme",
        "view",
        "user:bob",
      ]);
      expect(denied.code).toBe(0);
      expect(denied.stdout.trim()).toBe("false");
      const strict = await server.run([
        "permission",
        "check",
        "document:readme",
        "view",
        "user:bob",
        "--error-on-no-permission",
      ]);
      expect(strict.code).toBe(1);

      await server.run([
        "relationship",
        "touch",
        "document:readme",
        "viewer",
        "user:carol",
        "--caveat",
        'on_day:{"allowed":"monday"}',
      ]);
      const caveated = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "view",
        "user:carol",
      ]);
      expect(caveated.json()).toMatchObject({
        permissionship: "CONDITIONAL",
        missingContext: ["day"],
      });
      const monday = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "view",
        "user:carol",
        "--caveat-context",
        '{"day":"monday"}',
      ]);
      expect(monday.json().permissionship).toBe("ALLOWED");
      const tuesday = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "view",
        "user:carol",
        "--context",
        '{"day":"tuesday"}',
      ]);
      expect(tuesday.json().permissionship).toBe("DENIED");
    });

    test("--explain shows the arrow, the userset and the relationship that granted", async () => {
      const r = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "view",
        "user:alice",
        "--explain",
      ]);
      expect(r.code, r.stderr).toBe(0);
      const out = r.json<{ durationMs: number; trace: Record<string, unknown> }>();
      expect(out.durationMs).toBeGreaterThan(0);
      const steps: Record<string, unknown>[] = [];
      const walk = (s: Record<string, unknown>) => {
        steps.push(s);
        for (const c of s.children as Record<string, unknown>[]) walk(c);
      };
      walk(out.trace);
      const viaFolder = steps.find(
        (s) => s.resource === "folder:handbook" && s.relation === "view",
      );
      // The first check at this revision (the writes above made a new one): nothing cached.
      expect(out.trace.cached).toBeUndefined();
      expect(viaFolder?.via).toBe("arrow folder->view");
      const member = steps.find((s) => s.resource === "group:eng" && s.relation === "member");
      expect(member?.via).toBe("folder:handbook#viewer@group:eng#member");
      expect(member?.relationships).toEqual(["group:eng#member@user:alice"]);
      const text = await server.run([
        "permission",
        "check",
        "document:readme",
        "view",
        "user:dave",
        "--explain",
      ]);
      expect(text.stdout.split("\n")[0]).toBe("false");
      expect(text.stdout).toContain("document:readme#view");
    });

    test("the consistency flags: at most one; a zookie from a write is honoured", async () => {
      const both = await server.run([
        "permission",
        "check",
        "document:readme",
        "view",
        "user:alice",
        "--consistency-full",
        "--consistency-min-latency",
      ]);
      expect(both.code).toBe(2);
      const wrote = await server.run([
        "--json",
        "relationship",
        "touch",
        "document:fresh#owner@user:zoe",
      ]);
      const zookie = wrote.json<{ zookie: string }>().zookie;
      const fresh = await server.run([
        "permission",
        "check",
        "document:fresh",
        "view",
        "user:zoe",
        "--consistency-at-least",
        zookie,
      ]);
      expect(fresh.stdout.trim()).toBe("true");
      const exact = await server.run([
        "permission",
        "check",
        "document:fresh",
        "view",
        "user:zoe",
        "--consistency-at-exactly",
        zookie,
      ]);
      expect(exact.stdout.trim()).toBe("true");
      const forged = await server.run([
        "permission",
        "check",
        "document:fresh",
        "view",
        "user:zoe",
        "--consistency-at-least",
        "not-a-zookie",
      ]);
      expect(forged.code).toBe(3);
    });

    test("lookup-resources prints ids, lookup-subjects type:id, and --json one object a line", async () => {
      const resources = await server.run([
        "permission",
        "lookup-resources",
        "document",
        "view",
        "user:alice",
      ]);
      expect(resources.code, resources.stderr).toBe(0);
      expect(resources.stdout.split("\n")).toContain("readme");
      const subjects = await server.run([
        "--json",
        "permission",
        "lookup-subjects",
        "document:readme",
        "view",
        "user",
      ]);
      const listed = subjects.lines<{ subject: string; permissionship: string }>();
      expect(listed.filter((l) => l.permissionship === "ALLOWED").map((l) => l.subject)).toContain(
        "user:alice",
      );
      expect(listed.find((l) => l.subject === "user:carol")?.permissionship).toBe("CONDITIONAL");
      const expand = await server.run([
        "--json",
        "permission",
        "expand",
        "view",
        "document:readme",
      ]);
      expect(expand.json<{ tree: { kind: string } }>().tree.kind).toBe("exclusion");
    });

    test("permission bulk answers each item, an error per item", async () => {
      const r = await server.run([
        "--json",
        "permission",
        "bulk",
        "document:readme#view@user:alice",
        "document:readme#view@user:nobody",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines().map((l) => l.permissionship)).toEqual(["ALLOWED", "DENIED"]);
    });

    test("relationship read filters by zed's words; delete removes", async () => {
      const all = await server.run(["--json", "relationship", "read", "document", "owner"]);
      const tuples = all.lines<{ relationship: string }>().map((l) => l.relationship);
      expect(tuples).toContain("document:doc0#owner@user:piper");
      const one = await server.run([
        "relationship",
        "read",
        "document:doc3",
        "owner",
        "user:piper",
      ]);
      expect(one.stdout).toBe("document:doc3#owner@user:piper\n");
      const usersets = await server.run([
        "relationship",
        "read",
        "folder",
        "viewer",
        "group#member",
      ]);
      expect(usersets.stdout).toBe("folder:handbook#viewer@group:eng#member\n");
      expect(
        (await server.run(["relationship", "delete", "document:doc3", "owner", "user:piper"])).code,
      ).toBe(0);
      const gone = await server.run(["relationship", "read", "document:doc3"]);
      expect(gone.stdout).toBe("");
      const malformed = await server.run(["relationship", "read", "document:"]);
      expect(malformed.code).toBe(2);
    });

    test("bulk-delete refuses more than its limit without --force, then deletes in batches", async () => {
      const refused = await server.run([
        "relationship",
        "bulk-delete",
        "document",
        "owner",
        "--optional-limit",
        "2",
      ]);
      expect(refused.code).toBe(2);
      const forced = await server.run([
        "--json",
        "relationship",
        "bulk-delete",
        "document",
        "owner",
        "user:piper",
        "--optional-limit",
        "2",
        "--force",
      ]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.json().deleted).toBe(6);
      const left = await server.run(["relationship", "read", "document", "owner", "user:piper"]);
      expect(left.stdout).toBe("");
    });

    test("usage mistakes exit 2 with one line, and --json errors are a JSON line", async () => {
      const missing = await server.run(["permission", "check", "document:readme", "view"]);
      expect(missing.code).toBe(2);
      const badName = await server.run([
        "permission",
        "check",
        "document:readme",
        "View",
        "user:x",
      ]);
      expect(badName.code).toBe(2);
      expect(badName.stderr.trim().split("\n")).toHaveLength(1);
      const badJson = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "view",
        "user:x",
        "--caveat-context",
        "{nope",
      ]);
      expect(badJson.code).toBe(2);
      expect(JSON.parse(badJson.stderr)).toMatchObject({ error: { code: "USAGE", exitCode: 2 } });
      const unknown = await server.run([
        "--json",
        "permission",
        "check",
        "document:readme",
        "nope",
        "user:x",
      ]);
      expect(unknown.code).toBe(3);
      expect(JSON.parse(unknown.stderr).error.code).toBe("FAILED_PRECONDITION");
    });
  });
}

describe("trellis reaching no server or the wrong credentials", () => {
  test("a closed port is exit 4, naming the endpoint", async () => {
    const { createServer } = await import("node:net");
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as { port: number };
    try {
      const { trellis } = await import("../support/cli-harness.js");
      const r = await trellis(["--endpoint", `127.0.0.1:${port}`, "schema", "read"]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  test("an authenticated server refuses a missing or bad token with exit 5 and serves a good one", async () => {
    const server = await startCliServer("sqlite", { schema: CLI_SCHEMA, authenticated: true });
    try {
      expect((await server.run(["schema", "read"])).code).toBe(5);
      expect(
        (await server.run(["schema", "read"], { token: "trls_0000000000000000_nope" })).code,
      ).toBe(5);
      const { ApiKeys } = await import("../../src/auth/index.js");
      const { systemClock } = await import("../../src/core/clock.js");
      const key = await new ApiKeys(server.store, { clock: systemClock }).create({
        tenant: "default",
        scopes: ["read", "check"],
      });
      const ok = await server.run(["schema", "read"], { token: key.token });
      expect(ok.code, ok.stderr).toBe(0);
      const viaEnv = await server.run(["schema", "read"], { env: { TRELLIS_TOKEN: key.token } });
      expect(viaEnv.code).toBe(0);
      const noScope = await server.run(["relationship", "touch", "document:x#owner@user:y"], {
        token: key.token,
      });
      expect(noScope.code).toBe(5);
    } finally {
      await server.close();
    }
  });
});

describe("keys and tenants through a server's AdminService (--endpoint)", () => {
  test("an operator creates a tenant and a key for it, lists and revokes it", async () => {
    const server = await startCliServer("sqlite", { schema: CLI_SCHEMA, authenticated: true });
    try {
      const { ApiKeys } = await import("../../src/auth/index.js");
      const { systemClock } = await import("../../src/core/clock.js");
      const operator = await new ApiKeys(server.store, { clock: systemClock }).create({
        tenant: "default",
        scopes: ["admin", "check", "read"],
      });
      const run = (args: string[]) => server.run(args, { token: operator.token });
      expect((await run(["tenants", "create", "acme"])).code).toBe(0);
      expect((await run(["tenants", "create", "acme"])).code).toBe(3);
      expect((await run(["--json", "tenants", "list"])).lines()).toEqual([
        { tenant: "acme" },
        { tenant: "default" },
      ]);
      const created = await run([
        "--json",
        "keys",
        "create",
        "--tenant",
        "acme",
        "--scopes",
        "check",
        "--description",
        "ci",
      ]);
      expect(created.code, created.stderr).toBe(0);
      const { key, token } = created.json<{ key: { id: string }; token: string }>();
      expect(token).toMatch(new RegExp(`^trls_${key.id}_`));
      const listed = (await run(["--json", "keys", "list", "--tenant", "acme"])).lines();
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ id: key.id, tenant: "acme", description: "ci" });
      expect(JSON.stringify(listed)).not.toContain(token);
      const revoked = await run(["--json", "keys", "revoke", key.id]);
      expect(revoked.json().revokedAt).toMatch(/^\d{4}-/);
      expect((await run(["keys", "revoke", "0000000000000000"])).code).toBe(3);
      // Without a token the server refuses: the AdminService path, not the datastore's.
      expect((await server.run(["tenants", "list"])).code).toBe(5);
    } finally {
      await server.close();
    }
  });
});
