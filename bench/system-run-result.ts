/**
 * What one run of one system (bench/system-run.ts, a process of its own) reports to the harness,
 * as JSON.
 */
import type { Answer, SubjectsResult } from "./bench-system.js";
import type { LatencySummary } from "./latency-stats.js";

export const SYSTEM_NAMES = ["trellis-sqlite", "trellis-postgres", "spicedb"] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export interface ListTiming {
  readonly kind: "ListObjects" | "ListSubjects";
  readonly label: string;
  /** `user:17` for ListObjects, `document:3` for ListSubjects. */
  readonly query: string;
  /** Objects found, or subjects (plus one for a wildcard). */
  readonly results: number;
  readonly firstMs: number;
  /** Median of the repeated calls (the first call when there are none). */
  readonly warmMs: number;
}

export interface SystemRunResult {
  readonly system: SystemName;
  readonly run: number;
  readonly pid: number;
  readonly startedAt: string;
  /** RSS of the process before anything is loaded (runtime and libraries), bytes. */
  readonly rssBare: number;
  readonly load: {
    readonly imported: number;
    readonly skipped: number;
    readonly note?: string;
    /** From the first line read to the last write acknowledged. */
    readonly importMs: number;
    readonly importPerSecond: number;
    /** `prepare` after the import (Trellis: building the in-memory index from the store). */
    readonly prepareMs: number;
  };
  /** RSS after the load and a full collection, bytes. */
  readonly rssAfterLoad: number;
  readonly settleMs: number;
  readonly warmupChecks: number;
  readonly cold?: LatencySummary;
  readonly warm?: LatencySummary;
  /** Sequential warm checks per second: the timed queries, whole passes, no per-check timer. */
  readonly warmPerSecond?: number;
  /** Trellis only: the same below its async API (one `Evaluator` per check). */
  readonly warmEvaluatorPerSecond?: number;
  readonly bulk?: {
    readonly batches: number;
    readonly checks: number;
    readonly perSecond: number;
    /** Per batch of 100. */
    readonly latency: LatencySummary;
  };
  readonly lists: ListTiming[];
  /** Timed answers (minimize_latency) that differ from the verification ones (fully_consistent). */
  readonly staleAnswers: number;
  /** Indexed like the mix; only with `--verify`. */
  readonly answers?: Answer[];
  readonly listObjects?: Record<string, string[]>;
  readonly listSubjects?: Record<string, SubjectsResult>;
  readonly peakRss: number;
  readonly errors: string[];
  /**
   * Queries the system refused by one of its documented limits (SpiceDB's dispatch depth), with
   * its message: no timing and no comparison for them, reported as such.
   */
  readonly limits: string[];
  readonly totalMs: number;
}
