/** Tenant management, unknown tenants and the closed store. */
import { expect, it } from "vitest";
import type { Datastore } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { collect, create, expectCode, rel } from "./tuple-fixtures.js";

/** One call of every per-tenant method, for the NOT_FOUND and UNAVAILABLE sweeps. */
const PER_TENANT_CALLS: Record<string, (store: Datastore, tenant: string) => Promise<unknown>> = {
  headRevision: (s, t) => s.headRevision(t),
  optimizedRevision: (s, t) => s.optimizedRevision(t, 5000),
  readByResource: (s, t) => s.readByResource(t, 0, { type: "doc", id: "a", relation: "viewer" }),
  readBySubject: (s, t) =>
    s.readBySubject(t, 0, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    }),
  readByFilter: (s, t) => s.readByFilter(t, 0, { resourceType: "doc" }, { limit: 10 }),
  write: (s, t) => s.write(t, [create("doc:a#viewer@user:alice")]),
  deleteByFilter: (s, t) => s.deleteByFilter(t, { resourceType: "doc" }),
  bulkImport: (s, t) => s.bulkImport(t, [rel("doc:a#viewer@user:alice")]),
  export: (s, t) => collect(s.export(t, 0)),
  writeSchema: (s, t) => s.writeSchema(t, "definition user {}"),
  readSchema: (s, t) => s.readSchema(t, 0),
  changesSince: (s, t) => s.changesSince(t, 0, 10),
  waitForChanges: (s, t) => s.waitForChanges(t, 0, { timeoutMs: 1 }),
};

export function tenantTests(open: OpenFixture): void {
  it("creates a tenant at revision 0 and lists every tenant sorted", async () => {
    const { store } = await open();
    await store.createTenant("zeta");
    await store.createTenant("alpha");
    expect(await store.listTenants()).toEqual(["alpha", "t1", "zeta"]);
    expect(await store.headRevision("zeta")).toBe(0);
  });

  it("refuses to create a tenant that exists with ALREADY_EXISTS", async () => {
    const { store, tenant } = await open();
    await expectCode(store.createTenant(tenant), "ALREADY_EXISTS");
    expect(await store.listTenants()).toEqual([tenant]);
  });

  it("rejects a malformed tenant id with INVALID_ARGUMENT", async () => {
    const { store } = await open();
    for (const id of ["", " spaced", "semi;colon", "x".repeat(129), "-leading"]) {
      await expectCode(store.createTenant(id), "INVALID_ARGUMENT");
    }
    await expectCode(store.headRevision("bad id"), "INVALID_ARGUMENT");
  });

  it("answers NOT_FOUND from every per-tenant method for an unknown tenant", async () => {
    const { store } = await open();
    for (const [name, call] of Object.entries(PER_TENANT_CALLS)) {
      const err = await expectCode(call(store, "nobody"), "NOT_FOUND");
      expect(err.message, name).toContain("nobody");
    }
  });

  it("answers UNAVAILABLE from every method once closed, and closes twice quietly", async () => {
    const { store, tenant } = await open();
    await store.close();
    await store.close();
    for (const call of Object.values(PER_TENANT_CALLS)) {
      await expectCode(call(store, tenant), "UNAVAILABLE");
    }
    await expectCode(store.listTenants(), "UNAVAILABLE");
    await expectCode(store.createTenant("other"), "UNAVAILABLE");
    await expectCode(store.gc(0), "UNAVAILABLE");
    await expectCode(
      store.sharedSecret("s", () => "v"),
      "UNAVAILABLE",
    );
  });
}
