/**
 * Turns the `authorization` metadata of a call into a `Principal`: `Bearer trls_…` is an API
 * key, any other bearer token a JWT (when JWT verification is configured); a request with more
 * than one `authorization` value is refused whatever they hold. A credential that verifies is
 * served, always. A refusal is UNAUTHENTICATED ("invalid or missing credentials", whatever the
 * reason), audited and counted by the failure limiter against the peer's address and the key id
 * it named; while either is throttled, failing attempts are answered RESOURCE_EXHAUSTED instead
 * and audited as one line per throttled source per window (`FailureLimiter`).
 */
import { TrellisError } from "../core/errors.js";
import { looksLikeApiKey, parseApiKey } from "./api-key-token.js";
import type { ApiKeys } from "./api-keys.js";
import type { AuditLog, AuthFailureEvent } from "./audit-log.js";
import {
  type AttemptSource,
  type FailureLimiter,
  peerAddress,
  type ThrottledWindow,
} from "./failure-limiter.js";
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

type Credential = AuthFailureEvent["credential"];

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
   * @param authorization every `authorization` metadata value of the call (more than one is
   *   refused), or the one value
   * @param peer the grpc-js peer string of the connection
   * @param method `Service/Method`, for the audit log
   */
  authenticate(
    authorization: string | readonly string[] | undefined,
    peer: string,
    method: string,
  ): Principal | Promise<Principal> {
    this.#auditThrottled(this.#limiter.takeEnded());
    const values = typeof authorization === "string" ? [authorization] : (authorization ?? []);
    // The hot path: a credential verified before answers synchronously, without a promise.
    const token = values.length === 1 ? BEARER.exec(values[0]!)?.[1] : undefined;
    if (token !== undefined) {
      const known = looksLikeApiKey(token)
        ? this.#apiKeys.verifyCached(token)
        : this.#jwt?.verifyCached(token);
      if (known !== undefined) return known;
    }
    return this.#verify(values, token, peer, method);
  }

  /** Writes the audit lines of throttled windows still open (at shutdown). */
  flush(): void {
    this.#auditThrottled(this.#limiter.drain());
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
    values: readonly string[],
    token: string | undefined,
    peer: string,
    method: string,
  ): Promise<Principal> {
    const credential: Credential =
      values.length === 0
        ? "none"
        : token === undefined
          ? "other"
          : looksLikeApiKey(token)
            ? "api_key"
            : JWT_SHAPE.test(token)
              ? "jwt"
              : "other";
    try {
      if (values.length > 1) {
        throw new AuthFailure("duplicate_authorization", "more than one authorization value");
      }
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
      const keyId = err.keyId ?? (credential === "api_key" ? parseApiKey(token!)?.id : undefined);
      const source: AttemptSource = {
        address: this.#address(peer),
        ...(keyId !== undefined ? { keyId } : {}),
      };
      const throttledMs = this.#limiter.throttledFor(source);
      if (throttledMs > 0) {
        this.#limiter.recordRefusal(source);
        throw new TrellisError(
          "RESOURCE_EXHAUSTED",
          `too many failed authentications; retry in ${Math.ceil(throttledMs / 1000)} s`,
        );
      }
      this.#limiter.recordFailure(source);
      this.#audit.authFailure({
        method,
        peer,
        reason: err.reason,
        credential,
        ...(keyId !== undefined ? { keyId } : {}),
      });
      throw new TrellisError("UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
    }
  }

  #auditThrottled(windows: readonly ThrottledWindow[]): void {
    for (const window of windows) {
      this.#audit.authThrottled({
        ...window.source,
        refused: window.refused,
        from: new Date(window.from).toISOString(),
        until: new Date(window.until).toISOString(),
      });
    }
  }
}
