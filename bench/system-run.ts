/**
 * One run of one system under test, in a fresh process (so "cold" means what it says: no cache,
 * no JIT state, no memory of another system). The harness (bench/harness.ts) starts it as
 *   node --expose-gc bench/.build/bench/system-run.js --system trellis-sqlite|trellis-postgres|
 *     spicedb --data-dir DIR --out FILE [--run N] [--timed N] [--bulk-batches N]
 *     [--list-repeats N] [--verify] [--pg-url URL] [--min-ms N] [--settle-ms N]
 *     [--warmup N] [--skip-lists user:30,document:3]
 * reads the dataset files of DIR (bench/dataset-files.ts) and writes a `SystemRunResult` as
 * JSON to FILE. In order:
 * 1. RSS of the bare process (after a full collection), then the load from the files: schema,
 *    then relationships as they are parsed (the import rate includes parsing, the same for every
 *    system), then `prepare` (Trellis builds its in-memory index), then RSS again.
 * 2. A pause until `--settle-ms` (6 s) have passed since the last write: both systems serve
 *    `minimize_latency` from revisions quantized to 5 s windows.
 * 3. A short warm-up with subjects that appear in no tuple (no cache entry the measured
 *    queries could hit), so the first measured checks do not pay for loading code.
 * 4. Check cold: the first `--timed` queries of the mix, each seen for the first time; then
 *    Check warm: the same queries again. Both `minimize_latency`, one timer pair per check.
 * 5. CheckBulk: `--bulk-batches` batches of 100 queries that follow the timed ones in the mix.
 * 6. ListObjects(document, view) for each list user and ListSubjects(view, user) for each list
 *    document: the first call, then `--list-repeats` more (their median is "warm").
 * 7. With `--verify`: every query of the mix again, `fully_consistent`, answers recorded for
 *    the harness to compare across systems (and with the answer the dataset guarantees).
 * Any error is recorded: the harness uses no figure from a run that had one.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Answer, BenchSystem, CheckItem, SubjectsResult } from "./bench-system.js";
import type { CheckQuery } from "./check-mix.js";
import { integerFlag } from "./dataset-args.js";
import {
  DATASET_FILES,
  readChecks,
  readLists,
  readRelationships,
  readSchema,
} from "./dataset-files.js";
import { LatencySamples, type LatencySummary } from "./latency-stats.js";
import { collect, elapsedNs, hr, median } from "./measure.js";
import { SpiceDbSystem } from "./spicedb-system.js";
import {
  type ListTiming,
  SYSTEM_NAMES,
  type SystemName,
  type SystemRunResult,
} from "./system-run-result.js";
import { TrellisSystem } from "./trellis-system.js";

interface Options {
  readonly system: SystemName;
  readonly dataDir: string;
  readonly out: string;
  readonly run: number;
  readonly timed: number;
  readonly bulkBatches: number;
  readonly listRepeats: number;
  readonly verify: boolean;
  readonly pgUrl: string | undefined;
  readonly minMs: number;
  readonly settleMs: number;
  readonly warmup: number;
  /** List queries (`user:30`, `document:3`) this system refused by a limit in an earlier run. */
  readonly skipLists: ReadonlySet<string>;
}

