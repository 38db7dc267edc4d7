/** deleteByFilter: atomic, limited, partial on request, guarded by preconditions. */
import { expect, it } from "vitest";
import { DeleteLimitExceededError } from "../../core/errors.js";
import { PreconditionFailedError } from "../../core/index.js";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, orderedKeys } from "./tuple-fixtures.js";

export function deleteByFilterTests(open: OpenFixture): void {
  async function seeded() {
    const fixture = await open();
    await fixture.store.write(fixture.tenant, [
      create("doc:c#viewer@user:alice"),
      create("doc:a#viewer@user:alice"),
      create("doc:b#viewer@user:alice"),
      create("doc:a#viewer@user:bob"),
      create("doc:a#owner@user:alice"),
      create("folder:f#viewer@user:alice"),
    ]);
    return fixture;
  }

  it("deletes every match as one new revision and reports the count", async () => {
    const { store, tenant } = await seeded();
    const result = await store.deleteByFilter(tenant, {
      resourceType: "doc",
      relation: "viewer",
      subjectType: "user",
      subjectId: "alice",
    });
    expect(result).toEqual({ revision: 2, deleted: 3, partial: false });
    expect(keys(await everything(store, tenant))).toEqual([
      "doc:a#owner@user:alice",
      "doc:a#viewer@user:bob",
      "folder:f#viewer@user:alice",
    ]);
    expect(await everything(store, tenant, 1)).toHaveLength(6);
  });

  it("still writes a new revision when nothing matches", async () => {
    const { store, tenant } = await seeded();
    expect(await store.deleteByFilter(tenant, { resourceType: "nothing" })).toEqual({
      revision: 2,
      deleted: 0,
      partial: false,
    });
  });

  it("refuses with FAILED_PRECONDITION and deletes nothing when more than the limit match", async () => {
    const { store, tenant } = await seeded();
    const err = await expectCode(
      store.deleteByFilter(tenant, { resourceType: "doc" }, { limit: 4 }),
      "FAILED_PRECONDITION",
    );
    expect(err).toBeInstanceOf(DeleteLimitExceededError);
    expect(await store.headRevision(tenant)).toBe(1);
    expect(await everything(store, tenant)).toHaveLength(6);
  });

  it("deletes everything when exactly the limit match", async () => {
    const { store, tenant } = await seeded();
    expect(await store.deleteByFilter(tenant, { resourceType: "doc" }, { limit: 5 })).toEqual({
      revision: 2,
      deleted: 5,
      partial: false,
    });
  });

  it("deletes the first matches in stable order when partial deletion is allowed", async () => {
    const { store, tenant } = await seeded();
    const before = orderedKeys(
      (await store.readByFilter(tenant, 1, { resourceType: "doc" }, { limit: 10 })).relationships,
    );
    const first = await store.deleteByFilter(
      tenant,
      { resourceType: "doc" },
      { limit: 2, allowPartial: true },
    );
    expect(first).toEqual({ revision: 2, deleted: 2, partial: true });
    const left = await store.readByFilter(tenant, 2, { resourceType: "doc" }, { limit: 10 });
    expect(orderedKeys(left.relationships)).toEqual(before.slice(2));
    const changes = await store.changesSince(tenant, 1, 100);
    expect(changes.map((c) => c.op)).toEqual(["DELETE", "DELETE"]);
    expect(changes.map((c) => (c.op === "DELETE" ? `${c.relationship.resource.id}` : ""))).toEqual([
      "a",
      "a",
    ]);
    let partial = true;
    while (partial) {
      ({ partial } = await store.deleteByFilter(
        tenant,
        { resourceType: "doc" },
        { limit: 2, allowPartial: true },
      ));
    }
    expect(keys(await everything(store, tenant))).toEqual(["folder:f#viewer@user:alice"]);
  });

  it("leaves expired tuples out of the count", async () => {
    const { store, tenant, clock } = await open();
    await store.write(tenant, [
      create("doc:a#viewer@user:alice[expiration:2030-01-01T00:01:00Z]"),
      create("doc:b#viewer@user:alice"),
    ]);
    clock.advance(60_000);
    expect(await store.deleteByFilter(tenant, { resourceType: "doc" }, { limit: 1 })).toEqual({
      revision: 2,
      deleted: 1,
      partial: false,
    });
  });

  it("deletes only when every precondition holds at head", async () => {
    const { store, tenant } = await seeded();
    const result = await store.deleteByFilter(
      tenant,
      { resourceType: "doc", relation: "viewer" },
      {
        preconditions: [
          { op: "MUST_MATCH", filter: { resourceType: "doc", relation: "owner" } },
          { op: "MUST_NOT_MATCH", filter: { resourceType: "folder", relation: "owner" } },
        ],
      },
    );
    expect(result).toEqual({ revision: 2, deleted: 4, partial: false });
  });

  it("deletes nothing and keeps the revision when a precondition fails", async () => {
    const { store, tenant } = await seeded();
    const err = await store
      .deleteByFilter(
        tenant,
        { resourceType: "doc" },
        {
          preconditions: [
            { op: "MUST_MATCH", filter: { resourceType: "doc", relation: "owner" } },
            { op: "MUST_NOT_MATCH", filter: { resourceType: "folder" } },
          ],
        },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).field).toBe("preconditions[1]");
    expect(await store.headRevision(tenant)).toBe(1);
    expect(await everything(store, tenant)).toHaveLength(6);
  });

  it("rejects a malformed precondition with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await seeded();
    await expectCode(
      store.deleteByFilter(
        tenant,
        { resourceType: "doc" },
        { preconditions: [{ op: "MUST_MATCH", filter: { resourceType: "" } }] },
      ),
      "INVALID_ARGUMENT",
    );
    expect(await store.headRevision(tenant)).toBe(1);
  });

  it("rejects a malformed filter or limit with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await seeded();
    await expectCode(store.deleteByFilter(tenant, { resourceType: "" }), "INVALID_ARGUMENT");
    await expectCode(
      store.deleteByFilter(tenant, { resourceType: "doc" }, { limit: 0 }),
      "INVALID_ARGUMENT",
    );
    expect(await store.headRevision(tenant)).toBe(1);
  });
}
