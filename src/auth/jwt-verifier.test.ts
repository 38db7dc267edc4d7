// JWT verification against real keys and real key files, with a clock the test moves: the
// allowlist of the key's family, every unverifiable token an AuthFailure, key rotation in a
// watched key file and at a JWKS URL, and the claims that end up in logs.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { ManualClock } from "../../test/support/manual-clock.js";
import { TrellisError } from "../core/errors.js";
import { JwtVerifier } from "./jwt-verifier.js";
import { AuthFailure } from "./principal.js";

const ISSUER = "https://idp.example";
const AUDIENCE = "trellis";
const clock = new ManualClock(new Date("2031-01-01T00:00:00Z"));
const dir = mkdtempSync(join(tmpdir(), "trellis-jwt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type SigningKey = Parameters<SignJWT["sign"]>[0];

function sign(
  key: SigningKey,
  alg: string,
  claims: Record<string, unknown> = {},
  kid?: string,
): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT({ tenant: "t1", scope: "check", ...claims })
    .setProtectedHeader({ alg, ...(kid !== undefined ? { kid } : {}) })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(typeof claims.sub === "string" ? claims.sub : "svc")
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(key);
}

/** What `verify` did with a token: the reason of its AuthFailure, or "accepted". */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "accepted",
    (err: unknown) => (err instanceof AuthFailure ? err.reason : `thrown: ${String(err)}`),
  );
}

const verifiers: JwtVerifier[] = [];
afterEach(() => {
  for (const v of verifiers.splice(0)) v.close();
});

async function verifierOf(
  options: Omit<Parameters<typeof JwtVerifier.create>[0], "issuer" | "audience">,
  events?: Parameters<typeof JwtVerifier.create>[2],
): Promise<JwtVerifier> {
  const v = await JwtVerifier.create(
    { issuer: ISSUER, audience: AUDIENCE, ...options },
    clock,
    events,
  );
  verifiers.push(v);
  return v;
}

describe("the default allowlist is the configured key's family", () => {
  test("an RSA key: RS and PS pass; ES256, ES512, EdDSA tokens are refused as invalid, never thrown", async () => {
    // A KeyObject signs with either RSA scheme.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
    const verifier = await verifierOf({ keyFile: pem });
    expect(await outcome(verifier.verify(await sign(rsa.privateKey, "RS256")))).toBe("accepted");
    expect(await outcome(verifier.verify(await sign(rsa.privateKey, "PS512")))).toBe("accepted");
    for (const alg of ["ES256", "ES512", "EdDSA"]) {
      const other = await generateKeyPair(alg);
      // Presented against the RSA key: jose would ask WebCrypto to import it as EC or OKP.
      expect(await outcome(verifier.verify(await sign(other.privateKey, alg)))).toBe("jwt_invalid");
    }
  });

  test("an EC key allows its curve's ES only; an Ed25519 JWK allows EdDSA only", async () => {
    const p384 = await generateKeyPair("ES384");
    const ec = await verifierOf({ keyFile: await exportSPKI(p384.publicKey) });
    expect(await outcome(ec.verify(await sign(p384.privateKey, "ES384")))).toBe("accepted");
    const p256 = await generateKeyPair("ES256");
    expect(await outcome(ec.verify(await sign(p256.privateKey, "ES256")))).toBe("jwt_invalid");

    const ed = await generateKeyPair("EdDSA");
    const okp = await verifierOf({ keyFile: JSON.stringify(await exportJWK(ed.publicKey)) });
    expect(await outcome(okp.verify(await sign(ed.privateKey, "EdDSA")))).toBe("accepted");
    const rsa = await generateKeyPair("RS256");
    expect(await outcome(okp.verify(await sign(rsa.privateKey, "RS256")))).toBe("jwt_invalid");
  });

  test("an explicit allowlist must fit the key", async () => {
    const rsa = await generateKeyPair("RS256");
    const keyFile = await exportSPKI(rsa.publicKey);
    await expect(verifierOf({ keyFile, algorithms: ["ES256"] })).rejects.toThrow(TypeError);
    await expect(verifierOf({ keyFile, algorithms: ["EdDSA"] })).rejects.toThrow(TypeError);
    const narrowed = await verifierOf({ keyFile, algorithms: ["PS256"] });
    expect(await outcome(narrowed.verify(await sign(rsa.privateKey, "RS256")))).toBe("jwt_invalid");
  });
});

describe("claims that reach logs", () => {
  test("a tenant claim that is no tenant id is refused; a long subject is cut in the caller id", async () => {
    const ec = await generateKeyPair("ES256");
    const verifier = await verifierOf({ keyFile: await exportSPKI(ec.publicKey) });
    expect(
      await outcome(
        verifier.verify(await sign(ec.privateKey, "ES256", { tenant: "t".repeat(5000) })),
      ),
    ).toBe("invalid_tenant_claim");
    expect(
      await outcome(verifier.verify(await sign(ec.privateKey, "ES256", { tenant: "a b\n" }))),
    ).toBe("invalid_tenant_claim");
    const principal = await verifier.verify(
      await sign(ec.privateKey, "ES256", { sub: "s".repeat(5000) }),
    );
    expect(principal.id.length).toBeLessThanOrEqual(132);
    expect(principal.id.startsWith("jwt:sss")).toBe(true);
  });
});

