// The store is the source of truth: what the engine answers when its index does not hold a
// revision, while a tenant loads, under a memory budget, with garbage collection, and when the
// store fails.
import { afterEach, describe, expect, test } from "vitest";
import { type EngineFixture, engineFixture } from "../../test/support/engine-fixture.js";
import { ManualClock } from "../../test/support/manual-clock.js";
import { openTestStore, STORE_KINDS } from "../../test/support/test-stores.js";
import { parseObjectRef, parseRelationship, parseSubjectRef } from "../core/relationship.js";
import type { Consistency } from "../core/revision.js";
import type { Datastore } from "../store/datastore.js";
import { Engine, type EngineOptions } from "./engine.js";

const SCHEMA = `
definition user {}
definition group {
  relation member: user | group#member
}
definition doc {
  relation viewer: user | group#member
  relation banned: user
  permission view = viewer - banned
}`;

const SECRET = "store-backed-test-secret-0123456789";

const fixtures: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0).reverse()) await f.close();
});

async function setup(
  tuples: string[],
  options: {
    kind?: (typeof STORE_KINDS)[number];
    clock?: ManualClock;
    engine?: Partial<EngineOptions>;
  } = {},
): Promise<EngineFixture> {
  const f = await engineFixture(SCHEMA, tuples, options);
  fixtures.push(f);
  return f;
}

function engineOn(store: Datastore, options: Partial<EngineOptions> = {}): Engine {
  const engine = new Engine(store, { zookieSecret: SECRET, ...options });
  fixtures.push(engine);
  return engine;
}

async function permission(
  engine: Engine,
  tenant: string,
  assertion: string,
  consistency: Consistency = "fully_consistent",
): Promise<string> {
  const [head, subject] = assertion.split("@") as [string, string];
  const hash = head.indexOf("#");
  const res = await engine.check(tenant, {
    resource: parseObjectRef(head.slice(0, hash)),
    permission: head.slice(hash + 1),
    subject: parseSubjectRef(subject),
    consistency,
  });
  return res.permissionship;
}

const rel = (s: string) => parseRelationship(s);

for (const kind of STORE_KINDS) {
  describe(`on ${kind}`, () => {
    test("a second engine answers a snapshot from before it started, from the store", async () => {
      const f = await setup(["group:eng#member@user:alice", "doc:d#viewer@group:eng#member"], {
        kind,
        engine: { zookieSecret: SECRET },
      });
      const before = await f.write("doc:d#banned@user:bob");
      await f.engine.writeRelationships(f.tenant, [
        { op: "DELETE", relationship: rel("group:eng#member@user:alice") },
        { op: "TOUCH", relationship: rel("doc:d#viewer@user:bob") },
      ]);
      const replica = engineOn(f.store);
      // The replica loads the head; the older snapshot is read from the store.
      expect(await permission(replica, f.tenant, "doc:d#view@user:alice")).toBe("DENIED");
      await replica.mirror(f.tenant);
      const at = { atExactSnapshot: before };
      expect(await permission(replica, f.tenant, "doc:d#view@user:alice", at)).toBe("ALLOWED");
      expect(await permission(replica, f.tenant, "doc:d#view@user:bob", at)).toBe("DENIED");
      expect(replica.indexStats().storeReads).toBeGreaterThan(0);
      // The same snapshot, paged through ListObjects, agrees.
      const page = await replica.listObjects(f.tenant, {
        resourceType: "doc",
        permission: "view",
        subject: parseSubjectRef("user:alice"),
        consistency: at,
      });
      expect(page.objects.map((o) => o.id)).toEqual(["d"]);
    });

    test("with no index at all, every answer comes from the store and agrees", async () => {
      const f = await setup(
        [
          "group:eng#member@group:ops#member",
          "group:ops#member@user:carol",
          "doc:d#viewer@group:eng#member",
          "doc:d#banned@user:dave",
          "group:ops#member@user:dave",
        ],
        { kind },
      );
      const fromStore = engineOn(f.store, { indexTenants: false });
      for (const [who, expected] of [
        ["user:carol", "ALLOWED"],
        ["user:dave", "DENIED"],
        ["user:erin", "DENIED"],
      ] as const) {
        expect(await permission(fromStore, f.tenant, `doc:d#view@${who}`)).toBe(expected);
        expect(await permission(f.engine, f.tenant, `doc:d#view@${who}`)).toBe(expected);
      }
      const subjects = await fromStore.listSubjects(f.tenant, {
        resource: parseObjectRef("doc:d"),
        permission: "view",
        subjectType: "user",
      });
      expect(subjects.subjects.map((s) => s.id)).toEqual(["carol"]);
      expect(fromStore.indexStats().tenants.size).toBe(0);
    });
  });
}

