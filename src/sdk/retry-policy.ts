/**
 * When and how long the client waits before trying a call again. Only UNAVAILABLE is retried:
 * it means the call did not reach a working server (connection refused, server shutting down,
 * store unreachable), so the same call may succeed later. Every other code is an answer.
 */
import type { TrellisError } from "../core/errors.js";

export interface RetryOptions {
  /** Tries after the first; 0 turns retrying off. Default 3. */
  readonly maxRetries?: number;
  /** The wait before the first retry, before jitter, in ms. Default 50. */
  readonly initialDelayMs?: number;
  /** The longest wait between two tries, before jitter, in ms. Default 2000. */
  readonly maxDelayMs?: number;
}

export const RETRY_DEFAULTS = {
  maxRetries: 3,
  initialDelayMs: 50,
  maxDelayMs: 2000,
} as const satisfies Required<RetryOptions>;

export type ResolvedRetryOptions = { readonly [K in keyof RetryOptions]-?: number };

/** Checks retry options (a number is `maxRetries`), naming the bad option in a TypeError. */
export function resolveRetryOptions(
  retries: number | RetryOptions | undefined,
): ResolvedRetryOptions {
  const given: RetryOptions =
    typeof retries === "number" ? { maxRetries: retries } : (retries ?? {});
  if (given === null || typeof given !== "object") {
    throw new TypeError(
      "option retries must be a number or { maxRetries, initialDelayMs, maxDelayMs }",
    );
  }
  const resolved = { ...RETRY_DEFAULTS, ...stripUndefined(given) };
  check("retries.maxRetries", resolved.maxRetries, 0, 100);
  check("retries.initialDelayMs", resolved.initialDelayMs, 1, 60_000);
  check("retries.maxDelayMs", resolved.maxDelayMs, resolved.initialDelayMs, 600_000);
  return resolved;
}

function stripUndefined(options: RetryOptions): RetryOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

function check(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
}

/**
 * The wait before retry number `retry` (1-based): exponential, capped, with jitter drawn from
 * the upper half of the interval so that many clients dropped at once do not come back in step
 * while each still waits a predictable minimum.
 */
export function backoffDelayMs(
  retry: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function isRetryable(error: TrellisError): boolean {
  return error.code === "UNAVAILABLE";
}
