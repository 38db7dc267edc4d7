/** CREATE, TOUCH, DELETE and the atomicity of a write. */
import { expect, it } from "vitest";
import { RelationshipExistsError } from "../../core/errors.js";
import type { Relationship } from "../../core/index.js";
import type { Mutation } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, rel, remove, touch } from "./tuple-fixtures.js";

export function writeTests(open: OpenFixture): void {
  it("creates tuples and returns the revision they are visible at", async () => {
    const { store, tenant } = await open();
    const revision = await store.write(tenant, [
      create("doc:a#viewer@user:alice"),
      create("doc:a#viewer@group:eng#member"),
    ]);
    expect(keys(await everything(store, tenant, revision))).toEqual([
      "doc:a#viewer@group:eng#member",
      "doc:a#viewer@user:alice",
    ]);
    expect(await everything(store, tenant, 0)).toEqual([]);
  });

  it("refuses to CREATE an existing tuple with FAILED_PRECONDITION naming it, applying nothing", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    const err = await expectCode(
      store.write(tenant, [create("doc:b#viewer@user:bob"), create("doc:a#viewer@user:alice")]),
      "FAILED_PRECONDITION",
    );
    expect(err).toBeInstanceOf(RelationshipExistsError);
    expect(err.field).toBe("mutations[1]");
    expect(err.message).toContain("doc:a#viewer@user:alice");
    expect(await store.headRevision(tenant)).toBe(1);
    expect(keys(await everything(store, tenant))).toEqual(["doc:a#viewer@user:alice"]);
  });

  it("refuses a CREATE that differs from the existing tuple only by caveat", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    await expectCode(
      store.write(tenant, [create("doc:a#viewer@user:alice[flagged]")]),
      "FAILED_PRECONDITION",
    );
  });

  it("upserts with TOUCH, replacing caveat and expiration", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [touch("doc:a#viewer@user:alice")]);
    await store.write(tenant, [
      touch('doc:a#viewer@user:alice[flagged:{"a":1}][expiration:2099-01-01T00:00:00Z]'),
    ]);
    expect(await everything(store, tenant)).toEqual([
      rel('doc:a#viewer@user:alice[flagged:{"a":1}][expiration:2099-01-01T00:00:00Z]'),
    ]);
    await store.write(tenant, [touch("doc:a#viewer@user:alice")]);
    expect(await everything(store, tenant)).toEqual([rel("doc:a#viewer@user:alice")]);
    expect(await everything(store, tenant, 2)).toEqual([
      rel('doc:a#viewer@user:alice[flagged:{"a":1}][expiration:2099-01-01T00:00:00Z]'),
    ]);
  });

  it("deletes tuples, and treats the DELETE of an absent tuple as a no-op", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice"), create("doc:a#viewer@user:bob")]);
    const revision = await store.write(tenant, [
      remove("doc:a#viewer@user:alice"),
      remove("doc:a#viewer@user:nobody"),
    ]);
    expect(revision).toBe(2);
    expect(keys(await everything(store, tenant))).toEqual(["doc:a#viewer@user:bob"]);
    expect(await store.write(tenant, [remove("doc:a#viewer@user:alice")])).toBe(3);
    expect(keys(await everything(store, tenant))).toEqual(["doc:a#viewer@user:bob"]);
  });

  it("recreates a deleted tuple with CREATE", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    await store.write(tenant, [remove("doc:a#viewer@user:alice")]);
    await store.write(tenant, [create("doc:a#viewer@user:alice[flagged]")]);
    expect(await everything(store, tenant)).toEqual([rel("doc:a#viewer@user:alice[flagged]")]);
    expect(await everything(store, tenant, 2)).toEqual([]);
  });

  it("refuses an empty write with INVALID_ARGUMENT and no new revision", async () => {
    const { store, tenant } = await open();
    await expectCode(store.write(tenant, []), "INVALID_ARGUMENT");
    expect(await store.headRevision(tenant)).toBe(0);
  });

  it("refuses a write with one invalid tuple, naming it and applying nothing", async () => {
    const { store, tenant } = await open();
    const invalid: Relationship = {
      resource: { type: "doc", id: "has space" },
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    };
    const err = await expectCode(
      store.write(tenant, [
        create("doc:a#viewer@user:alice"),
        { op: "CREATE", relationship: invalid },
      ]),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("mutations[1].relationship.resource.id");
    expect(await store.headRevision(tenant)).toBe(0);
    expect(await everything(store, tenant)).toEqual([]);
  });

  it("refuses unknown ops and wildcard resources with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    const upsert = { op: "UPSERT", relationship: rel("doc:a#viewer@user:alice") };
    await expectCode(store.write(tenant, [upsert as unknown as Mutation]), "INVALID_ARGUMENT");
    const wildcard: Relationship = {
      resource: { type: "doc", id: "*" },
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    };
    await expectCode(
      store.write(tenant, [{ op: "TOUCH", relationship: wildcard }]),
      "INVALID_ARGUMENT",
    );
    expect(await store.headRevision(tenant)).toBe(0);
  });

  it("refuses the same tuple twice in one write with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    const err = await expectCode(
      store.write(tenant, [
        create("doc:a#viewer@user:alice"),
        remove("doc:a#viewer@user:alice[flagged]"),
      ]),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("mutations[1]");
    expect(await store.headRevision(tenant)).toBe(0);
  });

  it("keeps every row as it was when a large write fails on its last mutation", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [
      create("doc:keep#viewer@user:alice"),
      create('doc:touched#viewer@user:alice[flagged:{"v":1}]'),
      create("doc:deleted#viewer@user:alice"),
    ]);
    const before = await everything(store, tenant);
    const mutations: Mutation[] = [
      touch('doc:touched#viewer@user:alice[flagged:{"v":2}]'),
      remove("doc:deleted#viewer@user:alice"),
      ...Array.from({ length: 50 }, (_, i) => create(`doc:n${i}#viewer@user:bob`)),
      create("doc:keep#viewer@user:alice"),
    ];
    await expectCode(store.write(tenant, mutations), "FAILED_PRECONDITION");
    expect(await store.headRevision(tenant)).toBe(1);
    expect(await everything(store, tenant)).toEqual(before);
    expect(await store.changesSince(tenant, 1, 100)).toEqual([]);
    // The same store still writes normally afterwards.
    expect(await store.write(tenant, mutations.slice(0, -1))).toBe(2);
  });
}