function parseCli(): Options {
  const { values } = parseArgs({
    options: {
      system: { type: "string" },
      "data-dir": { type: "string" },
      out: { type: "string" },
      run: { type: "string", default: "1" },
      timed: { type: "string", default: "500" },
      "bulk-batches": { type: "string", default: "5" },
      "list-repeats": { type: "string", default: "3" },
      verify: { type: "boolean", default: false },
      "pg-url": { type: "string" },
      "min-ms": { type: "string", default: "1000" },
      "settle-ms": { type: "string", default: "6000" },
      warmup: { type: "string", default: "200" },
      "skip-lists": { type: "string", default: "" },
    },
  });
  const system = values.system;
  if (system === undefined || !(SYSTEM_NAMES as readonly string[]).includes(system)) {
    throw new TypeError(`--system must be one of ${SYSTEM_NAMES.join(", ")}`);
  }
  if (values["data-dir"] === undefined) throw new TypeError("--data-dir DIR is required");
  if (values.out === undefined) throw new TypeError("--out FILE is required");
  return {
    system: system as SystemName,
    dataDir: values["data-dir"],
    out: values.out,
    run: integerFlag("run", values.run, 1),
    timed: integerFlag("timed", values.timed, 1),
    bulkBatches: integerFlag("bulk-batches", values["bulk-batches"], 0),
    listRepeats: integerFlag("list-repeats", values["list-repeats"], 0),
    verify: values.verify,
    pgUrl: values["pg-url"],
    minMs: integerFlag("min-ms", values["min-ms"], 1),
    settleMs: integerFlag("settle-ms", values["settle-ms"], 0),
    warmup: integerFlag("warmup", values.warmup, 0),
    skipLists: new Set(values["skip-lists"].split(",").filter((q) => q !== "")),
  };
}

async function openSystem(o: Options): Promise<BenchSystem> {
  switch (o.system) {
    case "trellis-sqlite":
      return TrellisSystem.open("sqlite");
    case "trellis-postgres":
      return TrellisSystem.open("postgres", o.pgUrl);
    case "spicedb":
      return SpiceDbSystem.open();
  }
}

