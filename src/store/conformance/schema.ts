/** Versioned schemas and the guard against orphaning tuples. */
import { expect, it } from "vitest";
import { SchemaOrphansError } from "../../core/errors.js";
import type { OpenFixture } from "./fixture.js";
import { create, expectCode, remove } from "./tuple-fixtures.js";

const V1 = "definition user {}\n\ndefinition doc {\n  relation viewer: user\n}\n";
const V2 = "definition user {}\n";

export function schemaTests(open: OpenFixture): void {
  it("has no schema until one is written", async () => {
    const { store, tenant } = await open();
    expect(await store.readSchema(tenant, 0)).toBeUndefined();
  });

  it("versions schemas by revision: a read returns the newest at or before it", async () => {
    const { store, tenant } = await open();
    const r1 = await store.writeSchema(tenant, V1);
    const r2 = await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    const r3 = await store.writeSchema(tenant, V2);
    expect([r1, r2, r3]).toEqual([1, 2, 3]);
    expect(await store.readSchema(tenant, 0)).toBeUndefined();
    expect(await store.readSchema(tenant, 1)).toEqual({ text: V1, revision: 1 });
    expect(await store.readSchema(tenant, 2)).toEqual({ text: V1, revision: 1 });
    expect(await store.readSchema(tenant, 3)).toEqual({ text: V2, revision: 3 });
  });

  it("stores the text exactly, whitespace and unicode included", async () => {
    const { store, tenant } = await open();
    const text = "  /** żółw ✓ */\r\n\tdefinition user {}\n\n";
    const revision = await store.writeSchema(tenant, text);
    expect((await store.readSchema(tenant, revision))?.text).toBe(text);
  });

  it("refuses a schema that would orphan tuples, naming the filter and the count", async () => {
    const { store, tenant } = await open();
    await store.writeSchema(tenant, V1);
    await store.write(tenant, [
      create("doc:a#viewer@user:alice"),
      create("doc:b#viewer@user:bob"),
      create("doc:b#viewer@group:eng#member"),
    ]);
    const err = await expectCode(
      store.writeSchema(tenant, V2, {
        refuseIfAnyMatch: [
          { resourceType: "doc", relation: "viewer", subjectType: "user" },
          { resourceType: "folder" },
        ],
      }),
      "FAILED_PRECONDITION",
    );
    expect(err).toBeInstanceOf(SchemaOrphansError);
    // The message is what an operator reads, so its content is part of the contract.
    expect(err.message).toContain("doc#viewer");
    expect(err.message).toContain("subject type user");
    expect(err.message).toContain("2 relationships");
    expect(err.message).not.toContain("folder");
    expect(await store.headRevision(tenant)).toBe(2);
    expect(await store.readSchema(tenant, 2)).toEqual({ text: V1, revision: 1 });
  });

  it("accepts the schema once the guarded tuples are deleted or expired", async () => {
    const { store, tenant, clock } = await open();
    await store.writeSchema(tenant, V1);
    await store.write(tenant, [
      create("doc:a#viewer@user:alice"),
      create("doc:b#viewer@user:bob[expiration:2030-01-01T00:00:05Z]"),
    ]);
    const guard = { refuseIfAnyMatch: [{ resourceType: "doc", relation: "viewer" }] };
    await expectCode(store.writeSchema(tenant, V2, guard), "FAILED_PRECONDITION");
    await store.write(tenant, [remove("doc:a#viewer@user:alice")]);
    await expectCode(store.writeSchema(tenant, V2, guard), "FAILED_PRECONDITION");
    clock.advance(5000);
    expect(await store.writeSchema(tenant, V2, guard)).toBe(4);
  });

  it("rejects a schema that is not a string and a malformed guard with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    await expectCode(store.writeSchema(tenant, 42 as unknown as string), "INVALID_ARGUMENT");
    const err = await expectCode(
      store.writeSchema(tenant, V1, { refuseIfAnyMatch: [{ resourceType: "X" }] }),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("refuseIfAnyMatch[0].resourceType");
    expect(await store.headRevision(tenant)).toBe(0);
  });
}
