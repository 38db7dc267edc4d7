/**
 * Failed authentications, counted in fixed windows per source: per peer address (an IPv6
 * address by its /64, which one host or customer usually holds whole) and per presented API-key
 * id. Past `maxFailures` failures of a source in a window, that source is *throttled* until the
 * window ends: its further failing attempts are answered RESOURCE_EXHAUSTED and counted, not
 * audited one by one — one audit line per throttled source per window says how many there were.
 *
 * Throttling applies to failing attempts only: a credential that verifies is served whatever
 * its address or key id did before, so junk sent through a shared address (a proxy, a NAT, a
 * sidecar) cannot lock out the valid callers behind it. What throttling bounds is the cost of
 * a flood of bad credentials (audit lines, log volume) and the signal a guesser gets; a
 * guesser still learns nothing from a refusal (secrets are 256-bit random, signatures cannot be
 * guessed), and guessing one key id from many addresses is throttled by that key id.
 *
 * Memory is bounded: at most `maxSources` windows per kind of source, the oldest dropped first.
 */
import { isIP } from "node:net";
import type { Clock } from "../core/clock.js";

export interface FailureLimiterOptions {
  readonly clock: Clock;
  /** Failures allowed per source (address or key id) per window. Default 20. */
  readonly maxFailures?: number;
  /** Default 60 000 ms. */
  readonly windowMs?: number;
  /** Windows kept per kind of source; the oldest are dropped first. Default 100 000. */
  readonly maxSources?: number;
}

/** Who a failing attempt is counted against. */
export interface AttemptSource {
  /** The peer's address as `peerAddress` reads it; `limitedAddress` groups it. */
  readonly address: string;
  /** The id of the API key the attempt presented, when it named one. */
  readonly keyId?: string;
}

/** A window in which a source was throttled: one audit line. */
export interface ThrottledWindow {
  readonly source: { readonly address: string } | { readonly keyId: string };
  /** Epoch ms. */
  readonly from: number;
  readonly until: number;
  /** Failing attempts refused while throttled. */
  readonly refused: number;
}

const NONE: readonly ThrottledWindow[] = Object.freeze([]);

interface Window {
  readonly start: number;
  failures: number;
  refused: number;
}

/** Fixed windows per source name, oldest first (a Map keeps insertion order). */
class Windows {
  readonly #windows = new Map<string, Window>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #ended: (name: string, window: Window) => void;

