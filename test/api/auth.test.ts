// Caller authentication over a real server: API keys made through AdminService and the store,
// JWTs signed with real keys, scopes, tenant binding, the failure limiter, the audit log and
// reflection behind a credential; and the SDK with a token.
import { Metadata, status } from "@grpc/grpc-js";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import { JwtVerifier, PinoAuditLog } from "../../src/auth/index.js";
import { systemClock } from "../../src/core/clock.js";
import { TrellisError } from "../../src/core/errors.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import { TrellisClient } from "../../src/sdk/index.js";
import type { Datastore } from "../../src/store/datastore.js";
import {
  type ApiFixture,
  type CallOpts,
  DEFAULT_TENANT,
  eventually,
  expectCode,
  obj,
  startApiFixture,
  subj,
  TEST_SCHEMA,
} from "./api-fixture.js";
import { healthClient, listServices, memoryLogger } from "./raw-clients.js";

const ISSUER = "https://idp.example";
const AUDIENCE = "trellis-test";

function bearer(token: string, tenant?: string): CallOpts {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  if (tenant !== undefined) metadata.set("trellis-tenant", tenant);
  return { metadata };
}

/**
 * A key written straight into the store, as `trellis keys create` does beside a server (and
 * the only way to make one that has expired already); returns its token.
 */
async function storedKey(
  store: Datastore,
  scopes: string[],
  times: { createdAt?: Date; expiresAt?: Date } = {},
): Promise<string> {
  const minted = mintApiKey();
  await store.createApiKey({
    id: minted.id,
    tenant: DEFAULT_TENANT,
    secretHash: minted.secretHash,
    scopes,
    description: "",
    createdAt: times.createdAt ?? new Date(),
    ...(times.expiresAt !== undefined ? { expiresAt: times.expiresAt } : {}),
  });
  return minted.token;
}

const checkReadme = {
  resource: obj("document:readme"),
  permission: "view",
  subject: subj("user:alice"),
  consistency: { requirement: { $case: "fullyConsistent" as const, fullyConsistent: true } },
};

