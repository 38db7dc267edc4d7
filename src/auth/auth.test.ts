import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, test } from "vitest";
import { ManualClock } from "../../test/support/manual-clock.js";
import { openTestStore, type TestStore } from "../../test/support/test-stores.js";
import { TrellisError } from "../core/errors.js";
import { hashSecret, mintApiKey, parseApiKey, secretMatches } from "./api-key-token.js";
import { ApiKeys } from "./api-keys.js";
import { FailureLimiter, peerAddress } from "./failure-limiter.js";
import { JwtVerifier } from "./jwt-verifier.js";
import { AuthFailure } from "./principal.js";
import { parseScopes } from "./scopes.js";

describe("API-key tokens", () => {
  test("mint well-formed, distinct tokens whose hash matches only their own secret", () => {
    const a = mintApiKey();
    const b = mintApiKey();
    expect(a.token).toMatch(/^trls_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    const parsed = parseApiKey(a.token)!;
    expect(parsed.id).toBe(a.id);
    expect(hashSecret(parsed.secret)).toBe(a.secretHash);
    expect(secretMatches(parsed.secret, a.secretHash)).toBe(true);
    expect(secretMatches(parsed.secret, b.secretHash)).toBe(false);
    expect(secretMatches(parsed.secret, "abcd")).toBe(false);
    for (const bad of ["", "trls_", `trls_${a.id}`, `trls_${a.id}_short`, a.token.toUpperCase()]) {
      expect(parseApiKey(bad)).toBeUndefined();
    }
  });
});

describe("scopes", () => {
  test("are known, unrepeated and returned in canonical order", () => {
    expect(parseScopes(["admin", "check"])).toEqual(["check", "admin"]);
    for (const bad of [[], ["root"], ["check", "check"]]) {
      expect(() => parseScopes(bad)).toThrow(TrellisError);
    }
  });
});

describe("the failure limiter", () => {
  test("throttles an address past its failures until the window ends, others not", () => {
    const clock = new ManualClock();
    const limiter = new FailureLimiter({ clock, maxFailures: 2, windowMs: 1000 });
    const a = { address: "10.0.0.1" };
    limiter.recordFailure(a);
    expect(limiter.throttledFor(a)).toBe(0);
    limiter.recordFailure(a);
    expect(limiter.throttledFor(a)).toBe(1000);
    expect(limiter.throttledFor({ address: "10.0.0.2" })).toBe(0);
    clock.advance(999);
    expect(limiter.throttledFor(a)).toBe(1);
    clock.advance(1);
    expect(limiter.throttledFor(a)).toBe(0);
  });

  test("forgets the oldest sources beyond its bound", () => {
    const limiter = new FailureLimiter({
      clock: new ManualClock(),
      maxFailures: 1,
      maxSources: 2,
    });
    for (const address of ["a", "b", "c"]) limiter.recordFailure({ address });
    expect(limiter.throttledFor({ address: "a" })).toBe(0);
    expect(limiter.throttledFor({ address: "c" })).toBeGreaterThan(0);
  });

  test("reads the address out of grpc-js peers", () => {
    expect(peerAddress("ipv4:127.0.0.1:5123")).toBe("127.0.0.1");
    expect(peerAddress("ipv6:[::1]:5123")).toBe("::1");
    expect(peerAddress("10.1.2.3:80")).toBe("10.1.2.3");
    expect(peerAddress("unix:/tmp/s")).toBe("unix");
  });
});

describe("ApiKeys over a real store", () => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setup(clock = new ManualClock(new Date())) {
    t = await openTestStore("sqlite", clock);
    await t.store.createTenant("t1");
    return { keys: new ApiKeys(t.store, { clock, cacheTtlMs: 5000 }), clock, store: t.store };
  }

  test("verifies a created key as its tenant and scopes, with a reason for every refusal", async () => {
    const { keys } = await setup();
    const { token, record } = await keys.create({ tenant: "t1", scopes: ["read", "check"] });
    const principal = await keys.verify(token);
    expect(principal).toMatchObject({ tenant: "t1", id: `key:${record.id}`, kind: "api_key" });
    expect([...principal.scopes]).toEqual(["check", "read"]);
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => "accepted",
        (e: AuthFailure) => e.reason,
      );
    expect(await reason(keys.verify(`${token}x`))).toBe("malformed");
    expect(await reason(keys.verify(`trls_${"z".repeat(16)}_${"A".repeat(43)}`))).toBe(
      "unknown_key",
    );
    expect(
      await reason(keys.verify(`${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`)),
    ).toBe("wrong_secret");
    await keys.revoke(record.id);
    expect(await reason(keys.verify(token))).toBe("revoked");
  });

  test("a key expires with the clock; a revocation by another process shows after the cache time", async () => {
    const { keys, clock, store } = await setup();
    const { token, record } = await keys.create({
      tenant: "t1",
      scopes: ["check"],
      expiresAt: new Date(clock.now() + 60_000),
    });
    const principal = await keys.verify(token);
    expect(keys.verifyCached(token)).toBe(principal);
    expect(keys.verifyCached(`${token.slice(0, -1)}x`)).toBeUndefined();
    // Another process (another ApiKeys over the same store) revokes it.
    await new ApiKeys(store, { clock }).revoke(record.id);
    clock.advance(1000);
    expect(keys.verifyCached(token)).toBe(principal);
    await expect(keys.verify(token)).resolves.toMatchObject({ tenant: "t1" });
    clock.advance(5000);
    expect(keys.verifyCached(token)).toBeUndefined();
    await expect(keys.verify(token)).rejects.toMatchObject({ reason: "revoked" });

    const second = await keys.create({
      tenant: "t1",
      scopes: ["check"],
      expiresAt: new Date(clock.now() + 10_000),
    });
    await keys.verify(second.token);
    clock.advance(10_000);
    expect(keys.verifyCached(second.token)).toBeUndefined();
    await expect(keys.verify(second.token)).rejects.toMatchObject({ reason: "expired" });
  });

  test("refuses bad requests with INVALID_ARGUMENT and an unknown tenant with NOT_FOUND", async () => {
    const { keys, clock } = await setup();
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: TrellisError) => e.code,
      );
    expect(await code(keys.create({ tenant: "t1", scopes: [] }))).toBe("INVALID_ARGUMENT");
    expect(
      await code(keys.create({ tenant: "t1", scopes: ["check"], description: "x".repeat(201) })),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await code(
        keys.create({ tenant: "t1", scopes: ["check"], expiresAt: new Date(clock.now()) }),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(await code(keys.create({ tenant: "nope", scopes: ["check"] }))).toBe("NOT_FOUND");
    expect(await keys.list("t1")).toEqual([]);
  });
});

