/**
 * Turns the harness's raw runs into what it reports: medians with their spread over the valid
 * runs, ratios per alternating pair of runs, the comparison of every answer across systems,
 * and the goals with met / not met.
 */
import type { Answer, SubjectsResult } from "./bench-system.js";
import type { CheckQuery } from "./check-mix.js";
import type { GrpcBenchResult } from "./grpc-bench.js";
import { MB, median } from "./measure.js";
import type { SystemName, SystemRunResult } from "./system-run-result.js";

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function spread(values: readonly number[]): Spread | undefined {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** A run as the harness saw it: the child's result, or why there is none. */
export interface RunRecord {
  readonly system: SystemName;
  readonly run: number;
  /** Position in its run's order (0: first). */
  readonly order: number;
  readonly result: SystemRunResult | undefined;
  readonly failure: string | undefined;
}

export function isValid(r: RunRecord): r is RunRecord & { result: SystemRunResult } {
  return r.result !== undefined && r.failure === undefined && r.result.errors.length === 0;
}

/** Every figure the report shows, per system: name → extractor. */
export const METRICS = {
  "import, relationships/s": (r) => r.load.importPerSecond,
  "prepare after import, ms": (r) => r.load.prepareMs,
  "RSS after load, MB": (r) => r.rssAfterLoad / MB,
  "Check cold p50, µs": (r) => r.cold?.p50,
  "Check cold p95, µs": (r) => r.cold?.p95,
  "Check cold p99, µs": (r) => r.cold?.p99,
  "Check warm p50, µs": (r) => r.warm?.p50,
  "Check warm p95, µs": (r) => r.warm?.p95,
  "Check warm p99, µs": (r) => r.warm?.p99,
  "Check warm, checks/s": (r) => r.warmPerSecond,
  "Check warm (evaluator), checks/s": (r) => r.warmEvaluatorPerSecond,
  "CheckBulk ×100 (new queries), checks/s": (r) => r.bulk?.perSecond,
  "CheckBulk ×100 (new queries) p50, ms": (r) =>
    r.bulk === undefined ? undefined : r.bulk.latency.p50 / 1000,
} as const satisfies Record<string, (r: SystemRunResult) => number | undefined>;

export type MetricName = keyof typeof METRICS;

/** Figures where a larger value is better (ratios are then Trellis / SpiceDB). */
export const HIGHER_IS_BETTER: ReadonlySet<string> = new Set([
  "import, relationships/s",
  "Check warm, checks/s",
  "Check warm (evaluator), checks/s",
  "CheckBulk ×100 (new queries), checks/s",
]);

export interface SystemFigures {
  readonly system: SystemName;
  readonly validRuns: number;
  readonly invalidRuns: number;
  readonly metrics: Partial<Record<string, Spread>>;
  /** `ListObjects org admin (5012)` → first and warm ms. */
  readonly lists: Partial<Record<string, { first: Spread; warm: Spread; results: number }>>;
  readonly peakRss: Spread | undefined;
}

export function systemFigures(system: SystemName, records: readonly RunRecord[]): SystemFigures {
  const mine = records.filter((r) => r.system === system);
  const valid = mine.filter(isValid).map((r) => r.result);
  const metrics: Partial<Record<string, Spread>> = {};
  for (const [name, get] of Object.entries(METRICS)) {
    const s = spread(valid.map((r) => get(r)).filter((v): v is number => v !== undefined));
    if (s !== undefined) metrics[name] = s;
  }
  const lists: Partial<Record<string, { first: Spread; warm: Spread; results: number }>> = {};
  const keys = new Set(valid.flatMap((r) => r.lists.map((l) => `${l.kind} ${l.label}`)));
  for (const key of keys) {
    const rows = valid.flatMap((r) => r.lists.filter((l) => `${l.kind} ${l.label}` === key));
    const first = spread(rows.map((l) => l.firstMs));
    const warm = spread(rows.map((l) => l.warmMs));
    if (first !== undefined && warm !== undefined) {
      lists[key] = { first, warm, results: rows[0]!.results };
    }
  }
  return {
    system,
    validRuns: valid.length,
    invalidRuns: mine.length - valid.length,
    metrics,
    lists,
    peakRss: spread(valid.map((r) => r.peakRss / MB)),
  };
}

export interface PairRatio {
  readonly metric: string;
  /** How many times better Trellis is: SpiceDB / Trellis for times, Trellis / SpiceDB for rates. */
  readonly ratios: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Ratios per run (the two systems of run k ran back to back), for the figures both have. */
export function pairRatios(
  records: readonly RunRecord[],
  trellis: SystemName,
  other: SystemName,
): PairRatio[] {
  const runs = [...new Set(records.map((r) => r.run))].sort((a, b) => a - b);
  const out: PairRatio[] = [];
  for (const [name, get] of Object.entries(METRICS)) {
    // Trellis builds an index after its import and SpiceDB has nothing to build: no ratio.
    if (name === "prepare after import, ms") continue;
    const ratios: number[] = [];
    for (const run of runs) {
      const a = records.find((r) => r.run === run && r.system === trellis);
      const b = records.find((r) => r.run === run && r.system === other);
      if (a === undefined || b === undefined || !isValid(a) || !isValid(b)) continue;
      const x = get(a.result);
      const y = get(b.result);
      if (x === undefined || y === undefined || x <= 0 || y <= 0) continue;
      ratios.push(HIGHER_IS_BETTER.has(name) ? x / y : y / x);
    }
    if (ratios.length > 0) {
      out.push({
        metric: name,
        ratios,
        median: median(ratios),
        min: Math.min(...ratios),
        max: Math.max(...ratios),
      });
    }
  }
  return out;
}

// ---- verification ---------------------------------------------------------------------------

export interface Disagreement {
  readonly what: "Check" | "ListObjects" | "ListSubjects";
  readonly query: string;
  readonly detail: string;
}

export interface Verification {
  readonly systems: readonly SystemName[];
  readonly checks: number;
  readonly disagreements: readonly Disagreement[];
  readonly checkDisagreements: number;
  readonly listDisagreements: number;
  /** List queries (ListObjects and ListSubjects) the reference answered, so compared. */
  readonly listsCompared: number;
  /** Per system: answers that differ from the one the dataset's construction guarantees. */
  readonly unexpected: Partial<Record<SystemName, { count: number; examples: string[] }>>;
  /** Per system: timed answers (minimize_latency) that differ from fully_consistent ones. */
  readonly staleAnswers: Partial<Record<SystemName, number>>;
  /** Queries a system refused by a documented limit: not compared. */
  readonly notCompared: readonly string[];
}

export function describeQuery(q: CheckQuery): string {
  return `${q.resource.type}:${q.resource.id}#${q.permission}@${q.subject.type}:${q.subject.id}`;
}

function setDiff(
  a: readonly string[],
  b: readonly string[],
): { missing: string[]; extra: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { missing: a.filter((x) => !sb.has(x)), extra: b.filter((x) => !sa.has(x)) };
}

function few(ids: readonly string[]): string {
  return ids.length <= 8 ? ids.join(", ") : `${ids.slice(0, 8).join(", ")} … (${ids.length})`;
}

/**
 * Compares the verification answers of `reference` (SpiceDB) with those of every other
 * system, query by query, and the list results set by set.
 */
export function verify(
  mix: readonly CheckQuery[],
  verified: readonly SystemRunResult[],
  reference: SystemName | undefined,
): Verification {
  const disagreements: Disagreement[] = [];
  const unexpected: Verification["unexpected"] = {};
  const staleAnswers: Verification["staleAnswers"] = {};
  for (const r of verified) {
    staleAnswers[r.system] = r.staleAnswers;
    const answers = r.answers ?? [];
    const examples: string[] = [];
    let count = 0;
    mix.forEach((q, i) => {
      if (answers[i] !== q.expected) {
        count++;
        if (examples.length < 10) {
          examples.push(
            `${describeQuery(q)}: ${answers[i] ?? "no answer"}, expected ${q.expected} (${q.kind})`,
          );
        }
      }
    });
    unexpected[r.system] = { count, examples };
  }
  const ref = verified.find((r) => r.system === reference);
  let checkDisagreements = 0;
  let listDisagreements = 0;
  const listsCompared =
    Object.keys(ref?.listObjects ?? {}).length + Object.keys(ref?.listSubjects ?? {}).length;
  if (ref !== undefined) {
    for (const r of verified) {
      if (r === ref) continue;
      const a: readonly (Answer | undefined)[] = r.answers ?? [];
      const b: readonly (Answer | undefined)[] = ref.answers ?? [];
      mix.forEach((q, i) => {
        if (a[i] !== b[i]) {
          checkDisagreements++;
          disagreements.push({
            what: "Check",
            query: describeQuery(q),
            detail: `${r.system} ${a[i] ?? "no answer"}, ${ref.system} ${b[i] ?? "no answer"}; the dataset guarantees ${q.expected} (${q.kind})`,
          });
        }
      });
      for (const [query, ids] of Object.entries(ref.listObjects ?? {})) {
        const mine = r.listObjects?.[query];
        const d = setDiff(ids, mine ?? []);
        if (mine === undefined || d.missing.length + d.extra.length > 0) {
          listDisagreements++;
          disagreements.push({
            what: "ListObjects",
            query: `document#view@${query}`,
            detail:
              mine === undefined
                ? `${r.system} has no result`
                : `${r.system} ${mine.length} objects, ${ref.system} ${ids.length}; missing from ${r.system}: ${few(d.missing)}; only in ${r.system}: ${few(d.extra)}`,
          });
        }
      }
      for (const [query, s] of Object.entries(ref.listSubjects ?? {})) {
        const mine: SubjectsResult | undefined = r.listSubjects?.[query];
        if (mine === undefined) {
          listDisagreements++;
          disagreements.push({
            what: "ListSubjects",
            query: `${query}#view@user`,
            detail: `${r.system} has no result`,
          });
          continue;
        }
        const d = setDiff(s.ids, mine.ids);
        const e = setDiff(s.excluded, mine.excluded);
        if (
          d.missing.length + d.extra.length + e.missing.length + e.extra.length > 0 ||
          s.wildcard !== mine.wildcard
        ) {
          listDisagreements++;
          disagreements.push({
            what: "ListSubjects",
            query: `${query}#view@user`,
            detail:
              `${r.system} ${mine.ids.length} users${mine.wildcard ? ` + user:* minus [${few(mine.excluded)}]` : ""}, ` +
              `${ref.system} ${s.ids.length}${s.wildcard ? ` + user:* minus [${few(s.excluded)}]` : ""}; ` +
              `missing from ${r.system}: ${few(d.missing)}; only in ${r.system}: ${few(d.extra)}`,
          });
        }
      }
    }
  }
  return {
    systems: verified.map((r) => r.system),
    checks: mix.length,
    disagreements,
    checkDisagreements,
    listDisagreements,
    listsCompared,
    unexpected,
    staleAnswers,
    notCompared: [
      ...verified.flatMap((r) => (r.limits ?? []).map((l) => `${r.system}: ${l}`)),
      // Queries another system answered but the reference did not (an error in its run).
      ...(ref === undefined
        ? []
        : verified
            .filter((r) => r !== ref)
            .flatMap((r) => [
              ...Object.keys(r.listObjects ?? {})
                .filter((q) => ref.listObjects?.[q] === undefined)
                .map((q) => `${ref.system}: ListObjects ${q}: no answer (see its errors)`),
              ...Object.keys(r.listSubjects ?? {})
                .filter((q) => ref.listSubjects?.[q] === undefined)
                .map((q) => `${ref.system}: ListSubjects ${q}: no answer (see its errors)`),
            ])),
    ],
  };
}

// ---- goals ----------------------------------------------------------------------------------

export interface Goal {
  readonly goal: string;
  readonly value: string;
  readonly met: boolean;
  readonly source: "harness" | "grpc";
}

const fmtUs = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
const fmtRate = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;

/** The issue's goals, read from the Trellis (SQLite) medians and the gRPC section's own goals. */
export function evaluateGoals(
  trellis: SystemFigures | undefined,
  grpc: GrpcBenchResult | undefined,
): Goal[] {
  const goals: Goal[] = [];
  const m = trellis?.metrics ?? {};
  const add = (
    goal: string,
    value: number | undefined,
    show: (v: number) => string,
    ok: (v: number) => boolean,
  ) => {
    if (value !== undefined)
      goals.push({ goal, value: show(value), met: ok(value), source: "harness" });
  };
  add(
    "in-process warm Check ≥ 1M/s (evaluator)",
    m["Check warm (evaluator), checks/s"]?.median,
    fmtRate,
    (v) => v >= 1e6,
  );
  add(
    "in-process warm Check ≥ 1M/s (engine.check, sequential awaits)",
    m["Check warm, checks/s"]?.median,
    fmtRate,
    (v) => v >= 1e6,
  );
  add(
    "cold Check p50 < 50 µs (engine.check)",
    m["Check cold p50, µs"]?.median,
    fmtUs,
    (v) => v < 50,
  );
  add(
    "cold Check p99 < 1 ms (engine.check)",
    m["Check cold p99, µs"]?.median,
    fmtUs,
    (v) => v < 1000,
  );
  for (const [key, l] of Object.entries(trellis?.lists ?? {})) {
    if (l === undefined || !key.startsWith("ListObjects") || l.results > 1000) continue;
    add(
      `ListObjects < 10 ms for ≤ 1k results (${key.slice(12)}, ${l.results}, first call)`,
      l.first.median,
      (v) => `${v.toFixed(2)} ms`,
      (v) => v < 10,
    );
    add(
      `ListObjects < 10 ms for ≤ 1k results (${key.slice(12)}, ${l.results}, warm)`,
      l.warm.median,
      (v) => `${v.toFixed(2)} ms`,
      (v) => v < 10,
    );
  }
  add(
    "import ≥ 200k relationships/s (SQLite)",
    m["import, relationships/s"]?.median,
    fmtRate,
    (v) => v >= 200_000,
  );
  add(
    "RSS after load < 1 GB",
    m["RSS after load, MB"]?.median,
    (v) => `${v.toFixed(0)} MB`,
    (v) => v < 1024,
  );
  add(
    "peak RSS < 1 GB",
    trellis?.peakRss?.median,
    (v) => `${v.toFixed(0)} MB`,
    (v) => v < 1024,
  );
  for (const g of grpc?.goals ?? []) goals.push({ ...g, source: "grpc" });
  return goals;
}
