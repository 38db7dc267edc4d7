/**
 * Timing and memory primitives shared by the benchmarks: a monotonic nanosecond clock, forced
 * collections (with `--expose-gc`), throughput over whole passes, process memory, and the
 * repository root (so that results land in bench/results from source and from bench/.build).
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const hr = process.hrtime.bigint;

/** Nanoseconds since `t0` (a value of `hr()`). */
export const elapsedNs = (t0: bigint): number => Number(hr() - t0);

export const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

/** Under `--cpu-prof` forced collections would show up as the measured phases' GC time. */
export const profiling = process.execArgv.some((a) => a.startsWith("--cpu-prof"));

/** True when memory figures can be read after a full collection. */
export const canCollect = gc !== undefined && !profiling;

/** A full collection (a no-op without `--expose-gc` or while profiling). */
export function collect(): void {
  if (profiling) return;
  // Twice: the first pass may leave finalised objects for the second.
  gc?.();
  gc?.();
}

/** The middle value; for an even count, the mean of the two middle ones. 0 when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

export function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Operations per second over whole passes repeated for at least `minMs`. */
export function throughput(minMs: number, perPass: number, pass: () => void): number {
  let passes = 0;
  const t0 = hr();
  do {
    pass();
    passes++;
  } while (elapsedNs(t0) < minMs * 1e6);
  return (passes * perPass) / (elapsedNs(t0) / 1e9);
}

export async function throughputAsync(
  minMs: number,
  perPass: number,
  pass: () => Promise<void>,
): Promise<number> {
  let passes = 0;
  const t0 = hr();
  do {
    await pass();
    passes++;
  } while (elapsedNs(t0) < minMs * 1e6);
  return (passes * perPass) / (elapsedNs(t0) / 1e9);
}

export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** The repository root: the nearest folder above this file with package.json and bench/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "bench"))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}