  constructor(max: number, windowMs: number, ended: (name: string, window: Window) => void) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#ended = ended;
  }

  /** The window of `name` open at `now`; an ended one is reported and dropped. */
  current(name: string, now: number): Window | undefined {
    const window = this.#windows.get(name);
    if (window === undefined) return undefined;
    if (now - window.start < this.#windowMs) return window;
    this.#drop(name, window);
    return undefined;
  }

  open(name: string, now: number): Window {
    if (this.#windows.size >= this.#max) {
      const [oldest, window] = this.#windows.entries().next().value!;
      this.#drop(oldest, window);
    }
    const window = { start: now, failures: 0, refused: 0 };
    this.#windows.set(name, window);
    return window;
  }

  /** Drops every window ended at `now` (the oldest come first, so this stops early). */
  sweep(now: number): void {
    for (const [name, window] of this.#windows) {
      if (now - window.start < this.#windowMs) return;
      this.#drop(name, window);
    }
  }

  /** Reports every window with refusals, ended or not, and drops them all. */
  drain(): void {
    for (const [name, window] of this.#windows) this.#drop(name, window);
  }

  /** When the oldest window ends; Infinity without windows. */
  firstEnd(): number {
    for (const window of this.#windows.values()) return window.start + this.#windowMs;
    return Number.POSITIVE_INFINITY;
  }

  #drop(name: string, window: Window): void {
    this.#windows.delete(name);
    if (window.refused > 0) this.#ended(name, window);
  }
}

export class FailureLimiter {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #addresses: Windows;
  readonly #keys: Windows;
  /** Throttled windows that ended and were not taken yet. */
  #ended: ThrottledWindow[] = [];
  /** No window ends before this: `takeEnded` returns at once until then. */
  #nextSweep = Number.POSITIVE_INFINITY;

  constructor(options: FailureLimiterOptions) {
    this.#clock = options.clock;
    this.#max = options.maxFailures ?? 20;
    this.#windowMs = options.windowMs ?? 60_000;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) {
      throw new TypeError(`maxFailures must be a positive integer, got ${this.#max}`);
    }
    if (!Number.isFinite(this.#windowMs) || this.#windowMs <= 0) {
      throw new TypeError(`windowMs must be a positive number, got ${this.#windowMs}`);
    }
    const maxSources = options.maxSources ?? 100_000;
    const report = (source: ThrottledWindow["source"]) => (window: Window) =>
      this.#ended.push({
        source,
        from: window.start,
        until: window.start + this.#windowMs,
        refused: window.refused,
      });
    this.#addresses = new Windows(maxSources, this.#windowMs, (address, window) =>
      report({ address })(window),
    );
    this.#keys = new Windows(maxSources, this.#windowMs, (keyId, window) =>
      report({ keyId })(window),
    );
  }

  /**
   * Milliseconds until a failing attempt from `source` is answered UNAUTHENTICATED again; 0 when
   * it is now. Throttled by its address or by its key id, whichever ends later.
   */
  throttledFor(source: AttemptSource): number {
    const now = this.#clock.now();
    const address = this.#addresses.current(limitedAddress(source.address), now);
    const key = source.keyId === undefined ? undefined : this.#keys.current(source.keyId, now);
    return Math.max(this.#remaining(address, now), this.#remaining(key, now));
  }

  /** A failing attempt that was not throttled: counts against its address and its key id. */
  recordFailure(source: AttemptSource): void {
    const now = this.#clock.now();
    this.#count(this.#addresses, limitedAddress(source.address), now).failures++;
    if (source.keyId !== undefined) this.#count(this.#keys, source.keyId, now).failures++;
  }

  /**
   * A failing attempt refused while throttled: counted in the window of every source that
   * throttles it, for that window's one audit line.
   */
  recordRefusal(source: AttemptSource): void {
    const now = this.#clock.now();
    const address = this.#addresses.current(limitedAddress(source.address), now);
    if (address !== undefined && address.failures >= this.#max) address.refused++;
    const key = source.keyId === undefined ? undefined : this.#keys.current(source.keyId, now);
    if (key !== undefined && key.failures >= this.#max) key.refused++;
  }

  /**
   * The throttled windows that have ended since the last call, each to be one audit line.
   * Cheap when none has: one clock read.
   */
  takeEnded(): readonly ThrottledWindow[] {
    const now = this.#clock.now();
    if (now >= this.#nextSweep) {
      this.#addresses.sweep(now);
      this.#keys.sweep(now);
      this.#nextSweep = Math.min(this.#addresses.firstEnd(), this.#keys.firstEnd());
    }
    if (this.#ended.length === 0) return NONE;
    const ended = this.#ended;
    this.#ended = [];
    return ended;
  }

  /** Every throttled window, ended or not (at shutdown), each to be one audit line. */
  drain(): ThrottledWindow[] {
    this.#addresses.drain();
    this.#keys.drain();
    this.#nextSweep = Number.POSITIVE_INFINITY;
    const ended = this.#ended;
    this.#ended = [];
    return ended;
  }

  #remaining(window: Window | undefined, now: number): number {
    if (window === undefined || window.failures < this.#max) return 0;
    return window.start + this.#windowMs - now;
  }

  #count(windows: Windows, name: string, now: number): Window {
    const window = windows.current(name, now) ?? windows.open(name, now);
    this.#nextSweep = Math.min(this.#nextSweep, window.start + this.#windowMs);
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

/**
 * The unit failures are counted by: an IPv4 address as it is; an IPv6 address by its /64
 * (`2001:db8:1:2::/64`), since one host commonly holds a whole /64 and could otherwise rotate
 * through addresses; an IPv4-mapped IPv6 address as its IPv4 address.
 */
export function limitedAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const groups = expandIpv6(address);
  return groups === undefined ? address : `${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lowercase without leading zeros. */
function expandIpv6(address: string): string[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1]!.split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  return [...head, ...Array<string>(missing).fill("0"), ...tail].map((g) =>
    Number.parseInt(g, 16).toString(16),
  );
}
