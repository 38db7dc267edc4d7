/**
 * The audit log: every write and every refused credential, one JSON line each (refusals of a
 * throttled source: one line per window that counts them), apart from the request log so that
 * it can be kept longer and shipped elsewhere. It never holds secrets, tokens or tuple
 * contents.
 */
import type { Logger } from "pino";
import type { AuthFailureReason } from "./principal.js";

export interface AuthFailureEvent {
  readonly method: string;
  readonly peer: string;
  readonly reason: AuthFailureReason;
  /** What was presented: an API key, a JWT, nothing, or something else. */
  readonly credential: "api_key" | "jwt" | "none" | "other";
  /** The key id a refused API key named (never its secret). */
  readonly keyId?: string;
}

/**
 * Failing attempts refused while their source was throttled (see `FailureLimiter`): one line
 * per throttled source per window, written when the window ends (or at shutdown), in place of
 * one `auth_failure` line each.
 */
export interface AuthThrottledEvent {
  /** The throttled address (an IPv6 one as its /64), or the throttled API-key id. */
  readonly address?: string;
  readonly keyId?: string;
  /** How many failing attempts were refused with RESOURCE_EXHAUSTED in the window. */
  readonly refused: number;
  /** The window, as ISO 8601 times. */
  readonly from: string;
  readonly until: string;
}

export interface WriteEvent {
  readonly method: string;
  readonly requestId: string;
  readonly peer: string;
  readonly tenant: string;
  readonly caller: string;
  /** The gRPC status name the call ended with: refused writes are audited too. */
  readonly code: string;
  /** What the handler chose to record: counts, the new revision, a created key's id. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface AuditLog {
  authFailure(event: AuthFailureEvent): void;
  authThrottled(event: AuthThrottledEvent): void;
  write(event: WriteEvent): void;
}

/** Audit lines through pino, each marked `audit: true` with an `event` name. */
export class PinoAuditLog implements AuditLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger.child({ audit: true });
  }

  authFailure(event: AuthFailureEvent): void {
    this.#logger.warn({ event: "auth_failure", ...event }, "authentication refused");
  }

  authThrottled(event: AuthThrottledEvent): void {
    this.#logger.warn({ event: "auth_throttled", ...event }, "failing authentications throttled");
  }

  write(event: WriteEvent): void {
    this.#logger.info({ event: "write", ...event }, "write");
  }
}
