// How a real server refuses credentials: JWTs that cannot be verified against the configured
// key, the failure limiter's audit lines, requests with several authorization headers, JWT
// claims that would flood the log, and admin keys minting keys beyond their own scopes.
import { generateKeyPairSync } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import { generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, test } from "vitest";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import { JwtVerifier, PinoAuditLog } from "../../src/auth/index.js";
import { CheckRequest } from "../../src/gen/trellis/v1/permission_service.js";
import type { Datastore } from "../../src/store/datastore.js";
import { ManualClock } from "../support/manual-clock.js";
import {
  type ApiFixture,
  type CallOpts,
  capturedLog,
  DEFAULT_TENANT,
  expectCode,
  obj,
  startApiFixture,
  subj,
} from "./api-fixture.js";
import { rawGrpcCall } from "./raw-http2.js";

const ISSUER = "https://idp.example";
const AUDIENCE = "trellis";
const checkReadme = {
  resource: obj("document:readme"),
  permission: "view",
  subject: subj("user:alice"),
};

function bearer(token: string): CallOpts {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return { metadata };
}

async function storedKey(store: Datastore, scopes: string[], now: Date): Promise<string> {
  const minted = mintApiKey();
  await store.createApiKey({
    id: minted.id,
    tenant: DEFAULT_TENANT,
    secretHash: minted.secretHash,
    scopes,
    description: "",
    createdAt: now,
  });
  return minted.token;
}

let api: ApiFixture | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A server whose JWTs are verified with an RSA public key (PEM), on a clock the test moves. */
async function rsaServer(maxFailuresPerMinute: number) {
  const clock = new ManualClock(new Date());
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const log = capturedLog("trace");
  const verifier = await JwtVerifier.create(
    {
      keyFile: rsa.publicKey.export({ type: "spki", format: "pem" }).toString(),
      issuer: ISSUER,
      audience: AUDIENCE,
    },
    clock,
  );
  api = await startApiFixture({
    auth: { jwt: verifier, maxFailuresPerMinute },
    logger: log.logger,
    audit: new PinoAuditLog(log.logger),
    engineOptions: { clock },
    tuples: ["document:readme#viewer@user:alice"],
  });
  const jwt = (
    key: Parameters<SignJWT["sign"]>[0],
    alg: string,
    claims: Record<string, unknown> = {},
  ) => {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ tenant: DEFAULT_TENANT, scope: "check", ...claims })
      .setProtectedHeader({ alg })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(typeof claims.sub === "string" ? claims.sub : "svc")
      .setExpirationTime(now + 300)
      .sign(key);
  };
  return { api, clock, log, rsa, jwt };
}

