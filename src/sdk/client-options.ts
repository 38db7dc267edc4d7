/**
 * `TrellisClientOptions`: every option documented on its field, defaulted in
 * `CLIENT_DEFAULTS`, and checked when the client is made, with a TypeError naming the option.
 */
import type { TrellisError } from "../core/errors.js";
import {
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from "./retry-policy.js";

/** TLS settings; PEM contents (not paths). */
export interface ClientTlsOptions {
  /** Root certificates to trust instead of the system's. */
  readonly ca?: string | Uint8Array;
  /** Client certificate chain, for mutual TLS (with `key`). */
  readonly cert?: string | Uint8Array;
  /** Client private key, for mutual TLS (with `cert`). */
  readonly key?: string | Uint8Array;
}

/** What `onRetry` is told before the client waits and tries a call again. */
export interface RetryEvent {
  /** `Service/Method`, e.g. `PermissionService/Check`. */
  readonly method: string;
  /** 1 for the first retry. */
  readonly retry: number;
  /** How long the client waits before it. */
  readonly delayMs: number;
  /** Why the previous try failed (always UNAVAILABLE). */
  readonly error: TrellisError;
}

export interface TrellisClientOptions {
  /** `host:port` of a Trellis server, e.g. `127.0.0.1:50051` (any grpc-js target). */
  readonly address: string;
  /**
   * A JWT or an API key (`trls_<id>_<secret>`), sent as `authorization: Bearer <token>` on
   * every call. Default: none.
   */
  readonly token?: string;
  /**
   * `true`: TLS with the system's roots; an object: TLS with these roots or client
   * certificate; `false`: plaintext. Default: plaintext for a loopback address (`127.x`,
   * `::1`, `localhost`, a unix socket), TLS for any other, so that a token never crosses a
   * network in clear unless asked to.
   */
  readonly tls?: boolean | ClientTlsOptions;
  /**
   * The tenant to act on, sent as `trellis-tenant` metadata. Honoured by servers in
   * insecure-dev mode only; otherwise the tenant is the one the token belongs to. Default:
   * none (the server's default tenant).
   */
  readonly tenant?: string;
  /**
   * Milliseconds a call may take, retries included, unless the call says otherwise
   * (`{ deadlineMs }`; `Infinity` for none). A stream must be read to its end within it. Watch
   * has no deadline unless given one. Default 30 000.
   */
  readonly deadlineMs?: number;
  /**
   * Retries of calls that failed with UNAVAILABLE, with exponential backoff and jitter: a
   * number (how many) or the full policy. Default 3 retries from 50 ms up to 2 s.
   */
  readonly retries?: number | RetryOptions;
  /** Told about every retry before its wait (for logs or metrics). */
  readonly onRetry?: (event: RetryEvent) => void;
}

/** Per-call options of every `TrellisClient` method. */
export interface CallOptions {
  /**
   * Milliseconds this call may take, retries included (a stream: until its last message is
   * read); `Infinity` for no deadline.
   */
  readonly deadlineMs?: number;
  /** Cancels the call; it then fails with CANCELLED. */
  readonly signal?: AbortSignal;
}

export const CLIENT_DEFAULTS = {
  deadlineMs: 30_000,
} as const;

export interface ResolvedClientOptions {
  readonly address: string;
  readonly token: string | undefined;
  readonly tls: false | ClientTlsOptions;
  readonly tenant: string | undefined;
  readonly deadlineMs: number;
  readonly retries: ResolvedRetryOptions;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
}

export function checkDeadlineMs(value: unknown, name: string): number {
  if (
    typeof value !== "number" ||
    Number.isNaN(value) ||
    value <= 0 ||
    (!Number.isFinite(value) && value !== Number.POSITIVE_INFINITY)
  ) {
    throw new TypeError(
      `${name} must be a positive number of milliseconds or Infinity, got ${String(value)}`,
    );
  }
  return value;
}

function optionalString(
  options: TrellisClientOptions,
  name: "token" | "tenant",
): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || /[\r\n]/.test(value)) {
    throw new TypeError(`option ${name} must be a non-empty string on one line`);
  }
  return value;
}

/** Hosts that never leave the machine. */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith("unix:")) return true;
  const target = address.replace(/^[a-z0-9+.-]+:\/\/\/?/i, "");
  const host = target.startsWith("[")
    ? target.slice(1, target.indexOf("]"))
    : target.includes(":") && target.indexOf(":") === target.lastIndexOf(":")
      ? target.slice(0, target.indexOf(":"))
      : target;
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function resolveClientOptions(options: TrellisClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("TrellisClient needs an options object with an address");
  }
  const known = new Set(["address", "token", "tls", "tenant", "deadlineMs", "retries", "onRetry"]);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`unknown option ${name}`);
  }
  if (typeof options.address !== "string" || options.address.trim() === "") {
    throw new TypeError("option address must be a non-empty string such as 127.0.0.1:50051");
  }
  const tls = options.tls ?? !isLoopbackAddress(options.address);
  if (typeof tls !== "boolean" && (tls === null || typeof tls !== "object")) {
    throw new TypeError("option tls must be a boolean or { ca?, cert?, key? }");
  }
  if (typeof tls === "object" && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("options tls.cert and tls.key go together (mutual TLS)");
  }
  if (options.onRetry !== undefined && typeof options.onRetry !== "function") {
    throw new TypeError("option onRetry must be a function");
  }
  return {
    address: options.address,
    token: optionalString(options, "token"),
    tls: tls === true ? {} : tls,
    tenant: optionalString(options, "tenant"),
    deadlineMs:
      options.deadlineMs === undefined
        ? CLIENT_DEFAULTS.deadlineMs
        : checkDeadlineMs(options.deadlineMs, "option deadlineMs"),
    retries: resolveRetryOptions(options.retries),
    onRetry: options.onRetry,
  };
}
