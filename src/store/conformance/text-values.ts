/**
 * NUL in strings: PostgreSQL's text cannot hold it, so every string the store keeps refuses it
 * with INVALID_ARGUMENT on every engine, before anything is written. JSON caveat context is
 * kept escaped, so a NUL inside it is data like any other character.
 */
import { expect, it } from "vitest";
import type { Relationship } from "../../core/index.js";
import type { ApiKeyRecord } from "../credential-store.js";
import type { OpenFixture } from "./fixture.js";
import { collect, create, everything, expectCode, rel } from "./tuple-fixtures.js";

const NUL = "\0";

function key(overrides: Partial<ApiKeyRecord>): ApiKeyRecord {
  return {
    id: "k000000000000001",
    tenant: "t1",
    secretHash: "a".repeat(64),
    scopes: ["check"],
    description: "ci key",
    createdAt: new Date("2030-01-01T00:00:00Z"),
    ...overrides,
  };
}

const base = rel("doc:a#viewer@user:alice");

export function textValueTests(open: OpenFixture): void {
  it("refuses a NUL in an API key's description or scopes, storing nothing", async () => {
    const { store, tenant } = await open();
    const description = await expectCode(
      store.createApiKey(key({ description: `build${NUL}bot` })),
      "INVALID_ARGUMENT",
    );
    expect(description.field).toBe("description");
    const scopes = await expectCode(
      store.createApiKey(key({ scopes: ["check", `re${NUL}ad`] })),
      "INVALID_ARGUMENT",
    );
    expect(scopes.field).toBe("scopes");
    expect(await store.listApiKeys(tenant)).toEqual([]);
  });

  it("refuses a NUL in schema text, writing no revision", async () => {
    const { store, tenant } = await open();
    const err = await expectCode(
      store.writeSchema(tenant, `definition user {}${NUL}`),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("schema");
    expect(await store.headRevision(tenant)).toBe(0);
  });

  it("refuses a NUL in tenant ids, tuple fields and caveat names", async () => {
    const { store, tenant } = await open();
    await expectCode(store.createTenant(`t${NUL}`), "INVALID_ARGUMENT");
    await expectCode(store.headRevision(`t1${NUL}`), "INVALID_ARGUMENT");
    const broken: Relationship[] = [
      { ...base, resource: { type: "doc", id: `a${NUL}` } },
      { ...base, resource: { type: `doc${NUL}`, id: "a" } },
      { ...base, relation: `viewer${NUL}` },
      { ...base, subject: { type: "user", id: `alice${NUL}` } },
      { ...base, subject: { type: "group", id: "eng", relation: `member${NUL}` } },
      { ...base, caveat: { name: `cav${NUL}` } },
    ];
    for (const relationship of broken) {
      await expectCode(store.write(tenant, [{ op: "TOUCH", relationship }]), "INVALID_ARGUMENT");
      await expectCode(store.bulkImport(tenant, [relationship]), "INVALID_ARGUMENT");
    }
    expect(await store.headRevision(tenant)).toBe(0);
  });

  it("refuses a NUL in read filters, queries and cursors", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice"), create("doc:b#viewer@user:bob")]);
    await expectCode(
      store.readByFilter(tenant, 1, { resourceType: "doc", resourceId: `a${NUL}` }, { limit: 5 }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.readByResource(tenant, 1, { type: "doc", id: `a${NUL}`, relation: "viewer" }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.readBySubject(tenant, 1, {
        resourceType: "doc",
        relation: "viewer",
        subject: { type: "user", id: `alice${NUL}` },
      }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.deleteByFilter(tenant, { resourceType: "doc", subjectType: "user", subjectId: NUL }),
      "INVALID_ARGUMENT",
    );
    // A cursor forged to carry a NUL, with the right filter fingerprint.
    const filter = { resourceType: "doc" };
    const page = await store.readByFilter(tenant, 1, filter, { limit: 1 });
    const parts = JSON.parse(Buffer.from(page.cursor!, "base64url").toString("utf8")) as string[];
    parts[3] = `a${NUL}`;
    const forged = Buffer.from(JSON.stringify(parts), "utf8").toString("base64url");
    const err = await expectCode(
      store.readByFilter(tenant, 1, filter, { limit: 1, cursor: forged }),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("cursor");
  });

  it("keeps a NUL inside caveat context exactly as written", async () => {
    const { store, tenant } = await open();
    const withNul: Relationship = {
      ...base,
      caveat: { name: "cav", context: { [`k${NUL}`]: `v${NUL}w`, list: [NUL] } },
    };
    const revision = await store.write(tenant, [{ op: "TOUCH", relationship: withNul }]);
    expect(await everything(store, tenant, revision)).toEqual([withNul]);
    const changes = await store.changesSince(tenant, 0, 10);
    expect(changes.map((c) => (c.op === "SCHEMA" ? undefined : c.relationship))).toEqual([withNul]);
    expect(await collect(store.export(tenant, revision))).toEqual([withNul]);
  });
}
