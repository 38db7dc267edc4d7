/**
 * JWT credentials, verified with jose against configured keys: a PEM public key or
 * certificate, a JWK or JWKS file, a JWKS URL, or (only when configured) an HMAC secret.
 * `exp` is required; `iss` and `aud` must match; the algorithm must be on the allowlist (which
 * never includes `none`, and includes HMAC only with a configured secret). The tenant and the
 * scopes come from configurable claims.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  importSPKI,
  importX509,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { LRUCache } from "lru-cache";
import type { Clock } from "../core/clock.js";
import { AuthFailure, type Principal } from "./principal.js";
import { knownScopes } from "./scopes.js";

const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

export interface JwtOptions {
  /** A PEM public key (SPKI) or certificate, a JWK, or a JWKS, as file contents. */
  readonly keyFile?: string;
  /** A JWKS URL, fetched and cached by jose (keys rotate without a restart). */
  readonly jwksUrl?: string;
  /** An HMAC secret; enables HS256/384/512, which are otherwise refused. */
  readonly hmacSecret?: Uint8Array;
  /** Accepted `iss` values (at least one). */
  readonly issuer: string | readonly string[];
  /** Accepted `aud` values (at least one). */
  readonly audience: string | readonly string[];
  /** Default: every asymmetric algorithm jose supports, plus HS* when `hmacSecret` is set. */
  readonly algorithms?: readonly string[];
  /** The claim naming the tenant. Default `tenant`. */
  readonly tenantClaim?: string;
  /** The claim holding scopes: a space-separated string or an array. Default `scope`. */
  readonly scopesClaim?: string;
  /** Leeway for `exp` and `nbf`, seconds. Default 10. */
  readonly clockToleranceSec?: number;
}

/** How long a verified token is remembered at most (and never past its `exp`). */
const VERIFIED_TTL_MS = 60_000;

export class JwtVerifier {
  readonly #getKey: JWTVerifyGetKey | Uint8Array;
  readonly #options: JwtOptions;
  readonly #algorithms: string[];
  readonly #clock: Clock;
  /** Verified tokens, so the hot path skips the signature check of a token seen before. */
  readonly #verified: LRUCache<string, { principal: Principal; until: number }>;

  private constructor(getKey: JWTVerifyGetKey | Uint8Array, options: JwtOptions, clock: Clock) {
    this.#getKey = getKey;
    this.#options = options;
    this.#clock = clock;
    const allowed: readonly string[] =
      options.hmacSecret !== undefined ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
    const algorithms = options.algorithms ?? allowed;
    for (const alg of algorithms) {
      if (!allowed.includes(alg)) {
        throw new TypeError(
          `JWT algorithm ${alg} is not allowed with the configured keys: choose among ${allowed.join(", ")}`,
        );
      }
    }
    if (algorithms.length === 0) throw new TypeError("at least one JWT algorithm is required");
    this.#algorithms = [...algorithms];
    this.#verified = new LRUCache({ max: 10_000 });
  }

  /** Reads and checks the configuration; TypeError naming the option otherwise. */
  static async create(options: JwtOptions, clock: Clock): Promise<JwtVerifier> {
    const sources = [options.keyFile, options.jwksUrl, options.hmacSecret].filter(
      (s) => s !== undefined,
    );
    if (sources.length !== 1) {
      throw new TypeError(
        "JWT verification needs exactly one of a key file, a JWKS URL or an HMAC secret",
      );
    }
    if (toList(options.issuer).length === 0)
      throw new TypeError("JWT verification needs an issuer");
    if (toList(options.audience).length === 0)
      throw new TypeError("JWT verification needs an audience");
    if (options.hmacSecret !== undefined && options.hmacSecret.length < 32) {
      throw new TypeError("the JWT HMAC secret must be at least 32 bytes");
    }
    let getKey: JWTVerifyGetKey | Uint8Array;
    if (options.hmacSecret !== undefined) getKey = options.hmacSecret;
    else if (options.jwksUrl !== undefined) getKey = createRemoteJWKSet(new URL(options.jwksUrl));
    else getKey = keyFromFile(options.keyFile!);
    return new JwtVerifier(getKey, options, clock);
  }

