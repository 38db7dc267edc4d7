/** API-key records: create, look up, list newest first, revoke once; outside revisions. */
import { expect, it } from "vitest";
import type { ApiKeyRecord } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { expectCode } from "./tuple-fixtures.js";

const HASH = "a".repeat(64);

function key(id: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id,
    tenant: "t1",
    secretHash: HASH,
    scopes: ["check", "read"],
    description: "ci key",
    createdAt: new Date("2030-01-01T00:00:00.123Z"),
    ...overrides,
  };
}

export function apiKeyTests(open: OpenFixture): void {
  it("stores a key and reads it back as written, without touching the revision", async () => {
    const { store, tenant } = await open();
    const record = key("k000000000000001", {
      scopes: ["admin"],
      description: "ünïcode ok",
      expiresAt: new Date("2031-02-03T04:05:06.789Z"),
    });
    await store.createApiKey(record);
    expect(await store.getApiKey(record.id)).toEqual(record);
    expect(await store.getApiKey("k000000000000002")).toBeUndefined();
    expect(await store.headRevision(tenant)).toBe(0);
    expect(await store.changesSince(tenant, 0, 10)).toEqual([]);
  });

  it("lists a tenant's keys newest first, ties by id, and no other tenant's", async () => {
    const { store } = await open();
    await store.createTenant("t2");
    const early = new Date("2030-01-01T00:00:00Z");
    const late = new Date("2030-06-01T00:00:00Z");
    await store.createApiKey(key("bbbbbbbbbbbbbbbb", { createdAt: early }));
    await store.createApiKey(key("cccccccccccccccc", { createdAt: late }));
    await store.createApiKey(key("aaaaaaaaaaaaaaaa", { createdAt: early }));
    await store.createApiKey(key("dddddddddddddddd", { tenant: "t2", createdAt: late }));
    expect((await store.listApiKeys("t1")).map((k) => k.id)).toEqual([
      "cccccccccccccccc",
      "aaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbb",
    ]);
    expect((await store.listApiKeys("t2")).map((k) => k.tenant)).toEqual(["t2"]);
    await store.createTenant("t3");
    expect(await store.listApiKeys("t3")).toEqual([]);
  });

  it("revokes a key once: a second revocation keeps the first time", async () => {
    const { store } = await open();
    await store.createApiKey(key("k000000000000001"));
    const first = new Date("2030-02-01T00:00:00Z");
    const revoked = await store.revokeApiKey("k000000000000001", first);
    expect(revoked?.revokedAt).toEqual(first);
    const again = await store.revokeApiKey("k000000000000001", new Date("2030-03-01T00:00:00Z"));
    expect(again?.revokedAt).toEqual(first);
    expect((await store.getApiKey("k000000000000001"))?.revokedAt).toEqual(first);
    expect(await store.revokeApiKey("k000000000000009", first)).toBeUndefined();
  });

  it("refuses a taken id, an unknown tenant and malformed records, storing nothing", async () => {
    const { store, tenant } = await open();
    await store.createApiKey(key("k000000000000001"));
    await expectCode(store.createApiKey(key("k000000000000001")), "ALREADY_EXISTS");
    await expectCode(store.createApiKey(key("k000000000000002", { tenant: "nope" })), "NOT_FOUND");
    await expectCode(store.createApiKey(key("Short")), "INVALID_ARGUMENT");
    await expectCode(
      store.createApiKey(key("k000000000000003", { secretHash: "xyz" })),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.createApiKey(key("k000000000000004", { scopes: [""] })),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.createApiKey(key("k000000000000005", { createdAt: new Date(Number.NaN) })),
      "INVALID_ARGUMENT",
    );
    await expectCode(store.listApiKeys("nope"), "NOT_FOUND");
    await expectCode(store.getApiKey("../etc"), "INVALID_ARGUMENT");
    expect((await store.listApiKeys(tenant)).map((k) => k.id)).toEqual(["k000000000000001"]);
  });
}
