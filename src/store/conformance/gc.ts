/** Garbage collection of history older than a window, and its boundaries. */
import { expect, it } from "vitest";
import type { OpenFixture } from "./fixture.js";
import { collect, create, everything, expectCode, keys, remove, touch } from "./tuple-fixtures.js";

const T0 = Date.UTC(2030, 0, 1);

export function gcTests(open: OpenFixture): void {
  /** r1 at T0, r2 at T0+10s, r3 at T0+20s, r4 (schema) at T0+25s; now T0+30s. */
  async function history() {
    const fixture = await open();
    const { store, tenant, clock } = fixture;
    clock.set(T0);
    await store.writeSchema(tenant, "v1");
    await store.write(tenant, [create("doc:a#viewer@user:alice"), create("doc:b#viewer@user:bob")]);
    clock.set(T0 + 10_000);
    await store.write(tenant, [
      remove("doc:a#viewer@user:alice"),
      touch("doc:b#viewer@user:bob[cav]"),
    ]);
    clock.set(T0 + 20_000);
    await store.write(tenant, [create("doc:c#viewer@user:carol")]);
    clock.set(T0 + 25_000);
    await store.writeSchema(tenant, "v2");
    clock.set(T0 + 30_000);
    return fixture;
  }
  // Revisions: 1 schema v1 (T0), 2 write (T0), 3 write (T0+10s), 4 write (T0+20s), 5 schema v2.

  it("removes nothing while every revision is inside the window", async () => {
    const { store, tenant } = await history();
    expect(await store.gc(60_000)).toEqual({
      tenants: 0,
      relationships: 0,
      revisions: 0,
      schemas: 0,
    });
    expect(keys(await everything(store, tenant, 2))).toEqual([
      "doc:a#viewer@user:alice",
      "doc:b#viewer@user:bob",
    ]);
    expect(await store.changesSince(tenant, 0, 100)).toHaveLength(7);
  });

  it("keeps the newest revision older than the window readable and refuses older ones", async () => {
    const { store, tenant } = await history();
    const before = await everything(store, tenant, 3);
    // The window starts at T0+15s: revision 3 (T0+10s) was head when it opened.
    const result = await store.gc(15_000);
    expect(result.tenants).toBe(1);
    // The row ended at revision 3 (alice) and the replaced row of bob.
    expect(result.relationships).toBe(2);
    expect(result.revisions).toBe(2);
    const err = await expectCode(everything(store, tenant, 2), "FAILED_PRECONDITION");
    expect(err.field).toBe("revision");
    await expectCode(
      store.readByResource(tenant, 1, { type: "doc", id: "a", relation: "viewer" }),
      "FAILED_PRECONDITION",
    );
    await expectCode(store.readSchema(tenant, 2), "FAILED_PRECONDITION");
    expect(await everything(store, tenant, 3)).toEqual(before);
    expect(keys(await everything(store, tenant, 4))).toEqual([
      "doc:b#viewer@user:bob",
      "doc:c#viewer@user:carol",
    ]);
    expect(await store.readSchema(tenant, 3)).toEqual({ text: "v1", revision: 1 });
    expect(await store.readSchema(tenant, 5)).toEqual({ text: "v2", revision: 5 });
  });

  it("treats a revision committed exactly at the window's start as inside the window", async () => {
    const { store, tenant } = await history();
    // The window starts at T0+10s, when revision 3 committed: revision 2 is the horizon.
    await store.gc(20_000);
    await expectCode(everything(store, tenant, 1), "FAILED_PRECONDITION");
    expect(await everything(store, tenant, 2)).toHaveLength(2);
  });

  it("keeps the changelog complete after the horizon and refuses it before", async () => {
    const { store, tenant } = await history();
    const after3 = await store.changesSince(tenant, 3, 100);
    await store.gc(15_000);
    await expectCode(store.changesSince(tenant, 2, 100), "FAILED_PRECONDITION");
    expect(await store.changesSince(tenant, 3, 100)).toEqual(after3);
  });

  it("fails an export of a collected revision with FAILED_PRECONDITION", async () => {
    const { store, tenant } = await history();
    await store.gc(1);
    await expectCode(collect(store.export(tenant, 4)), "FAILED_PRECONDITION");
    expect(await everything(store, tenant, 5)).toHaveLength(2);
  });

  it("never lets optimizedRevision answer below the oldest readable revision", async () => {
    const { store, tenant, clock } = await history();
    await store.gc(1);
    clock.set(T0 + 30_000);
    expect(await store.optimizedRevision(tenant, 3_600_000)).toBe(5);
  });

  it("removes expired tuples created before the horizon", async () => {
    const { store, tenant, clock } = await open();
    clock.set(T0);
    await store.write(tenant, [
      create("doc:a#viewer@user:alice[expiration:2030-01-01T00:00:05Z]"),
      create("doc:b#viewer@user:alice"),
    ]);
    clock.set(T0 + 60_000);
    await store.write(tenant, [create("doc:c#viewer@user:alice[expiration:2030-01-01T00:00:05Z]")]);
    const result = await store.gc(30_000);
    expect(result.relationships).toBe(1);
    expect(keys(await everything(store, tenant))).toEqual(["doc:b#viewer@user:alice"]);
    // The row gc removed does not come back or block a new CREATE.
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
  });

  it("moves each tenant's horizon by its own commit times", async () => {
    const { store, tenant, clock } = await open();
    await store.createTenant("quiet");
    clock.set(T0);
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    await store.write(tenant, [remove("doc:a#viewer@user:alice")]);
    clock.set(T0 + 60_000);
    await store.write("quiet", [create("doc:a#viewer@user:alice")]);
    await store.write("quiet", [remove("doc:a#viewer@user:alice")]);
    const result = await store.gc(30_000);
    expect(result).toEqual({ tenants: 1, relationships: 1, revisions: 1, schemas: 0 });
    await expectCode(everything(store, tenant, 1), "FAILED_PRECONDITION");
    expect(await everything(store, "quiet", 1)).toHaveLength(1);
    expect(await store.gc(30_000)).toEqual({
      tenants: 0,
      relationships: 0,
      revisions: 0,
      schemas: 0,
    });
  });

  it("rejects a negative window with INVALID_ARGUMENT", async () => {
    const { store } = await open();
    await expectCode(store.gc(-1), "INVALID_ARGUMENT");
  });
}