describe("an authenticated server", () => {
  let api: ApiFixture;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  const audit = memoryLogger();
  /** An operator token: admin (and every other scope) on the default tenant. */
  let root: string;

  async function jwt(
    claims: Record<string, unknown>,
    options: { expiresIn?: string | number; audience?: string; alg?: string } = {},
  ): Promise<string> {
    let builder = new SignJWT({ tenant: DEFAULT_TENANT, scope: "check", ...claims })
      .setProtectedHeader({ alg: options.alg ?? "ES256" })
      .setIssuer(ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setSubject("svc-a")
      .setIssuedAt();
    if (options.expiresIn !== undefined) builder = builder.setExpirationTime(options.expiresIn);
    return builder.sign(privateKey);
  }

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const verifier = await JwtVerifier.create(
      { keyFile: await exportSPKI(pair.publicKey), issuer: ISSUER, audience: AUDIENCE },
      systemClock,
    );
    api = await startApiFixture({
      auth: { jwt: verifier, maxFailuresPerMinute: 1000 },
      audit: new PinoAuditLog(audit.logger),
      tuples: ["document:readme#viewer@user:alice"],
    });
    // The first key of a deployment is made beside the server (what `trellis keys` does).
    root = await storedKey(api.store, ["check", "read", "write", "schema", "watch", "admin"]);
  });
  afterAll(() => api?.close());

  test("refuses calls without a credential, with one generic message; health needs none", async () => {
    const err = await expectCode(api.check(checkReadme), status.UNAUTHENTICATED);
    expect(err.details).toBe("invalid or missing credentials");
    for (const value of ["Basic abc", "Bearer", "Bearer not-a-token", "Bearer trls_short"]) {
      const metadata = new Metadata();
      metadata.set("authorization", value);
      const refused = await expectCode(
        api.check(checkReadme, { metadata }),
        status.UNAUTHENTICATED,
      );
      expect(refused.details).toBe("invalid or missing credentials");
    }
    const health = healthClient(api.address);
    try {
      expect(await health.check("")).toBe("SERVING");
    } finally {
      health.client.close();
    }
  });

  test("reflection needs a credential too", async () => {
    await expect(listServices(api.address)).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    expect(await listServices(api.address, bearer(root).metadata)).toContain(
      "trellis.v1.PermissionService",
    );
  });

  test("an API key acts within its scopes, and answers as the key's tenant", async () => {
    const { token, key } = await api.createApiKey(
      { scopes: ["check"], description: "checker" },
      bearer(root),
    );
    expect(key).toMatchObject({
      tenant: DEFAULT_TENANT,
      scopes: ["check"],
      description: "checker",
    });
    const answer = await api.check(checkReadme, bearer(token));
    expect(answer.permissionship).toBe(Permissionship.PERMISSIONSHIP_HAS_PERMISSION);
    const denied = await expectCode(
      api.write(
        {
          updates: [
            {
              operation: 2,
              relationship: {
                resource: obj("document:x"),
                relation: "owner",
                subject: subj("user:bob"),
              },
            },
          ],
        },
        bearer(token),
      ),
      status.PERMISSION_DENIED,
    );
    expect(denied.details).toContain("write");
    await expectCode(api.readSchema({}, bearer(token)), status.PERMISSION_DENIED);
    await expectCode(api.listApiKeys({}, bearer(token)), status.PERMISSION_DENIED);
  });

  test("a wrong secret, a revoked key and an expired key are refused alike", async () => {
    const { token, key } = await api.createApiKey({ scopes: ["check"] }, bearer(root));
    const wrong = `${token.slice(0, -4)}AAAA`;
    const refused = await expectCode(api.check(checkReadme, bearer(wrong)), status.UNAUTHENTICATED);
    expect(refused.details).toBe("invalid or missing credentials");
    expect((await api.check(checkReadme, bearer(token))).permissionship).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
    // Revoked through the server: refused at once, although the key was just verified.
    const revoked = await api.revokeApiKey({ keyId: key!.keyId }, bearer(root));
    expect(revoked.key!.optionalRevokedAt).toBeInstanceOf(Date);
    await expectCode(api.check(checkReadme, bearer(token)), status.UNAUTHENTICATED);

    const expired = await storedKey(api.store, ["check"], {
      createdAt: new Date(Date.now() - 60_000),
      expiresAt: new Date(Date.now() - 1000),
    });
    await expectCode(api.check(checkReadme, bearer(expired)), status.UNAUTHENTICATED);
    await expectCode(
      api.createApiKey(
        { scopes: ["check"], optionalExpiresAt: new Date(Date.now() - 1000) },
        bearer(root),
      ),
      status.INVALID_ARGUMENT,
    );
  });

  test("binds a key to its tenant: its data only, and no other tenant by metadata", async () => {
    await api.createTenant({ tenant: "acme" }, bearer(root));
    const acmeAdmin = await api.createApiKey(
      { tenant: "acme", scopes: ["admin", "schema", "write", "check"] },
      bearer(root),
    );
    const acme = bearer(acmeAdmin.token);
    await api.writeSchema({ schema: TEST_SCHEMA }, acme);
    // The same tuple as the default tenant's is absent in acme.
    expect((await api.check(checkReadme, acme)).permissionship).toBe(
      Permissionship.PERMISSIONSHIP_NO_PERMISSION,
    );
    expect((await api.check(checkReadme, bearer(acmeAdmin.token, "acme"))).permissionship).toBe(
      Permissionship.PERMISSIONSHIP_NO_PERMISSION,
    );
    await expectCode(
      api.check(checkReadme, bearer(acmeAdmin.token, DEFAULT_TENANT)),
      status.PERMISSION_DENIED,
    );
    // A tenant admin manages its own keys only, and is no operator.
    const own = await api.createApiKey({ scopes: ["check"] }, acme);
    expect(own.key!.tenant).toBe("acme");
    await expectCode(
      api.createApiKey({ tenant: DEFAULT_TENANT, scopes: ["check"] }, acme),
      status.PERMISSION_DENIED,
    );
    await expectCode(api.createTenant({ tenant: "other" }, acme), status.PERMISSION_DENIED);
    await expectCode(api.listTenants(acme), status.PERMISSION_DENIED);
    const rootKeys = await api.listApiKeys({}, bearer(root));
    await expectCode(api.revokeApiKey({ keyId: rootKeys.keys[0]!.keyId }, acme), status.NOT_FOUND);
    // The operator sees every tenant's keys.
    const acmeKeys = await api.listApiKeys({ tenant: "acme" }, bearer(root));
    expect(acmeKeys.keys.map((k) => k.keyId)).toContain(own.key!.keyId);
    expect((await api.listTenants(bearer(root))).tenants).toEqual(["acme", "default"]);
  });

  test("accepts a JWT signed by the configured key, with tenant and scopes from its claims", async () => {
    const token = await jwt({ scope: "check read" }, { expiresIn: "5m" });
    expect((await api.check(checkReadme, bearer(token))).permissionship).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
    expect((await api.readSchema({}, bearer(token))).schemaText).toContain("definition");
    await expectCode(api.listTenants(bearer(token)), status.PERMISSION_DENIED);
    const arrayScopes = await jwt({ scope: ["check"] }, { expiresIn: "5m" });
    expect((await api.check(checkReadme, bearer(arrayScopes))).permissionship).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
  });

  test("refuses expired, audience-less, exp-less, tenant-less, unsigned and HMAC-forged JWTs", async () => {
    const refusals = [
      await jwt({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      await jwt({}, { expiresIn: "5m", audience: "someone-else" }),
      await jwt({}),
      await jwt({ tenant: undefined }, { expiresIn: "5m" }),
    ];
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString("base64url");
    const payload = header({
      iss: ISSUER,
      aud: AUDIENCE,
      tenant: DEFAULT_TENANT,
      scope: "check",
      exp: Math.floor(Date.now() / 1000) + 300,
    });
    refusals.push(`${header({ alg: "none" })}.${payload}.`);
    const hmac = await new SignJWT({ tenant: DEFAULT_TENANT, scope: "check" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("x".repeat(32)));
    refusals.push(hmac);
    for (const token of refusals) {
      const err = await expectCode(api.check(checkReadme, bearer(token)), status.UNAUTHENTICATED);
      expect(err.details).toBe("invalid or missing credentials");
    }
  });

  test("audits writes (refused ones too) and refused credentials, without secrets", async () => {
    const { token } = await api.createApiKey({ scopes: ["check"] }, bearer(root));
    const before = audit.lines.length;
    await api.write(
      {
        updates: [
          {
            operation: 2,
            relationship: {
              resource: obj("document:audited"),
              relation: "owner",
              subject: subj("user:bob"),
            },
          },
        ],
      },
      bearer(root),
    );
    await expectCode(
      api.write(
        {
          updates: [
            {
              operation: 2,
              relationship: {
                resource: obj("document:audited"),
                relation: "owner",
                subject: subj("user:eve"),
              },
            },
          ],
        },
        bearer(token),
      ),
      status.PERMISSION_DENIED,
    );
    await expectCode(api.check(checkReadme, bearer(`${token}x`)), status.UNAUTHENTICATED);
    // The audit sink is a stream: wait for its lines rather than assume when they land.
    await eventually(() => audit.lines.length - before >= 3);
    const lines = audit.lines.slice(before);
    expect(lines.every((l) => l.audit === true)).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        event: "write",
        method: "RelationshipService/Write",
        code: "OK",
        tenant: DEFAULT_TENANT,
        detail: { updates: 1, preconditions: 0 },
      }),
      expect.objectContaining({
        event: "write",
        method: "RelationshipService/Write",
        code: "PERMISSION_DENIED",
      }),
      expect.objectContaining({
        event: "auth_failure",
        method: "PermissionService/Check",
        credential: "api_key",
        reason: "malformed",
      }),
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(token.split("_")[2]!);
    expect(text).not.toContain("user:bob");
  });

  test("the SDK sends its token; a missing scope is a typed PERMISSION_DENIED", async () => {
    const { token } = await api.createApiKey({ scopes: ["check"] }, bearer(root));
    const client = new TrellisClient({ address: api.address, token, tls: false });
    try {
      const fresh = { consistency: "fully_consistent" } as const;
      expect(
        (await client.check("document:readme", "view", "user:alice", fresh)).permissionship,
      ).toBe("ALLOWED");
      const err = await client.writeRelationships(["document:sdk#owner@user:bob"]).catch((e) => e);
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe("PERMISSION_DENIED");
    } finally {
      await client.close();
    }
  });
});

describe("the failure limiter", () => {
  test("throttles the failing attempts of an address, never the valid keys it carries", async () => {
    const api = await startApiFixture({ auth: { maxFailuresPerMinute: 3 } });
    try {
      const good = bearer(await storedKey(api.store, ["check"]));
      await api.check(checkReadme, good);
      for (let i = 0; i < 3; i++) {
        await expectCode(api.check(checkReadme, bearer("trls_nope")), status.UNAUTHENTICATED);
      }
      await expectCode(api.check(checkReadme, bearer("trls_nope")), status.RESOURCE_EXHAUSTED);
      // Behind one address (a proxy, a NAT), valid callers are still served.
      await api.check(checkReadme, good);
      await api.check(checkReadme, bearer(await storedKey(api.store, ["check"])));
    } finally {
      await api.close();
    }
  });
});
