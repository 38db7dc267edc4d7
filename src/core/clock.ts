/** The source of "now", injected wherever TTLs, expiration or revision age matter. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
