/**
 * Latency samples and their summary. Percentiles are nearest-rank over the sorted samples:
 * exact for the run at hand, with no histogram bucketing to blur the tail.
 */

export interface LatencySummary {
  readonly count: number;
  /** Microseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Fixed-capacity nanosecond samples (a typed array: a million samples cost 8 MB, no GC). */
export class LatencySamples {
  readonly #ns: Float64Array;
  #count = 0;

  constructor(capacity: number) {
    this.#ns = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  add(ns: number): void {
    if (this.#count < this.#ns.length) this.#ns[this.#count++] = ns;
  }

  /** Sum of the samples, in nanoseconds. */
  total(): number {
    let sum = 0;
    for (let i = 0; i < this.#count; i++) sum += this.#ns[i]!;
    return sum;
  }

  summary(): LatencySummary {
    const n = this.#count;
    if (n === 0) return { count: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0, mean: 0 };
    const sorted = this.#ns.slice(0, n).sort();
    const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]! / 1000;
    return {
      count: n,
      p50: rank(0.5),
      p90: rank(0.9),
      p95: rank(0.95),
      p99: rank(0.99),
      max: sorted[n - 1]! / 1000,
      mean: this.total() / n / 1000,
    };
  }
}

/** The median cost of one `process.hrtime.bigint()` pair, to read sub-microsecond figures by. */
export function timerOverheadNs(rounds = 100_000): number {
  const samples = new LatencySamples(rounds);
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    samples.add(Number(t1 - t0));
  }
  return samples.summary().p50 * 1000;
}
