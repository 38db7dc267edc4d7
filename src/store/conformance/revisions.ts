/** Revisions: one per write, head, optimizedRevision, and reads at revisions that do not exist. */
import { expect, it } from "vitest";
import type { OpenFixture } from "./fixture.js";
import { create, expectCode, rel, remove } from "./tuple-fixtures.js";

export function revisionTests(open: OpenFixture): void {
  it("bumps the revision by one for every kind of write", async () => {
    const { store, tenant } = await open();
    expect(await store.write(tenant, [create("doc:a#viewer@user:alice")])).toBe(1);
    expect(await store.writeSchema(tenant, "definition user {}")).toBe(2);
    expect((await store.deleteByFilter(tenant, { resourceType: "doc" })).revision).toBe(3);
    const imported = await store.bulkImport(
      tenant,
      [rel("doc:a#viewer@user:bob"), rel("doc:b#viewer@user:bob")],
      { batchSize: 1 },
    );
    expect(imported.revision).toBe(5);
    expect(await store.headRevision(tenant)).toBe(5);
  });

  it("gives a write of only no-op deletes a new revision", async () => {
    const { store, tenant } = await open();
    expect(await store.write(tenant, [remove("doc:a#viewer@user:nobody")])).toBe(1);
    expect(await store.headRevision(tenant)).toBe(1);
  });

  it("gives concurrent writes distinct consecutive revisions that all land", async () => {
    const { store, tenant } = await open();
    const revisions = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.write(tenant, [create(`doc:d${i}#viewer@user:u`)]),
      ),
    );
    expect([...revisions].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const page = await store.readByFilter(tenant, 20, { resourceType: "doc" }, { limit: 100 });
    expect(page.relationships).toHaveLength(20);
  });

  it("rejects a read at a revision newer than head with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    await expectCode(
      store.readByResource(tenant, 2, { type: "doc", id: "a", relation: "viewer" }),
      "INVALID_ARGUMENT",
    );
    await expectCode(store.readSchema(tenant, 2), "INVALID_ARGUMENT");
  });

  it("rejects negative and fractional revisions with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    for (const revision of [-1, 0.5, Number.NaN]) {
      await expectCode(
        store.readByFilter(tenant, revision, { resourceType: "doc" }, { limit: 1 }),
        "INVALID_ARGUMENT",
      );
    }
  });

  it("returns the head as it was when the current staleness window opened", async () => {
    const { store, tenant, clock } = await open();
    clock.set(100_000); // a window boundary for 5 s windows
    await store.write(tenant, [create("doc:a#viewer@user:alice")]); // r1 at the boundary
    clock.advance(1000);
    await store.write(tenant, [create("doc:b#viewer@user:alice")]); // r2 inside the window
    expect(await store.headRevision(tenant)).toBe(2);
    expect(await store.optimizedRevision(tenant, 5000)).toBe(1);
    clock.advance(3000);
    await store.write(tenant, [create("doc:c#viewer@user:alice")]); // r3
    // Callers in the same window share the answer, whatever was written meanwhile.
    expect(await store.optimizedRevision(tenant, 5000)).toBe(1);
    clock.set(105_000); // the next window opens
    expect(await store.optimizedRevision(tenant, 5000)).toBe(3);
  });

  it("never answers a revision older than the staleness bound nor newer than head", async () => {
    const { store, tenant, clock } = await open();
    expect(await store.optimizedRevision(tenant, 5000)).toBe(0);
    clock.set(200_500);
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    // The window opened at 200 000, before the write: the answer is the head of then.
    expect(await store.optimizedRevision(tenant, 1000)).toBe(0);
    clock.advance(1000);
    const answer = await store.optimizedRevision(tenant, 1000);
    expect(answer).toBe(1);
    expect(answer).toBeLessThanOrEqual(await store.headRevision(tenant));
  });

  it("answers head for a staleness of 0 and rejects a negative staleness", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    expect(await store.optimizedRevision(tenant, 0)).toBe(1);
    await expectCode(store.optimizedRevision(tenant, -1), "INVALID_ARGUMENT");
  });
}