describe("while a tenant's index loads", () => {
  test("reads are answered from the store, not held until the load ends", async () => {
    const f = await setup(["doc:d#viewer@user:alice"]);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The same store, with its sequential scan held until the test releases it.
    const heldExport: Datastore["export"] = (tenant, revision) => ({
      async *[Symbol.asyncIterator]() {
        await gate;
        yield* f.store.export(tenant, revision);
      },
    });
    const held = new Proxy(f.store, {
      get(target, name) {
        if (name === "export") return heldExport;
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const engine = engineOn(held);
    expect(await permission(engine, f.tenant, "doc:d#view@user:alice", "minimize_latency")).toBe(
      "ALLOWED",
    );
    expect(engine.indexStats().tenants.size).toBe(0);
    expect(engine.indexStats().storeReads).toBeGreaterThan(0);
    release();
    await engine.mirror(f.tenant);
    expect(engine.indexStats().tenants.size).toBe(1);
    expect(await permission(engine, f.tenant, "doc:d#view@user:alice")).toBe("ALLOWED");
  });
});

describe("the memory budget", () => {
  test("evicts the least recently used tenant and answers it from the store", async () => {
    const t = await openTestStore("sqlite");
    fixtures.push(t);
    const writer = engineOn(t.store);
    for (const tenant of ["one", "two"]) {
      await t.store.createTenant(tenant);
      await writer.writeSchema(tenant, SCHEMA);
      await writer.writeRelationships(
        tenant,
        Array.from({ length: 300 }, (_, i) => ({
          op: "TOUCH" as const,
          relationship: rel(`doc:d${i}#viewer@user:u${i}`),
        })),
      );
    }
    const probe = engineOn(t.store);
    const oneBytes = (await probe.mirror("one")).index!.bytes;
    // Room for one tenant, not for two.
    const engine = engineOn(t.store, { memoryBudgetBytes: Math.ceil(oneBytes * 1.5) });
    await engine.mirror("one");
    await engine.mirror("two");
    const stats = engine.indexStats();
    expect(stats.evictions).toBe(1);
    expect([...stats.tenants.keys()]).toEqual(["two"]);
    expect(stats.bytes).toBeLessThanOrEqual(stats.budgetBytes);
    expect(await permission(engine, "one", "doc:d7#view@user:u7")).toBe("ALLOWED");
    expect(await permission(engine, "one", "doc:d7#view@user:u8")).toBe("DENIED");
  });

  test("never loads a tenant larger than the whole budget, and still answers it", async () => {
    const f = await setup(Array.from({ length: 200 }, (_, i) => `doc:d${i}#viewer@user:u${i}`));
    const engine = engineOn(f.store, { memoryBudgetBytes: 2048 });
    await expect(engine.mirror(f.tenant)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(await permission(engine, f.tenant, "doc:d5#view@user:u5")).toBe("ALLOWED");
    expect(await permission(engine, f.tenant, "doc:d5#view@user:u6")).toBe("DENIED");
    expect(engine.indexStats().tenants.size).toBe(0);
    // Refused for a while: no second load is attempted.
    await expect(engine.mirror(f.tenant)).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("garbage collection", () => {
  test("runs on its schedule and removes history older than the window", async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const f = await setup(["doc:d#viewer@user:alice"], { clock });
    // Each TOUCH replaces the version before it: five versions to collect.
    for (let i = 0; i < 5; i++) await f.write("doc:d#viewer@user:alice");
    clock.advance(2 * 60 * 60 * 1000);
    await f.write("doc:d#viewer@user:bob");
    let reported: (value: { removed: number; err: unknown }) => void = () => {};
    const ran = new Promise<{ removed: number; err: unknown }>((resolve) => {
      reported = resolve;
    });
    const engine = engineOn(f.store, {
      clock,
      gc: { windowMs: 60 * 60 * 1000, intervalMs: 5 },
      onGc: (result, _ms, err) => reported({ removed: result?.relationships ?? 0, err }),
    });
    const { removed, err } = await ran;
    expect(err).toBeUndefined();
    expect(removed).toBe(5);
    expect(engine.gcStats().runs).toBeGreaterThanOrEqual(1);
    expect(await permission(engine, f.tenant, "doc:d#view@user:alice")).toBe("ALLOWED");
  });
});

describe("a failing store", () => {
  test("makes a request that waits for freshness fail with UNAVAILABLE, not a timeout", async () => {
    const t = await openTestStore("sqlite");
    const writer = engineOn(t.store);
    await t.store.createTenant("acme");
    await writer.writeSchema("acme", SCHEMA);
    const engine = engineOn(t.store, { catchUpTimeoutMs: 60_000 });
    await engine.mirror("acme");
    // A write the engine has not applied yet, then the store goes away.
    const fresh = (
      await writer.writeRelationships("acme", [
        { op: "TOUCH", relationship: rel("doc:d#viewer@user:alice") },
      ])
    ).zookie;
    await t.close();
    await expect(
      permission(engine, "acme", "doc:d#view@user:alice", { atLeastAsFresh: fresh }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
