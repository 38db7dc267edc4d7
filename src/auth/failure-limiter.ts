/**
 * Failed authentications per peer address, in fixed windows: past `maxFailures` in a window,
 * the address is refused (RESOURCE_EXHAUSTED) until the window ends, whatever it presents.
 * This slows guessing of keys and tokens; it does not limit callers that authenticate.
 */
import type { Clock } from "../core/clock.js";

export interface FailureLimiterOptions {
  readonly clock: Clock;
  /** Failures allowed per address per window. Default 20. */
  readonly maxFailures?: number;
  /** Default 60 000 ms. */
  readonly windowMs?: number;
  /** Addresses tracked at most; the oldest windows are dropped first. Default 100 000. */
  readonly maxAddresses?: number;
}

export class FailureLimiter {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  /** Insertion order is window-start order, so the oldest entries come first. */
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(options: FailureLimiterOptions) {
    this.#clock = options.clock;
    this.#max = options.maxFailures ?? 20;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = options.maxAddresses ?? 100_000;
  }

  /** Milliseconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const window = this.#current(address);
    if (window === undefined || window.failures < this.#max) return 0;
    return window.start + this.#windowMs - this.#clock.now();
  }

  recordFailure(address: string): void {
    const window = this.#current(address);
    if (window !== undefined) {
      window.failures++;
      return;
    }
    if (this.#windows.size >= this.#maxAddresses) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    this.#windows.set(address, { start: this.#clock.now(), failures: 1 });
  }

  #current(address: string): { start: number; failures: number } | undefined {
    const window = this.#windows.get(address);
    if (window === undefined) return undefined;
    if (this.#clock.now() - window.start >= this.#windowMs) {
      this.#windows.delete(address);
      return undefined;
    }
    return window;
  }
}

/** The address part of a grpc-js peer (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`, `1.2.3.4:5`). */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed !== null) return bracketed[1]!;
  const lastColon = bare.lastIndexOf(":");
  // One colon: host:port. Several without brackets: an IPv6 address with no port.
  return lastColon > 0 && bare.indexOf(":") === lastColon ? bare.slice(0, lastColon) : bare;
}