describe("JwtVerifier", () => {
  const ISSUER = "https://idp.example";
  const AUDIENCE = "trellis";
  const clock = new ManualClock(new Date("2031-01-01T00:00:00Z"));
  const seconds = () => Math.floor(clock.now() / 1000);

  async function sign(
    key: Parameters<SignJWT["sign"]>[0],
    alg: string,
    claims: Record<string, unknown> = {},
    kid?: string,
  ): Promise<string> {
    return new SignJWT({ tenant: "t1", scope: "check read", ...claims })
      .setProtectedHeader({ alg, ...(kid !== undefined ? { kid } : {}) })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("svc")
      .setIssuedAt(seconds())
      .setExpirationTime(seconds() + 300)
      .sign(key);
  }

  test("verifies RS256 against a PEM public key, and caches the answer until exp", async () => {
    const pair = await generateKeyPair("RS256");
    const verifier = await JwtVerifier.create(
      { keyFile: await exportSPKI(pair.publicKey), issuer: ISSUER, audience: [AUDIENCE, "other"] },
      clock,
    );
    const token = await sign(pair.privateKey, "RS256");
    const principal = await verifier.verify(token);
    expect(principal).toMatchObject({ tenant: "t1", id: "jwt:svc", kind: "jwt" });
    expect([...principal.scopes].sort()).toEqual(["check", "read"]);
    clock.advance(30_000);
    await expect(verifier.verify(token)).resolves.toBe(principal);
    // Past exp plus the default 10 s tolerance.
    clock.advance(270_000 + 11_000);
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: "jwt_invalid" });
    clock.set(new Date("2031-01-01T00:00:00Z"));
  });

  test("verifies ES256 against a JWKS file, choosing the key by kid", async () => {
    const a = await generateKeyPair("ES256");
    const b = await generateKeyPair("ES256");
    const jwks = {
      keys: [
        { ...(await exportJWK(a.publicKey)), kid: "a", alg: "ES256" },
        { ...(await exportJWK(b.publicKey)), kid: "b", alg: "ES256" },
      ],
    };
    const verifier = await JwtVerifier.create(
      {
        keyFile: JSON.stringify(jwks),
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: "org",
        scopesClaim: "perms",
      },
      clock,
    );
    const principal = await verifier.verify(
      await sign(b.privateKey, "ES256", { org: "acme", perms: ["watch", "nonsense"] }, "b"),
    );
    expect(principal.tenant).toBe("acme");
    expect([...principal.scopes]).toEqual(["watch"]);
    await expect(
      verifier.verify(await sign(a.privateKey, "ES256", { org: "acme" }, "b")),
    ).rejects.toMatchObject({ reason: "jwt_invalid" });
    await expect(verifier.verify(await sign(b.privateKey, "ES256", {}, "b"))).rejects.toMatchObject(
      { reason: "no_tenant_claim" },
    );
  });

  test("accepts HS256 only with a configured secret, and refuses algorithms off the list", async () => {
    const secret = new TextEncoder().encode("s".repeat(32));
    const hmac = await JwtVerifier.create(
      { hmacSecret: secret, issuer: ISSUER, audience: AUDIENCE },
      clock,
    );
    expect((await hmac.verify(await sign(secret, "HS256"))).tenant).toBe("t1");
    const pair = await generateKeyPair("RS256");
    const rsaOnly = await JwtVerifier.create(
      {
        keyFile: await exportSPKI(pair.publicKey),
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ["RS256"],
      },
      clock,
    );
    await expect(rsaOnly.verify(await sign(secret, "HS256"))).rejects.toBeInstanceOf(AuthFailure);
    const ps = await generateKeyPair("PS256");
    const psOnly = await JwtVerifier.create(
      {
        keyFile: await exportSPKI(ps.publicKey),
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ["RS256"],
      },
      clock,
    );
    await expect(psOnly.verify(await sign(ps.privateKey, "PS256"))).rejects.toMatchObject({
      reason: "jwt_invalid",
    });
  });

  test("refuses configurations that would weaken verification", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const spki = await exportSPKI(pair.publicKey);
    const base = { issuer: ISSUER, audience: AUDIENCE };
    const refused = (options: Parameters<typeof JwtVerifier.create>[0]) =>
      expect(JwtVerifier.create(options, clock)).rejects.toThrow(TypeError);
    await refused({ ...base, keyFile: await exportPKCS8(pair.privateKey) });
    await refused({ ...base, keyFile: JSON.stringify(await exportJWK(pair.privateKey)) });
    await refused({ ...base, keyFile: spki, algorithms: ["HS256"] });
    await refused({ ...base, keyFile: spki, algorithms: ["none"] });
    await refused({ ...base, keyFile: spki, issuer: [] });
    await refused({ ...base, keyFile: spki, audience: "" });
    await refused({ ...base, hmacSecret: new Uint8Array(8) });
    await refused({ ...base });
    await refused({ ...base, keyFile: spki, jwksUrl: "https://idp.example/jwks" });
    await refused({ ...base, keyFile: "not a key" });
  });
});