describe("JWTs that cannot be verified against the key", () => {
  test("ES256, ES512 and EdDSA against an RSA key are UNAUTHENTICATED, counted and audited, with no stack trace", async () => {
    const { api, log, rsa, jwt } = await rsaServer(5);
    const tokens: string[] = [];
    for (const alg of ["ES256", "ES512", "EdDSA", "ES256", "ES512", "EdDSA"]) {
      tokens.push(await jwt((await generateKeyPair(alg)).privateKey, alg));
    }
    for (const token of tokens.slice(0, 5)) {
      await expectCode(api.check(checkReadme, bearer(token)), status.UNAUTHENTICATED);
    }
    // Counted: the address is throttled now...
    await expectCode(api.check(checkReadme, bearer(tokens[5]!)), status.RESOURCE_EXHAUSTED);
    // ...while a token the key verifies is served.
    await api.check(checkReadme, bearer(await jwt(rsa.privateKey, "RS256")));
    const audited = log.lines.filter((l) => l.event === "auth_failure");
    expect(audited).toHaveLength(5);
    expect(audited.every((l) => l.reason === "jwt_invalid" && l.credential === "jwt")).toBe(true);
    expect(log.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(JSON.stringify(log.lines)).not.toMatch(/DOMException|\bstack\b/);
  });
});

describe("the failure limiter on a real server", () => {
  test("refusals while throttled are one audit line per address per window", async () => {
    const { api, clock, log } = await rsaServer(5);
    const valid = bearer(await storedKey(api.store, ["check"], new Date(clock.now())));
    for (let i = 0; i < 5; i++) {
      await expectCode(api.check(checkReadme, bearer("trls_junk")), status.UNAUTHENTICATED);
    }
    for (let i = 0; i < 200; i++) {
      await expectCode(api.check(checkReadme, bearer("trls_junk")), status.RESOURCE_EXHAUSTED);
    }
    await api.check(checkReadme, valid);
    expect(log.lines.filter((l) => l.event === "auth_failure")).toHaveLength(5);
    expect(log.lines.filter((l) => l.event === "auth_throttled")).toHaveLength(0);
    clock.advance(60_000);
    await api.check(checkReadme, valid);
    const throttled = log.lines.filter((l) => l.event === "auth_throttled");
    expect(throttled).toEqual([
      expect.objectContaining({ audit: true, address: "127.0.0.1", refused: 200 }),
    ]);
    // A new window starts afresh.
    await expectCode(api.check(checkReadme, bearer("trls_junk")), status.UNAUTHENTICATED);
  });
});

describe("several authorization headers", () => {
  test("are refused as UNAUTHENTICATED and audited, whatever they hold", async () => {
    const { api, clock, log } = await rsaServer(1000);
    const token = await storedKey(api.store, ["check"], new Date(clock.now()));
    const request = CheckRequest.encode(CheckRequest.fromPartial(checkReadme)).finish();
    const call = (...values: string[]) =>
      rawGrpcCall(
        api.address,
        "/trellis.v1.PermissionService/Check",
        values.map((v) => ["authorization", v] as const),
        request,
      );
    expect((await call(`Bearer ${token}`)).code).toBe(status.OK);
    expect((await call(`Bearer ${token}`, `Bearer ${token}`)).code).toBe(status.UNAUTHENTICATED);
    expect((await call(`Bearer ${token}`, "Bearer junk")).code).toBe(status.UNAUTHENTICATED);
    expect((await call("Bearer junk", `Bearer ${token}`)).code).toBe(status.UNAUTHENTICATED);
    expect(
      log.lines.filter((l) => l.event === "auth_failure" && l.reason === "duplicate_authorization"),
    ).toHaveLength(3);
  });
});

describe("JWT claims that reach the log", () => {
  test("a 5000-character tenant is refused and never logged; a long subject is logged cut", async () => {
    const { api, log, rsa, jwt } = await rsaServer(1000);
    const tenant = "t".repeat(5000);
    await expectCode(
      api.check(checkReadme, bearer(await jwt(rsa.privateKey, "RS256", { tenant }))),
      status.UNAUTHENTICATED,
    );
    await api.check(
      checkReadme,
      bearer(await jwt(rsa.privateKey, "RS256", { sub: "s".repeat(5000) })),
    );
    const text = JSON.stringify(log.lines);
    expect(text).not.toContain("t".repeat(200));
    expect(text).not.toContain("s".repeat(200));
    const served = log.lines.find((l) => l.msg === "request" && l.code === "OK");
    expect(String(served?.caller).length).toBeLessThanOrEqual(132);
  });
});

describe("an admin key minting a key", () => {
  test("may grant only the scopes it holds itself", async () => {
    const { api, clock } = await rsaServer(1000);
    const admin = bearer(await storedKey(api.store, ["admin", "check"], new Date(clock.now())));
    await api.createApiKey({ scopes: ["check"] }, admin);
    await api.createApiKey({ scopes: ["admin", "check"] }, admin);
    for (const scopes of [["write"], ["check", "schema"], ["read"]]) {
      await expectCode(api.createApiKey({ scopes }, admin), status.PERMISSION_DENIED);
    }
    await expectCode(api.createApiKey({ scopes: ["root"] }, admin), status.INVALID_ARGUMENT);
    const all = ["check", "read", "write", "schema", "watch", "admin"];
    const operator = bearer(await storedKey(api.store, all, new Date(clock.now())));
    expect((await api.createApiKey({ scopes: all }, operator)).key?.scopes).toEqual(all);
  });
});
