/**
 * Turns the `authorization` metadata of a call into a `Principal`: `Bearer trls_…` is an API
 * key, any other bearer token a JWT (when JWT verification is configured). Every refusal is
 * audited and counted against the peer's address; the caller learns only "invalid or missing
 * credentials" (UNAUTHENTICATED), or RESOURCE_EXHAUSTED while its address is blocked.
 */
import { TrellisError } from "../core/errors.js";
import { looksLikeApiKey } from "./api-key-token.js";
import type { ApiKeys } from "./api-keys.js";
import type { AuditLog, AuthFailureEvent } from "./audit-log.js";
import { type FailureLimiter, peerAddress } from "./failure-limiter.js";
import type { JwtVerifier } from "./jwt-verifier.js";
import { AuthFailure, type Principal } from "./principal.js";

export const UNAUTHENTICATED_MESSAGE = "invalid or missing credentials";

const BEARER = /^Bearer +(\S+)$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface AuthenticatorOptions {
  readonly apiKeys: ApiKeys;
  /** Absent: JWTs are refused. */
  readonly jwt?: JwtVerifier;
  readonly limiter: FailureLimiter;
  readonly audit: AuditLog;
}

export class Authenticator {
  readonly #apiKeys: ApiKeys;
  readonly #jwt: JwtVerifier | undefined;
  readonly #limiter: FailureLimiter;
  readonly #audit: AuditLog;

  constructor(options: AuthenticatorOptions) {
    this.#apiKeys = options.apiKeys;
    this.#jwt = options.jwt;
    this.#limiter = options.limiter;
    this.#audit = options.audit;
  }

  /**
   * @param authorization the metadata value, if any
   * @param peer the grpc-js peer string of the connection
   * @param method `Service/Method`, for the audit log
   */
  authenticate(
    authorization: string | undefined,
    peer: string,
    method: string,
  ): Principal | Promise<Principal> {
    // The hot path: a credential verified before answers synchronously, without a promise.
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token !== undefined) {
      const known = looksLikeApiKey(token)
        ? this.#apiKeys.verifyCached(token)
        : this.#jwt?.verifyCached(token);
      if (known !== undefined && this.#limiter.blockedFor(this.#address(peer)) === 0) return known;
    }
    return this.#verify(authorization, token, peer, method);
  }

  /** Peer strings repeat per connection; their addresses are parsed once. */
  readonly #addresses = new Map<string, string>();

  #address(peer: string): string {
    let address = this.#addresses.get(peer);
    if (address === undefined) {
      if (this.#addresses.size >= 10_000) this.#addresses.clear();
      address = peerAddress(peer);
      this.#addresses.set(peer, address);
    }
    return address;
  }

  async #verify(
    authorization: string | undefined,
    token: string | undefined,
    peer: string,
    method: string,
  ): Promise<Principal> {
    const address = this.#address(peer);
    const blockedMs = this.#limiter.blockedFor(address);
    if (blockedMs > 0) {
      this.#audit.authFailure({ method, peer, reason: "rate_limited", credential: "other" });
      throw new TrellisError(
        "RESOURCE_EXHAUSTED",
        `too many failed authentications from this address; retry in ${Math.ceil(blockedMs / 1000)} s`,
      );
    }
    const credential: AuthFailureEvent["credential"] =
      token === undefined
        ? authorization === undefined
          ? "none"
          : "other"
        : looksLikeApiKey(token)
          ? "api_key"
          : JWT_SHAPE.test(token)
            ? "jwt"
            : "other";
    try {
      switch (credential) {
        case "none":
          throw new AuthFailure("missing", "no authorization metadata");
        case "other":
          throw new AuthFailure("malformed", "not a bearer API key or JWT");
        case "api_key":
          return await this.#apiKeys.verify(token!);
        case "jwt":
          if (this.#jwt === undefined) {
            throw new AuthFailure("jwt_not_configured", "JWT verification is not configured");
          }
          return await this.#jwt.verify(token!);
      }
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      this.#limiter.recordFailure(address);
      this.#audit.authFailure({
        method,
        peer,
        reason: err.reason,
        credential,
        ...(err.keyId !== undefined ? { keyId: err.keyId } : {}),
      });
      throw new TrellisError("UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
    }
  }
}
