/** Tenants share nothing: tuples, schema, revisions, changelog and guards. */
import { expect, it } from "vitest";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, remove } from "./tuple-fixtures.js";

export function isolationTests(open: OpenFixture): void {
  async function twoTenants() {
    const fixture = await open();
    await fixture.store.createTenant("b");
    return { ...fixture, a: fixture.tenant, b: "b" };
  }

  it("never shows one tenant's tuples to another, even the same tuple", async () => {
    const { store, a, b } = await twoTenants();
    await store.write(a, [
      create("doc:x#viewer@user:alice"),
      create("doc:only_a#viewer@user:alice"),
    ]);
    await store.write(b, [create("doc:x#viewer@user:alice")]);
    await store.write(b, [remove("doc:x#viewer@user:alice")]);
    expect(keys(await everything(store, a))).toEqual([
      "doc:only_a#viewer@user:alice",
      "doc:x#viewer@user:alice",
    ]);
    expect(await everything(store, b)).toEqual([]);
    const reverse = await store.readBySubject(b, 1, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    });
    expect(keys(reverse)).toEqual(["doc:x#viewer@user:alice"]);
    const page = await store.readByFilter(b, 2, { resourceType: "doc" }, { limit: 10 });
    expect(page.relationships).toEqual([]);
  });

  it("counts revisions per tenant", async () => {
    const { store, a, b } = await twoTenants();
    await store.write(a, [create("doc:x#viewer@user:alice")]);
    await store.write(a, [create("doc:y#viewer@user:alice")]);
    expect(await store.headRevision(a)).toBe(2);
    expect(await store.headRevision(b)).toBe(0);
    await expectCode(everything(store, b, 1), "INVALID_ARGUMENT");
  });

  it("keeps schemas and changelogs per tenant", async () => {
    const { store, a, b } = await twoTenants();
    await store.writeSchema(a, "definition a {}");
    await store.write(b, [create("doc:x#viewer@user:alice")]);
    expect(await store.readSchema(b, 1)).toBeUndefined();
    expect((await store.readSchema(a, 1))?.text).toBe("definition a {}");
    expect((await store.changesSince(b, 0, 10)).map((c) => c.op)).toEqual(["TOUCH"]);
    expect((await store.changesSince(a, 0, 10)).map((c) => c.op)).toEqual(["SCHEMA"]);
  });

  it("scopes CREATE, preconditions, deletes and schema guards to the tenant", async () => {
    const { store, a, b } = await twoTenants();
    await store.write(a, [create("doc:x#viewer@user:alice")]);
    await store.write(b, [create("doc:x#viewer@user:alice")]);
    await expectCode(
      store.write(
        b,
        [create("doc:z#viewer@user:bob")],
        [
          {
            op: "MUST_MATCH",
            filter: { resourceType: "doc", subjectType: "user", subjectId: "carol" },
          },
        ],
      ),
      "FAILED_PRECONDITION",
    );
    await store.write(a, [create("doc:c#viewer@user:carol")]);
    await expectCode(
      store.write(
        b,
        [create("doc:z#viewer@user:bob")],
        [
          {
            op: "MUST_MATCH",
            filter: { resourceType: "doc", subjectType: "user", subjectId: "carol" },
          },
        ],
      ),
      "FAILED_PRECONDITION",
    );
    expect((await store.deleteByFilter(b, { resourceType: "doc" })).deleted).toBe(1);
    expect(await everything(store, a)).toHaveLength(2);
    expect(
      await store.writeSchema(b, "x", { refuseIfAnyMatch: [{ resourceType: "doc" }] }),
    ).toBeGreaterThan(0);
  });

  it("wakes only the written tenant's waiters and imports into one tenant only", async () => {
    const { store, a, b } = await twoTenants();
    await store.bulkImport(a, [create("doc:x#viewer@user:alice").relationship]);
    expect(await store.headRevision(b)).toBe(0);
    expect(await store.waitForChanges(b, 0, { timeoutMs: 1 })).toBe(0);
  });
}
