/**
 * How many cases a property tries, and from which seed.
 *
 * `make test` tries a modest number of cases per property, from a fixed seed of its own (a
 * hash of the test's name), so that the suite is quick and tries the same cases on every run.
 * `make fuzz` (TRELLIS_FUZZ_RUNS=n) tries n cases per property from a fresh random seed each
 * time. fast-check reports the seed and path of a failure (`{ seed: …, path: "…" }`);
 * TRELLIS_FUZZ_SEED=<seed> replays the run, and TRELLIS_FUZZ_PATH=<path> with it goes straight
 * to the failing case (run the one test, with `-t`, since every property takes that seed).
 */
import type fc from "fast-check";
import { expect } from "vitest";

function positiveInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

const FUZZ_RUNS = positiveInteger("TRELLIS_FUZZ_RUNS");

/** True under `make fuzz`: many runs from fresh seeds. */
export const FUZZING = FUZZ_RUNS !== undefined;

/** `defaultRuns` in `make test`; TRELLIS_FUZZ_RUNS under `make fuzz`. */
export function fuzzRuns(defaultRuns: number): number {
  return FUZZ_RUNS ?? defaultRuns;
}

/** The seed (and path) TRELLIS_FUZZ_SEED and TRELLIS_FUZZ_PATH ask to replay, if any. */
export function replayedSeed(): { seed: number; path?: string } | undefined {
  const text = process.env.TRELLIS_FUZZ_SEED;
  if (text === undefined || text === "") return undefined;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`TRELLIS_FUZZ_SEED must be an integer, got ${JSON.stringify(text)}`);
  }
  const path = process.env.TRELLIS_FUZZ_PATH;
  return path === undefined || path === "" ? { seed } : { seed, path };
}

/** A 32-bit seed from a name (FNV-1a), the same on every run and machine. */
export function seedOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * The fast-check parameters of the running test's property: `defaultRuns` cases from the
 * test's own seed, or as the environment asks (see the header); `extra` adds the rest.
 */
export function propertyParameters<T>(
  defaultRuns: number,
  extra: fc.Parameters<T> = {},
): fc.Parameters<T> {
  const replay = replayedSeed();
  const seed = replay ?? (FUZZING ? {} : { seed: seedOf(expect.getState().currentTestName ?? "") });
  return { ...extra, numRuns: fuzzRuns(defaultRuns), ...seed };
}