const item = (q: CheckQuery): CheckItem => ({
  resource: q.resource,
  permission: q.permission,
  subject: q.subject,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function say(o: Options, text: string): void {
  console.log(`  [${o.system} run ${o.run}] ${text}`);
}

async function main(): Promise<void> {
  const o = parseCli();
  const t0 = hr();
  const startedAt = new Date().toISOString();
  const errors: string[] = [];
  const limits: string[] = [];
  /**
   * SpiceDB refuses graphs deeper than its dispatch limit, and at medium scale its CheckBulk
   * of 100 runs past its own internal deadline: answers it cannot give, not crashes. They are
   * reported as limits (no figure for that measurement); the run's other figures stand.
   */
  const depthLimit = (what: string, err: unknown): boolean => {
    const text = err instanceof Error ? err.message : String(err);
    if (!/max depth exceeded|deadline[ _]?exceeded/i.test(text)) return false;
    limits.push(`${what}: ${text.split(":").slice(0, 3).join(":")}`);
    return true;
  };
  const failed = (what: string, err: unknown) => {
    if (errors.length < 20) {
      errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const mix = readChecks(o.dataDir);
  const lists = readLists(o.dataDir);
  const schema = readSchema(o.dataDir);
  collect();
  const rssBare = process.memoryUsage.rss();

  const system = await openSystem(o);
  try {
    // ---- load ---------------------------------------------------------------------------------
    let t = hr();
    const loaded = await system.load(
      schema,
      readRelationships(join(o.dataDir, DATASET_FILES.relationships)),
    );
    const importMs = elapsedNs(t) / 1e6;
    const lastWrite = Date.now();
    t = hr();
    await system.prepare();
    const prepareMs = elapsedNs(t) / 1e6;
    collect();
    const rssAfterLoad = process.memoryUsage.rss();
    const importPerSecond = loaded.imported / (importMs / 1000);
    say(
      o,
      `loaded ${loaded.imported} relationships in ${importMs.toFixed(0)} ms ` +
        `(${Math.round(importPerSecond)}/s), prepare ${prepareMs.toFixed(0)} ms, ` +
        `RSS ${(rssAfterLoad / 2 ** 20).toFixed(0)} MB`,
    );

    // ---- settle, warm-up -------------------------------------------------------------------------
    const settleMs = Math.max(0, lastWrite + o.settleMs - Date.now());
    await sleep(settleMs);
    const warmupChecks = Math.min(o.warmup, mix.length);
    for (let i = 0; i < warmupChecks; i++) {
      const q = mix[i]!;
      try {
        await system.check(
          { ...item(q), subject: { type: "user", id: `warmup-${i}` } },
          "minimize_latency",
        );
      } catch (err) {
        failed("warm-up check", err);
      }
    }

    // ---- Check cold, then warm ---------------------------------------------------------------------
    const timed = mix.slice(0, Math.min(o.timed, mix.length));
    const timedAnswers: (Answer | undefined)[] = [];
    const pass = async (record: boolean): Promise<LatencySummary> => {
      const samples = new LatencySamples(timed.length);
      for (let i = 0; i < timed.length; i++) {
        const q = timed[i]!;
        const c0 = hr();
        try {
          const answer = await system.check(item(q), "minimize_latency");
          samples.add(elapsedNs(c0));
          if (record) timedAnswers[i] = answer;
        } catch (err) {
          failed(`check ${describe(q)}`, err);
        }
      }
      return samples.summary();
    };
    const cold = await pass(true);
    say(o, `Check cold: p50 ${us(cold.p50)}, p99 ${us(cold.p99)} over ${cold.count}`);
    const warm = await pass(false);
    say(o, `Check warm: p50 ${us(warm.p50)}, p99 ${us(warm.p99)}`);
    // Throughput without a timer per check: whole passes for at least `minMs`. A slow system
    // whose warm pass already took that long is read from it (a timer pair is noise there).
    let passes = 0;
    t = hr();
    const warmMs = (warm.mean * warm.count) / 1000;
    if (warmMs >= o.minMs) passes = -1;
    else
      do {
        for (const q of timed) {
          try {
            await system.check(item(q), "minimize_latency");
          } catch (err) {
            failed(`check ${describe(q)}`, err);
          }
        }
        passes++;
      } while (elapsedNs(t) < o.minMs * 1e6);
    const warmPerSecond =
      passes < 0 ? warm.count / (warmMs / 1000) : (passes * timed.length) / (elapsedNs(t) / 1e9);
    let warmEvaluatorPerSecond: number | undefined;
    if (system instanceof TrellisSystem) {
      warmEvaluatorPerSecond = await system.evaluatorWarmPerSecond(timed.map(item), o.minMs);
    }
    say(
      o,
      `Check warm: ${Math.round(warmPerSecond)}/s sequential` +
        (warmEvaluatorPerSecond !== undefined
          ? `, ${Math.round(warmEvaluatorPerSecond)}/s at the evaluator`
          : ""),
    );

    // ---- CheckBulk ------------------------------------------------------------------------------
    const bulkQueries = mix.slice(timed.length, timed.length + o.bulkBatches * 100);
    let bulk: SystemRunResult["bulk"];
    if (bulkQueries.length > 0) {
      const batches = Math.ceil(bulkQueries.length / 100);
      const samples = new LatencySamples(batches);
      for (let b = 0; b < batches; b++) {
        const batch = bulkQueries.slice(b * 100, (b + 1) * 100).map(item);
        const b0 = hr();
        try {
          await system.checkBulk(batch, "minimize_latency");
          samples.add(elapsedNs(b0));
        } catch (err) {
          if (!depthLimit(`CheckBulk batch ${b}`, err)) failed(`CheckBulk batch ${b}`, err);
        }
      }
      const latency = samples.summary();
      const checks = latency.count * 100;
      if (latency.count > 0) {
        bulk = {
          batches: latency.count,
          checks,
          perSecond: checks / (samples.total() / 1e9),
          latency,
        };
        say(o, `CheckBulk ×100: ${Math.round(bulk.perSecond)} checks/s over ${batches} batches`);
      } else {
        say(o, "CheckBulk ×100: no batch answered (see limits)");
      }
    }

    // ---- ListObjects, ListSubjects ----------------------------------------------------------------
    const timings: ListTiming[] = [];
    const listObjects: Record<string, string[]> = {};
    const listSubjects: Record<string, SubjectsResult> = {};
    const timeCalls = async <T>(call: () => Promise<T>) => {
      const ms: number[] = [];
      let first: T | undefined;
      for (let i = 0; i <= o.listRepeats; i++) {
        const c0 = hr();
        const res = await call();
        ms.push(elapsedNs(c0) / 1e6);
        if (i === 0) first = res;
      }
      return {
        first: first as T,
        firstMs: ms[0]!,
        warmMs: median(ms.length > 1 ? ms.slice(1) : ms),
      };
    };
    for (const u of lists.users) {
      const query = `${u.subject.type}:${u.subject.id}`;
      if (o.skipLists.has(query)) {
        limits.push(`ListObjects ${query}: not asked (refused by a limit in an earlier run)`);
        continue;
      }
      try {
        const r = await timeCalls(() =>
          system.listObjects("document", "view", u.subject, "minimize_latency"),
        );
        listObjects[query] = r.first;
        timings.push({
          kind: "ListObjects",
          label: u.label,
          query,
          results: r.first.length,
          firstMs: r.firstMs,
          warmMs: r.warmMs,
        });
        say(o, `ListObjects ${u.label}: ${r.first.length} in ${r.firstMs.toFixed(1)} ms`);
      } catch (err) {
        if (!depthLimit(`ListObjects ${query}`, err)) failed(`ListObjects ${query}`, err);
      }
    }
    for (const d of lists.documents) {
      const query = `${d.resource.type}:${d.resource.id}`;
      if (o.skipLists.has(query)) {
        limits.push(`ListSubjects ${query}: not asked (refused by a limit in an earlier run)`);
        continue;
      }
      try {
        const r = await timeCalls(() =>
          system.listSubjects(d.resource, "view", "user", "minimize_latency"),
        );
        listSubjects[query] = r.first;
        timings.push({
          kind: "ListSubjects",
          label: d.label,
          query,
          results: r.first.ids.length + (r.first.wildcard ? 1 : 0),
          firstMs: r.firstMs,
          warmMs: r.warmMs,
        });
      } catch (err) {
        if (!depthLimit(`ListSubjects ${query}`, err)) failed(`ListSubjects ${query}`, err);
      }
    }

    // ---- verification answers ------------------------------------------------------------------
    let answers: Answer[] | undefined;
    let staleAnswers = 0;
    if (o.verify) {
      answers = [];
      t = hr();
      for (let i = 0; i < mix.length; i++) {
        const q = mix[i]!;
        try {
          answers[i] = await system.check(item(q), "fully_consistent");
        } catch (err) {
          failed(`verification check ${describe(q)}`, err);
        }
        const timedAnswer = timedAnswers[i];
        if (timedAnswer !== undefined && timedAnswer !== answers[i]) staleAnswers++;
      }
      say(o, `verification: ${mix.length} checks in ${(elapsedNs(t) / 1e9).toFixed(1)} s`);
    }

    const result: SystemRunResult = {
      system: o.system,
      run: o.run,
      pid: process.pid,
      startedAt,
      rssBare,
      load: {
        imported: loaded.imported,
        skipped: loaded.skipped,
        ...(loaded.note !== undefined ? { note: loaded.note } : {}),
        importMs,
        importPerSecond,
        prepareMs,
      },
      rssAfterLoad,
      settleMs,
      warmupChecks,
      cold,
      warm,
      warmPerSecond,
      ...(warmEvaluatorPerSecond !== undefined ? { warmEvaluatorPerSecond } : {}),
      ...(bulk !== undefined ? { bulk } : {}),
      lists: timings,
      staleAnswers,
      ...(answers !== undefined ? { answers, listObjects, listSubjects } : {}),
      peakRss: process.resourceUsage().maxRSS * 1024,
      errors,
      limits,
      totalMs: elapsedNs(t0) / 1e6,
    };
    writeFileSync(o.out, `${JSON.stringify(result)}\n`);
  } finally {
    await system.close();
  }
}

function describe(q: CheckQuery): string {
  return `${q.resource.type}:${q.resource.id}#${q.permission}@${q.subject.type}:${q.subject.id}`;
}

function us(micros: number): string {
  return micros >= 1000 ? `${(micros / 1000).toFixed(2)} ms` : `${micros.toFixed(1)} µs`;
}

await main();
