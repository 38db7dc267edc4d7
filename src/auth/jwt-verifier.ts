/**
 * JWT credentials, verified with jose against configured keys: a PEM public key or
 * certificate, a JWK or JWKS file (given as contents, or by path and then watched), a JWKS URL,
 * or (only when configured) an HMAC secret. `exp` is required; `iss` and `aud` must match; the
 * algorithm must be on the allowlist, which defaults to the configured keys' family (RSA → RS
 * and PS, EC → its curve's ES, Ed25519 → EdDSA, a secret → HS; a JWKS URL: every asymmetric
 * one) and never includes `none`. The tenant and the scopes come from configurable claims; the
 * tenant must be a valid tenant id.
 *
 * Every token that does not verify, for whatever reason (a wrong signature, a wrong algorithm
 * for the key, a key jose cannot import), is an `AuthFailure`: refused, counted and audited,
 * never a server error. Only a JWKS URL that cannot be fetched is UNAVAILABLE.
 *
 * Verified tokens are remembered for at most `VERIFIED_TTL_MS` (never past `exp`), and only
 * while the key set they were verified with is current: a rotation (a changed key file, a
 * re-fetched JWKS) makes every remembered token verify again.
 */
import { type JWTPayload, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import type { Clock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import { checkTenantId } from "../core/names.js";
import {
  fixedKeySource,
  type JwtKeyEvents,
  type JwtKeySource,
  KeyFileSource,
  RemoteJwksSource,
  secretKeySource,
} from "./jwt-keys.js";
import { AuthFailure, type Principal } from "./principal.js";
import { knownScopes } from "./scopes.js";

export interface JwtOptions {
  /** A PEM public key (SPKI) or certificate, a JWK, or a JWKS, as file contents (fixed). */
  readonly keyFile?: string;
  /**
   * The path of such a file, read at start and re-read when it changes (see `jwt-keys.ts` for
   * how soon): a key removed from it stops being trusted without a restart.
   */
  readonly keyFilePath?: string;
  /** A JWKS URL, fetched and kept current (keys rotate without a restart). */
  readonly jwksUrl?: string;
  /** An HMAC secret; enables HS256/384/512, which are otherwise refused. */
  readonly hmacSecret?: Uint8Array;
  /** Accepted `iss` values (at least one). */
  readonly issuer: string | readonly string[];
  /** Accepted `aud` values (at least one). */
  readonly audience: string | readonly string[];
  /** Default: the algorithms that fit the configured keys (see the file comment). */
  readonly algorithms?: readonly string[];
  /** The claim naming the tenant. Default `tenant`. */
  readonly tenantClaim?: string;
  /** The claim holding scopes: a space-separated string or an array. Default `scope`. */
  readonly scopesClaim?: string;
  /** Leeway for `exp` and `nbf`, seconds. Default 10. */
  readonly clockToleranceSec?: number;
  /** How soon a change to `keyFilePath` is seen at the latest. Default 5000 ms. */
  readonly keyFileCheckIntervalMs?: number;
  /** How long a key set fetched from `jwksUrl` is used before it is fetched again. Default 300 000 ms. */
  readonly jwksMaxAgeMs?: number;
}

/** How long a verified token is remembered at most (and never past its `exp`). */
const VERIFIED_TTL_MS = 60_000;
/** Characters of a claim kept in a principal's id, which is logged. */
const MAX_LOGGED_CLAIM = 128;

interface Verified {
  readonly principal: Principal;
  readonly until: number;
  /** The key set's version it was verified with. */
  readonly keys: number;
}

export class JwtVerifier {
  readonly #keys: JwtKeySource;
  readonly #options: JwtOptions;
  readonly #clock: Clock;
  /** Verified tokens, so the hot path skips the signature check of a token seen before. */
  readonly #verified = new LRUCache<string, Verified>({ max: 10_000 });

  private constructor(keys: JwtKeySource, options: JwtOptions, clock: Clock) {
    this.#keys = keys;
    this.#options = options;
    this.#clock = clock;
  }

  /** Reads and checks the configuration; TypeError naming the option otherwise. */
  static async create(
    options: JwtOptions,
    clock: Clock,
    events: JwtKeyEvents = {},
  ): Promise<JwtVerifier> {
    const sources = [
      options.keyFile,
      options.keyFilePath,
      options.jwksUrl,
      options.hmacSecret,
    ].filter((s) => s !== undefined);
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
    let keys: JwtKeySource;
    if (options.hmacSecret !== undefined) keys = secretKeySource(options.hmacSecret);
    else if (options.jwksUrl !== undefined) {
      keys = new RemoteJwksSource(new URL(options.jwksUrl), {
        clock,
        events,
        ...(options.jwksMaxAgeMs !== undefined ? { maxAgeMs: options.jwksMaxAgeMs } : {}),
      });
    } else if (options.keyFilePath !== undefined) {
      keys = await KeyFileSource.open(options.keyFilePath, {
        clock,
        events,
        ...(options.keyFileCheckIntervalMs !== undefined
          ? { checkIntervalMs: options.keyFileCheckIntervalMs }
          : {}),
      });
    } else keys = fixedKeySource(options.keyFile!);
    if (options.algorithms !== undefined) {
      const fitting = keys.current().algorithms;
      if (options.algorithms.length === 0) {
        keys.close();
        throw new TypeError("at least one JWT algorithm is required");
      }
      for (const alg of options.algorithms) {
        if (!fitting.includes(alg)) {
          keys.close();
          throw new TypeError(
            `JWT algorithm ${alg} does not fit the configured keys: choose among ${fitting.join(", ")}`,
          );
        }
      }
    }
    return new JwtVerifier(keys, options, clock);
  }

  /** The principal of a token verified before and not yet due again; undefined: `verify`. */
  verifyCached(token: string): Principal | undefined {
    const known = this.#verified.get(token);
    if (known === undefined) return undefined;
    const now = this.#clock.now();
    return known.until > now && known.keys === this.#keys.version && this.#keys.isFresh(now)
      ? known.principal
      : undefined;
  }

  async verify(token: string): Promise<Principal> {
    const now = this.#clock.now();
    if (!this.#keys.isFresh(now)) await this.#keys.refresh(now);
    const known = this.verifyCached(token);
    if (known !== undefined) return known;
    const version = this.#keys.version;
    const keys = this.#keys.current();
    let payload: JWTPayload;
    try {
      const options = {
        issuer: toList(this.#options.issuer),
        audience: toList(this.#options.audience),
        algorithms: [...(this.#options.algorithms ?? keys.algorithms)],
        clockTolerance: this.#options.clockToleranceSec ?? 10,
        requiredClaims: ["exp"],
        currentDate: new Date(now),
      };
      const key = keys.getKey;
      ({ payload } =
        key instanceof Uint8Array
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof TrellisError) throw err;
      // A token that cannot be verified, whatever jose or WebCrypto threw about it (a
      // DOMException for a key that does not fit the algorithm, a JOSEError, a TypeError).
      throw new AuthFailure(
        "jwt_invalid",
        err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      );
    }
    const tenantClaim = this.#options.tenantClaim ?? "tenant";
    const tenant = payload[tenantClaim];
    if (typeof tenant !== "string" || tenant === "") {
      throw new AuthFailure("no_tenant_claim", `the token has no string claim ${tenantClaim}`);
    }
    try {
      checkTenantId(tenant);
    } catch {
      throw new AuthFailure("invalid_tenant_claim", `claim ${tenantClaim} is no valid tenant id`);
    }
    const principal: Principal = {
      tenant,
      id: `jwt:${typeof payload.sub === "string" ? clipClaim(payload.sub) : "?"}`,
      scopes: knownScopes(scopeNames(payload[this.#options.scopesClaim ?? "scope"])),
      kind: "jwt",
    };
    const until = Math.min((payload.exp ?? 0) * 1000, now + VERIFIED_TTL_MS);
    // Remembered only if the keys did not change while it was verified.
    if (this.#keys.version === version) {
      this.#verified.set(token, { principal, until, keys: version });
    }
    return principal;
  }

  /** Stops watching the key file, if one is watched. */
  close(): void {
    this.#keys.close();
  }
}

function clipClaim(value: string): string {
  return value.length > MAX_LOGGED_CLAIM ? `${value.slice(0, MAX_LOGGED_CLAIM - 3)}...` : value;
}

function toList(value: string | readonly string[]): string[] {
  return (typeof value === "string" ? [value] : [...value]).filter((v) => v !== "");
}

function scopeNames(claim: unknown): string[] {
  if (typeof claim === "string") return claim.split(" ").filter((s) => s !== "");
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === "string");
  return [];
}