describe("key rotation", () => {
  async function jwksOf(
    ...keys: { pair: Awaited<ReturnType<typeof generateKeyPair>>; kid: string }[]
  ): Promise<{ keys: JWK[] }> {
    return {
      keys: await Promise.all(
        keys.map(async ({ pair, kid }) => ({
          ...(await exportJWK(pair.publicKey)),
          kid,
          alg: "ES256",
        })),
      ),
    };
  }

  test("a key removed from a JWKS file stops verifying within the check interval, remembered tokens too", async () => {
    const a = await generateKeyPair("ES256");
    const b = await generateKeyPair("ES256");
    const path = join(dir, "rotate-interval.json");
    writeFileSync(path, JSON.stringify(await jwksOf({ pair: a, kid: "a" }, { pair: b, kid: "b" })));
    const verifier = await verifierOf({ keyFilePath: path, keyFileCheckIntervalMs: 5000 });
    const tokenA = await sign(a.privateKey, "ES256", {}, "a");
    const tokenB = await sign(b.privateKey, "ES256", {}, "b");
    expect(await outcome(verifier.verify(tokenA))).toBe("accepted");
    expect(verifier.verifyCached(tokenA)).toBeDefined();

    // Key a is compromised: the operator removes it from the file.
    writeFileSync(path, JSON.stringify(await jwksOf({ pair: b, kid: "b" })));
    clock.advance(5000);
    expect(verifier.verifyCached(tokenA)).toBeUndefined();
    expect(await outcome(verifier.verify(tokenA))).toBe("jwt_invalid");
    expect(await outcome(verifier.verify(tokenB))).toBe("accepted");
  });

  test("a change reported by the file system is read without waiting for the interval", async () => {
    const a = await generateKeyPair("ES256");
    const b = await generateKeyPair("ES256");
    const path = join(dir, "rotate-watch.json");
    writeFileSync(path, JSON.stringify(await jwksOf({ pair: a, kid: "a" })));
    let changed!: () => void;
    const reloaded = new Promise<void>((resolve) => {
      changed = resolve;
    });
    const verifier = await verifierOf(
      { keyFilePath: path, keyFileCheckIntervalMs: 3_600_000 },
      { onKeysChanged: () => changed() },
    );
    const tokenA = await sign(a.privateKey, "ES256", {}, "a");
    expect(await outcome(verifier.verify(tokenA))).toBe("accepted");
    writeFileSync(path, JSON.stringify(await jwksOf({ pair: b, kid: "b" })));
    await reloaded;
    expect(verifier.verifyCached(tokenA)).toBeUndefined();
    expect(await outcome(verifier.verify(tokenA))).toBe("jwt_invalid");
  });

  test("a key file that stops parsing keeps the previous keys", async () => {
    const a = await generateKeyPair("ES256");
    const path = join(dir, "rotate-broken.json");
    writeFileSync(path, JSON.stringify(await jwksOf({ pair: a, kid: "a" })));
    const failures: Error[] = [];
    const verifier = await verifierOf(
      { keyFilePath: path, keyFileCheckIntervalMs: 1000 },
      { onKeysFailed: (err) => failures.push(err) },
    );
    writeFileSync(path, '{"keys": [');
    clock.advance(1000);
    expect(await outcome(verifier.verify(await sign(a.privateKey, "ES256", {}, "a")))).toBe(
      "accepted",
    );
    expect(failures.length).toBeGreaterThan(0);
  });

  describe("at a JWKS URL", () => {
    let served: { keys: JWK[] } | undefined;
    let fetches = 0;
    let server: Server;
    let url: string;

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    test("a key removed at the URL stops verifying once the fetched set is stale", async () => {
      server = createServer((_req, res) => {
        fetches++;
        if (served === undefined) res.writeHead(503).end();
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(served));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
      const a = await generateKeyPair("ES256");
      const b = await generateKeyPair("ES256");
      served = await jwksOf({ pair: a, kid: "a" }, { pair: b, kid: "b" });
      const verifier = await verifierOf({ jwksUrl: url, jwksMaxAgeMs: 60_000 });
      const tokenA = await sign(a.privateKey, "ES256", {}, "a");
      expect(await outcome(verifier.verify(tokenA))).toBe("accepted");
      expect(verifier.verifyCached(tokenA)).toBeDefined();

      served = await jwksOf({ pair: b, kid: "b" });
      clock.advance(59_000);
      // Within the max age the fetched set, and what it verified, still stand.
      expect(verifier.verifyCached(tokenA)).toBeDefined();
      clock.advance(1000);
      expect(verifier.verifyCached(tokenA)).toBeUndefined();
      expect(await outcome(verifier.verify(tokenA))).toBe("jwt_invalid");
      expect(await outcome(verifier.verify(await sign(b.privateKey, "ES256", {}, "b")))).toBe(
        "accepted",
      );
    });

    test("an issuer whose key set cannot be fetched is UNAVAILABLE, not the caller's failure", async () => {
      served = undefined;
      const before = fetches;
      const verifier = await verifierOf({ jwksUrl: url });
      const a = await generateKeyPair("ES256");
      const err = await verifier.verify(await sign(a.privateKey, "ES256", {}, "a")).catch((e) => e);
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe("UNAVAILABLE");
      expect(fetches).toBeGreaterThan(before);
    });
  });
});
