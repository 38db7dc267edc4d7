/** MUST_MATCH and MUST_NOT_MATCH preconditions, evaluated at head inside the write. */
import { expect, it } from "vitest";
import { PreconditionFailedError } from "../../core/index.js";
import type { Precondition } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, rel, touch } from "./tuple-fixtures.js";

const mustMatch = (filter: Precondition["filter"]): Precondition => ({ op: "MUST_MATCH", filter });
const mustNotMatch = (filter: Precondition["filter"]): Precondition => ({
  op: "MUST_NOT_MATCH",
  filter,
});

export function preconditionTests(open: OpenFixture): void {
  async function seeded() {
    const fixture = await open();
    await fixture.store.write(fixture.tenant, [
      create("doc:a#owner@user:alice"),
      create("doc:a#viewer@group:eng#member"),
    ]);
    return fixture;
  }

  it("applies the write when every precondition holds", async () => {
    const { store, tenant } = await seeded();
    const revision = await store.write(
      tenant,
      [create("doc:a#viewer@user:bob")],
      [
        mustMatch({ resourceType: "doc", resourceId: "a", relation: "owner" }),
        mustMatch({ resourceType: "doc", subjectType: "group", subjectRelation: "member" }),
        mustNotMatch({
          resourceType: "doc",
          resourceId: "a",
          relation: "viewer",
          subjectType: "user",
        }),
        mustNotMatch({ resourceType: "folder" }),
      ],
    );
    expect(revision).toBe(2);
  });

  it("refuses the write with FAILED_PRECONDITION when MUST_MATCH finds nothing", async () => {
    const { store, tenant } = await seeded();
    const err = await expectCode(
      store.write(
        tenant,
        [create("doc:a#viewer@user:bob")],
        [
          mustMatch({ resourceType: "doc", resourceId: "a" }),
          mustMatch({
            resourceType: "doc",
            resourceId: "a",
            relation: "owner",
            subjectType: "user",
            subjectId: "bob",
          }),
        ],
      ),
      "FAILED_PRECONDITION",
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err.field).toBe("preconditions[1]");
    expect(await store.headRevision(tenant)).toBe(1);
    expect(keys(await everything(store, tenant))).not.toContain("doc:a#viewer@user:bob");
  });

  it("refuses the write when MUST_NOT_MATCH finds a tuple", async () => {
    const { store, tenant } = await seeded();
    const err = await expectCode(
      store.write(
        tenant,
        [touch("doc:b#viewer@user:bob")],
        [mustNotMatch({ resourceType: "doc", relation: "owner" })],
      ),
      "FAILED_PRECONDITION",
    );
    expect(err.field).toBe("preconditions[0]");
    expect(await store.headRevision(tenant)).toBe(1);
  });

  it("evaluates preconditions at head before the write's own mutations", async () => {
    const { store, tenant } = await seeded();
    await expectCode(
      store.write(
        tenant,
        [create("doc:new#viewer@user:bob")],
        [mustMatch({ resourceType: "doc", resourceId: "new" })],
      ),
      "FAILED_PRECONDITION",
    );
    await store.write(tenant, [{ op: "DELETE", relationship: rel("doc:a#owner@user:alice") }]);
    await expectCode(
      store.write(
        tenant,
        [create("doc:x#viewer@user:bob")],
        [mustMatch({ resourceType: "doc", relation: "owner" })],
      ),
      "FAILED_PRECONDITION",
    );
  });

  it("does not count expired tuples as matches", async () => {
    const { store, tenant, clock } = await open();
    clock.set(Date.UTC(2030, 0, 1));
    await store.write(tenant, [create("doc:a#owner@user:alice[expiration:2030-01-01T00:00:10Z]")]);
    const filter = { resourceType: "doc", relation: "owner" };
    await store.write(tenant, [create("doc:b#viewer@user:bob")], [mustMatch(filter)]);
    clock.advance(10_000);
    await expectCode(
      store.write(tenant, [create("doc:c#viewer@user:bob")], [mustMatch(filter)]),
      "FAILED_PRECONDITION",
    );
    expect(
      await store.write(tenant, [create("doc:c#viewer@user:bob")], [mustNotMatch(filter)]),
    ).toBe(3);
  });

  it("refuses a malformed precondition with INVALID_ARGUMENT naming it", async () => {
    const { store, tenant } = await seeded();
    const err = await expectCode(
      store.write(tenant, [create("doc:b#viewer@user:bob")], [mustMatch({ resourceType: "BAD" })]),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("preconditions[0].filter.resourceType");
    const op = { op: "MAYBE", filter: { resourceType: "doc" } } as unknown as Precondition;
    await expectCode(
      store.write(tenant, [create("doc:b#viewer@user:bob")], [op]),
      "INVALID_ARGUMENT",
    );
    expect(await store.headRevision(tenant)).toBe(1);
  });
}