  /** The principal of a token verified before and not yet due again; undefined: `verify`. */
  verifyCached(token: string): Principal | undefined {
    const known = this.#verified.get(token);
    return known !== undefined && known.until > this.#clock.now() ? known.principal : undefined;
  }

  async verify(token: string): Promise<Principal> {
    const now = this.#clock.now();
    const known = this.verifyCached(token);
    if (known !== undefined) return known;
    let payload: JWTPayload;
    try {
      const options = {
        issuer: toList(this.#options.issuer),
        audience: toList(this.#options.audience),
        algorithms: this.#algorithms,
        clockTolerance: this.#options.clockToleranceSec ?? 10,
        requiredClaims: ["exp"],
        currentDate: new Date(now),
      };
      const key = this.#getKey;
      ({ payload } =
        key instanceof Uint8Array
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) {
        throw new AuthFailure("jwt_invalid", `${err.code}: ${err.message}`);
      }
      if (err instanceof TypeError || err instanceof SyntaxError) {
        throw new AuthFailure("jwt_invalid", err.message);
      }
      throw err;
    }
    const tenantClaim = this.#options.tenantClaim ?? "tenant";
    const tenant = payload[tenantClaim];
    if (typeof tenant !== "string" || tenant === "") {
      throw new AuthFailure("no_tenant_claim", `the token has no string claim ${tenantClaim}`);
    }
    const principal: Principal = {
      tenant,
      id: `jwt:${typeof payload.sub === "string" ? payload.sub : "?"}`,
      scopes: knownScopes(scopeNames(payload[this.#options.scopesClaim ?? "scope"])),
      kind: "jwt",
    };
    const until = Math.min((payload.exp ?? 0) * 1000, now + VERIFIED_TTL_MS);
    this.#verified.set(token, { principal, until });
    return principal;
  }
}

function toList(value: string | readonly string[]): string[] {
  return (typeof value === "string" ? [value] : [...value]).filter((v) => v !== "");
}

function scopeNames(claim: unknown): string[] {
  if (typeof claim === "string") return claim.split(" ").filter((s) => s !== "");
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === "string");
  return [];
}

/**
 * A key resolver over file contents: PEM (SPKI public key or X.509 certificate; imported per
 * algorithm on first use), a JWK, or a JWKS.
 */
function keyFromFile(text: string): JWTVerifyGetKey {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN")) {
    const isCertificate = trimmed.includes("BEGIN CERTIFICATE");
    if (!isCertificate && !trimmed.includes("BEGIN PUBLIC KEY")) {
      throw new TypeError(
        "the JWT key file must hold a PUBLIC KEY or a CERTIFICATE (never a private key)",
      );
    }
    const byAlg = new Map<string, ReturnType<typeof importSPKI>>();
    return async (header) => {
      let key = byAlg.get(header.alg);
      if (key === undefined) {
        key = isCertificate ? importX509(trimmed, header.alg) : importSPKI(trimmed, header.alg);
        byAlg.set(header.alg, key);
      }
      return key;
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new TypeError("the JWT key file is neither PEM nor JSON (JWK or JWKS)");
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new TypeError("the JWT key file must hold a JWK or a JWKS object");
  }
  const keys = Array.isArray((parsed as { keys?: unknown }).keys)
    ? (parsed as { keys: JWK[] }).keys
    : [parsed as JWK];
  for (const jwk of keys) {
    if ("d" in jwk || jwk.kty === "oct") {
      throw new TypeError(
        "the JWT key file must hold public keys only (a JWK with a private or symmetric part was found)",
      );
    }
  }
  return createLocalJWKSet({ keys });
}
