/**
 * The embedded `Trellis` end to end on a real SQLite file: the shared scenarios, then what only
 * an in-process instance does (reopening its file, presets, options, closing).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Trellis } from "../../src/index.js";
import { collect, describeTrellisApi, expectCode, SCENARIO_SCHEMA } from "./api-scenarios.js";

const SECRET = "embedded-test-zookie-secret-0123";

const dirs: string[] = [];
function tempDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), "trellis-embedded-"));
  dirs.push(dir);
  return `sqlite:${join(dir, "trellis.db")}`;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeTrellisApi("embedded Trellis", async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-embedded-"));
  const api = await Trellis.open({ datastore: `sqlite:${join(dir, "trellis.db")}` });
  return {
    api,
    close: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("embedded Trellis on its own", () => {
  test("finds its data and honours its zookies after reopening the same file", async () => {
    const datastore = tempDatabase();
    const first = await Trellis.open({ datastore, zookieSecret: SECRET });
    await first.writeSchema(SCENARIO_SCHEMA);
    const { zookie } = await first.writeRelationships(["document:keep#owner@user:vera"]);
    await first.close();

    const again = await Trellis.open({ datastore, zookieSecret: SECRET });
    try {
      expect((await again.readSchema()).schema).toBe(SCENARIO_SCHEMA);
      const answer = await again.check("document:keep", "edit", "user:vera", {
        consistency: { atLeastAsFresh: zookie },
      });
      expect(answer.permissionship).toBe("ALLOWED");
      expect(again.lastZookie).toBeUndefined();
    } finally {
      await again.close();
    }
  });

  test("adopts the zookie secret earlier versions kept beside a SQLite file", async () => {
    const datastore = tempDatabase();
    const path = datastore.slice("sqlite:".length);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(join(dirname(path), "zookie.secret"), `${SECRET}\n`, { mode: 0o600 });
    const legacy = await Trellis.open({ datastore });
    let zookie: string;
    try {
      ({ zookie } = await legacy.writeSchema(SCENARIO_SCHEMA));
    } finally {
      await legacy.close();
    }
    const withFlag = await Trellis.open({ datastore, zookieSecret: SECRET });
    try {
      const { schema } = await withFlag.readSchema({ consistency: { atExactSnapshot: zookie } });
      expect(schema).toBe(SCENARIO_SCHEMA);
    } finally {
      await withFlag.close();
    }
  });

  test("keeps a generated zookie secret in the datastore, so zookies outlive a reopen", async () => {
    const datastore = tempDatabase();
    const first = await Trellis.open({ datastore });
    const { zookie } = await first.writeSchema(SCENARIO_SCHEMA);
    await first.close();
    const again = await Trellis.open({ datastore });
    try {
      const { schema } = await again.readSchema({ consistency: { atExactSnapshot: zookie } });
      expect(schema).toBe(SCENARIO_SCHEMA);
    } finally {
      await again.close();
    }
    // A secret kept by earlier versions beside the file would not replace the stored one.
    writeFileSync(join(dirname(datastore.slice("sqlite:".length)), "zookie.secret"), `${SECRET}\n`);
    const reopened = await Trellis.open({ datastore });
    try {
      const { schema } = await reopened.readSchema({ consistency: { atExactSnapshot: zookie } });
      expect(schema).toBe(SCENARIO_SCHEMA);
    } finally {
      await reopened.close();
    }
    const otherSecret = await Trellis.open({ datastore, zookieSecret: SECRET });
    try {
      await expectCode(
        otherSecret.readSchema({ consistency: { atExactSnapshot: zookie } }),
        "INVALID_ARGUMENT",
      );
    } finally {
      await otherSecret.close();
    }
  });

  test("acts on the tenant it is opened for, creating it, apart from the others", async () => {
    const datastore = tempDatabase();
    const acme = await Trellis.open({ datastore, tenant: "acme", zookieSecret: SECRET });
    await acme.writeSchema(SCENARIO_SCHEMA);
    await acme.writeRelationships(["document:1#owner@user:wes"]);
    await acme.close();
    const other = await Trellis.open({ datastore, tenant: "globex", zookieSecret: SECRET });
    try {
      expect(other.tenant).toBe("globex");
      await expectCode(other.readSchema(), "NOT_FOUND");
      expect(await other.engine.store.listTenants()).toEqual(["acme", "globex"]);
    } finally {
      await other.close();
    }
  });

  test("writes a preset schema into an empty tenant and keeps an existing one", async () => {
    const datastore = tempDatabase();
    const fresh = await Trellis.open({ datastore, preset: "docs" });
    const { schema } = await fresh.readSchema();
    expect(schema).toContain("definition folder");
    expect(fresh.lastZookie).toBeDefined();
    await fresh.writeSchema(SCENARIO_SCHEMA);
    await fresh.close();
    const reopened = await Trellis.open({ datastore, preset: "rbac" });
    try {
      expect((await reopened.readSchema()).schema).toBe(SCENARIO_SCHEMA);
    } finally {
      await reopened.close();
    }
  });

  test("streams the changes of later writes to a watcher started from now", async () => {
    const trellis = await Trellis.open({ datastore: tempDatabase() });
    try {
      await trellis.writeSchema(SCENARIO_SCHEMA);
      const watch = trellis.watch();
      const first = watch.next();
      // A write that changes nothing takes a revision without a changelog entry.
      await trellis.deleteRelationships({ resourceType: "document", resourceId: "none" });
      await trellis.writeRelationships(["document:n1#viewer@user:xia"]);
      const event = await first;
      expect(event.done).toBe(false);
      expect(event.value).toMatchObject({
        zookie: trellis.lastZookie,
        schemaChanged: false,
        changes: [{ op: "TOUCH", relationship: { subject: { type: "user", id: "xia" } } }],
      });
      await watch.return(undefined);
    } finally {
      await trellis.close();
    }
  });

  test("ends a watch with CANCELLED when its signal aborts", async () => {
    const trellis = await Trellis.open({ datastore: tempDatabase() });
    try {
      const { zookie } = await trellis.writeSchema(SCENARIO_SCHEMA);
      const abort = new AbortController();
      const watch = trellis.watch({ after: zookie, signal: abort.signal });
      // Aborted while the watch is running: it has streamed a write and waits for the next.
      const first = watch.next();
      await trellis.writeRelationships(["document:n1#viewer@user:xia"]);
      expect((await first).done).toBe(false);
      const next = watch.next();
      abort.abort();
      await expectCode(next, "CANCELLED");
    } finally {
      await trellis.close();
    }
  });

  test("refuses unknown or malformed options with a TypeError", async () => {
    await expect(
      Trellis.open({ datastore: tempDatabase(), colour: "red" } as never),
    ).rejects.toThrow(TypeError);
    await expect(
      Trellis.open({ datastore: tempDatabase(), preset: "nope" as never }),
    ).rejects.toThrow(TypeError);
    await expect(Trellis.open({ datastore: "mysql://x" })).rejects.toThrow(TypeError);
    await expect(
      Trellis.open({ datastore: tempDatabase(), zookieSecret: "short" }),
    ).rejects.toThrow(TypeError);
  });

  test("answers every call with UNAVAILABLE once closed, and closes twice quietly", async () => {
    const trellis = await Trellis.open({ datastore: tempDatabase() });
    await trellis.close();
    await trellis.close();
    await expectCode(trellis.check("document:1", "view", "user:a"), "UNAVAILABLE");
    await expectCode(trellis.writeSchema(SCENARIO_SCHEMA), "UNAVAILABLE");
    await expectCode(collect(trellis.listObjects("document", "view", "user:a")), "UNAVAILABLE");
  });
});
