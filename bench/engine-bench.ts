/**
 * In-process benchmark of the evaluation engine on the seeded document-sharing dataset
 * (bench/dataset.ts): load into SQLite, first-use mirror load and index memory, Check cold and
 * warm (at the `Evaluator` and at the `engine.check()` level), CheckBulk, ListObjects and
 * ListSubjects, with the result cache's hits and misses. Prints a table and writes JSON to
 * bench/results/<date>-engine-<scale>.json.
 *
 * Build and run, from the repository root:
 *   npm run bench:engine -- --scale small
 *   npm run bench:engine                          (medium, the default)
 * which is
 *   npx tsc -p bench/tsconfig.engine.json && node --expose-gc bench/.build/bench/engine-bench.js
 * Flags: --scale small|medium|large; --users, --groups, --folders, --documents, --organizations
 * N (override the scale's counts; the file is then named `custom`); --seed N (42); --checks N
 * (10000); --import store|engine (bulk import through the store, default, or through
 * `engine.importRelationships`); --only cold,warm,bulk,list (load always runs); --out FILE;
 * --no-json; --min-ms N (duration of each throughput loop, 1000); --cache-entries N (the
 * engine's result cache bound; default: the engine's own); --store sqlite|postgres
 * (PostgreSQL from TRELLIS_TEST_PG_URL, in a fresh schema); --memory-budget BYTES|SHARE (the
 * engine's memory budget, in bytes or as a share of the tenant's index, e.g. 0.25: a tenant
 * over its budget is answered from the store).
 *
 * Start-up is measured as an operator sees it: an engine opened on the existing store, the
 * time to its first answered Check (`first answer after start`) and until its index has loaded.
 *
 * Profile (a phase at a time keeps the load out of the picture):
 *   node --expose-gc --cpu-prof --cpu-prof-dir=bench/.build/profiles \
 *     bench/.build/bench/engine-bench.js --only warm --no-json
 *   node bench/.build/bench/cpuprofile-summary.js bench/.build/profiles/<file>.cpuprofile
 *
 * How it measures, and why:
 * - Plain Node on compiled output, timed with `process.hrtime.bigint()`: no test runner in the
 *   measured loop. `--expose-gc` lets memory be read after a full collection.
 * - "Cold" means the shared result cache has never seen the query (each query once, in order;
 *   sub-problems of earlier queries stay cached, as in production), while the code is already
 *   optimised by V8: before it, a different mix (seed + 1) runs through a throwaway cache, and
 *   `engine.check` runs with subjects that appear in no tuple (their cache keys can never be
 *   hit by the measured queries). The engine offers no way to empty its cache, so the
 *   evaluator-level runs use their own `ResultCache` and the engine's stays untouched until
 *   the engine-level cold run.
 * - Evaluator level: one `new Evaluator(view, …)` per check, as `engine.check` does, so only
 *   the shared cache carries over. Engine level adds the async API: snapshot resolution,
 *   zookie signing, the response object.
 * - Throughput of warm checks is timed over whole passes (no timer call per check); the
 *   latency rows of warm checks include one timer pair per check (its cost is printed).
 * - Every answer is compared with the one the dataset guarantees; a mismatch is reported.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import type { CheckBulkItem, Engine as EngineType } from "../src/engine/engine.js";
import { Engine } from "../src/engine/engine.js";
import { Evaluator, permissionshipName, type Snapshot } from "../src/engine/evaluator.js";
import { listObjectsPage } from "../src/engine/list-objects.js";
import { defaultMemoryBudget } from "../src/engine/machine-memory.js";
import type { Outcome } from "../src/engine/outcome.js";
import { type CacheStats, ResultCache } from "../src/engine/result-cache.js";
import { openDatastore } from "../src/store/open.js";
import { type CheckMix, type CheckQuery, checkMix, describeMix, listQueries } from "./check-mix.js";
import { type DatasetSizes, DocsDataset, IMPORT_BATCH } from "./dataset.js";
import { datasetChoice, datasetFlags, integerFlag } from "./dataset-args.js";
import { LatencySamples, type LatencySummary, timerOverheadNs } from "./latency-stats.js";
import {
  canCollect,
  collect,
  elapsedNs,
  fileSize,
  hr,
  MB,
  median,
  memory,
  repoRoot,
  throughput,
  throughputAsync,
} from "./measure.js";

const TENANT = "bench";
const SECRET = "engine-benchmark-zookie-secret-0123456789";
const BULK_BATCH = 100;
const PHASES = ["cold", "warm", "bulk", "list"] as const;
type Phase = (typeof PHASES)[number];

// ---- arguments --------------------------------------------------------------------------

interface Args {
  readonly scale: string;
  readonly sizes: DatasetSizes;
  readonly seed: number;
  readonly checks: number;
  readonly importVia: "store" | "engine";
  readonly phases: ReadonlySet<Phase>;
  readonly out: string | undefined;
  readonly json: boolean;
  /** Minimum duration of a throughput measurement, ms. */
  readonly minMs: number;
  /** The engine's result cache bound; undefined: the engine's default. */
  readonly cacheEntries: number | undefined;
  readonly store: "sqlite" | "postgres";
  /** Bytes, or a share of the tenant's index size (`0.25`); undefined: the engine's default. */
  readonly memoryBudget: { readonly bytes: number } | { readonly share: number } | undefined;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      ...datasetFlags("medium"),
      checks: { type: "string", default: "10000" },
      import: { type: "string", default: "store" },
      only: { type: "string" },
      out: { type: "string" },
      "no-json": { type: "boolean", default: false },
      "min-ms": { type: "string", default: "1000" },
      "cache-entries": { type: "string" },
      store: { type: "string", default: "sqlite" },
      "memory-budget": { type: "string" },
    },
  });
  const integer = integerFlag;
  const { scale, sizes, seed } = datasetChoice(values);
  if (values.import !== "store" && values.import !== "engine") {
    throw new TypeError(`--import must be store or engine, got "${values.import}"`);
  }
  if (values.store !== "sqlite" && values.store !== "postgres") {
    throw new TypeError(`--store must be sqlite or postgres, got "${values.store}"`);
  }
  const budget = values["memory-budget"];
  let memoryBudget: Args["memoryBudget"];
  if (budget !== undefined) {
    const share = /^(0?\.\d+)$/.exec(budget);
    memoryBudget =
      share !== null
        ? { share: Number(share[1]) }
        : { bytes: integer("memory-budget", budget, 1024 * 1024) };
  }
  const phases = new Set<Phase>(PHASES);
  if (values.only !== undefined) {
    phases.clear();
    for (const p of values.only.split(",")) {
      if (!(PHASES as readonly string[]).includes(p)) {
        throw new TypeError(`--only takes a list of ${PHASES.join(", ")}; got "${p}"`);
      }
      phases.add(p as Phase);
    }
  }
  return {
    scale,
    sizes,
    seed,
    checks: integer("checks", values.checks, 1),
    importVia: values.import,
    phases,
    out: values.out,
    json: !values["no-json"],
    minMs: integer("min-ms", values["min-ms"], 1),
    cacheEntries:
      values["cache-entries"] === undefined
        ? undefined
        : integer("cache-entries", values["cache-entries"], 1),
    store: values.store,
    memoryBudget,
  };
}

// ---- measurement helpers ----------------------------------------------------------------

/** Compares answers with the ones the dataset guarantees. */
class Verdicts {
  checked = 0;
  mismatches = 0;
  errors = 0;
  readonly examples: string[] = [];

  record(q: CheckQuery, got: string): void {
    this.checked++;
    if (got === q.expected) return;
    this.mismatches++;
    this.#example(`${describeQuery(q)}: expected ${q.expected}, got ${got} (${q.kind})`);
  }

  error(q: CheckQuery, err: unknown): void {
    this.checked++;
    this.errors++;
    this.#example(`${describeQuery(q)}: ${err instanceof Error ? err.message : String(err)}`);
  }

  #example(text: string): void {
    if (this.examples.length < 5) this.examples.push(text);
  }
}

function describeQuery(q: CheckQuery): string {
  return `${q.resource.type}:${q.resource.id}#${q.permission}@${q.subject.type}:${q.subject.id}`;
}

interface Row {
  readonly name: string;
  readonly level: "evaluator" | "engine" | "";
  readonly count: number;
  /** Operations per second (checks, or calls for list rows). */
  readonly perSecond: number;
  readonly latency?: LatencySummary;
  readonly note?: string;
}

function cacheDelta(before: CacheStats, after: CacheStats): CacheDelta {
  return {
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    size: after.size,
    bytes: after.bytes,
    rss: process.memoryUsage.rss(),
  };
}

// ---- the run ----------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseCli();
  if (!canCollect) {
    console.warn(
      "warning: no forced collections (run without --cpu-prof, with --expose-gc) so memory figures include garbage",
    );
  }
  const started = new Date();
  let t = hr();
  const dataset = new DocsDataset(args.sizes, args.seed);
  const datasetMs = elapsedNs(t) / 1e6;
  const mix = checkMix(dataset, args.checks, args.seed);
  const warmupMix = checkMix(dataset, Math.min(args.checks, 2000), args.seed + 1);
  const described = dataset.describe();

  const cpu = cpus();
  console.log(
    `Trellis engine benchmark — scale ${args.scale}, seed ${args.seed}, node ${process.version}, ` +
      `${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 1024 ** 3)} GB`,
  );
  // Two cores shared with anything else running: a busy machine makes every figure worse.
  const loadAtStart = loadavg()[0]!;
  if (loadAtStart > 0.5) {
    console.warn(`warning: load average ${loadAtStart.toFixed(2)}; figures will be noisy`);
  }
  console.log(`dataset (${datasetMs.toFixed(0)} ms to generate): ${JSON.stringify(described)}`);
  console.log(
    `check mix (seed ${mix.seed}): ${mix.queries.length} queries, ${mix.allowed} allowed, ` +
      `${mix.denied} denied; ${formatComposition(mix)}`,
  );

  const dir = mkdtempSync(join(tmpdir(), "trellis-engine-bench-"));
  const dbPath = join(dir, "bench.db");
  const pgSchema = `trellis_bench_${process.pid}`;
  const pgUrl = process.env.TRELLIS_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
  const store =
    args.store === "sqlite"
      ? await openDatastore(`sqlite:${dbPath}`)
      : await openDatastore(pgUrl, { postgresSchema: pgSchema });
  let engine: EngineType | undefined;
  try {
    await store.createTenant(TENANT);
    engine = new Engine(store, {
      zookieSecret: SECRET,
      ...(args.cacheEntries !== undefined ? { cache: { maxEntries: args.cacheEntries } } : {}),
    });
    await engine.writeSchema(TENANT, dataset.schema);

    // ---- load -----------------------------------------------------------------------------
    t = hr();
    if (args.importVia === "engine") {
      // A separate engine, closed afterwards, so that the measured one loads its mirror from
      // the snapshot on first use rather than having followed the import.
      const importer = new Engine(store, { zookieSecret: SECRET });
      await importer.importRelationships(TENANT, dataset.relationships(), {
        batchSize: IMPORT_BATCH,
      });
      await importer.close();
    } else {
      await store.bulkImport(TENANT, dataset.relationships(), { batchSize: IMPORT_BATCH });
    }
    const importMs = elapsedNs(t) / 1e6;
    const dbBytes = fileSize(dbPath) + fileSize(`${dbPath}-wal`);

    // ---- start: an engine opened on the existing store, as after a restart ------------
    await engine.close();
    const engineOptions = {
      zookieSecret: SECRET,
      memoryBudgetBytes: defaultMemoryBudget(),
      ...(args.cacheEntries !== undefined ? { cache: { maxEntries: args.cacheEntries } } : {}),
    };
    collect();
    const beforeMirror = memory();
    t = hr();
    // An absolute budget applies from the start: this process never holds the whole index, so
    // its RSS is what such a deployment uses.
    const startBudget =
      args.memoryBudget !== undefined && "bytes" in args.memoryBudget
        ? { memoryBudgetBytes: args.memoryBudget.bytes }
        : {};
    engine = new Engine(store, { ...engineOptions, ...startBudget });
    const firstQuery = mix.queries[0]!;
    const firstAnswer = await engine.check(TENANT, {
      resource: firstQuery.resource,
      permission: firstQuery.permission,
      subject: firstQuery.subject,
    });
    const firstAnswerMs = elapsedNs(t) / 1e6;
    const mirror = await engine.mirror(TENANT).catch(() => undefined);
    const mirrorMs = elapsedNs(t) / 1e6;
    collect();
    const afterMirror = memory();
    const versions = mirror?.index?.versionCount ?? dataset.tupleCount;
    const indexBytes = mirror?.index?.bytes ?? 0;
    const heapPerRelationship =
      (afterMirror.heapUsed +
        afterMirror.arrayBuffers -
        beforeMirror.heapUsed -
        beforeMirror.arrayBuffers) /
      versions;
    const load = {
      tuples: dataset.tupleCount,
      store: args.store,
      importVia: args.importVia,
      importMs,
      importTuplesPerSecond: dataset.tupleCount / (importMs / 1000),
      sqliteBytes: dbBytes,
      firstAnswerMs,
      firstAnswerCorrect: firstAnswer.permissionship === firstQuery.expected,
      mirrorLoadMs: mirrorMs,
      indexVersions: versions,
      heapBefore: beforeMirror.heapUsed,
      heapAfter: afterMirror.heapUsed,
      rssBefore: beforeMirror.rss,
      rssAfter: afterMirror.rss,
      // The index keeps its columns in typed arrays, outside the V8 heap: both count.
      heapBytesPerTuple: heapPerRelationship,
      indexBytesEstimate: indexBytes,
      rssBytesPerTuple: (afterMirror.rss - beforeMirror.rss) / versions,
    };
    console.log(
      `\nload: ${load.tuples} tuples via ${args.importVia} into ${args.store} in ${importMs.toFixed(0)} ms ` +
        `(${Math.round(load.importTuplesPerSecond)} tuples/s${args.store === "sqlite" ? `, SQLite ${(dbBytes / MB).toFixed(1)} MB` : ""})`,
    );
    console.log(`first answer after start: ${firstAnswerMs.toFixed(0)} ms`);
    console.log(`index loaded after start: ${mirrorMs.toFixed(0)} ms (${versions} versions)`);
    console.log(
      `heap per relationship: ${heapPerRelationship.toFixed(0)} B ` +
        `(index estimate ${(indexBytes / versions).toFixed(0)} B; heap ${(beforeMirror.heapUsed / MB).toFixed(0)} → ${(afterMirror.heapUsed / MB).toFixed(0)} MB, ` +
        `RSS ${(beforeMirror.rss / MB).toFixed(0)} → ${(afterMirror.rss / MB).toFixed(0)} MB)`,
    );

    // ---- a memory budget below the tenant's index: answered from the store ---------------
    let budgetBytes: number | undefined =
      "memoryBudgetBytes" in startBudget ? (startBudget.memoryBudgetBytes as number) : undefined;
    if (budgetBytes !== undefined) {
      console.log(
        `memory budget ${(budgetBytes / MB).toFixed(0)} MB from the start: ` +
          (mirror === undefined
            ? "the tenant is answered from the store"
            : "the tenant's index loaded"),
      );
    }
    if (args.memoryBudget !== undefined && "share" in args.memoryBudget) {
      const share = Math.floor(indexBytes * args.memoryBudget.share);
      budgetBytes = share;
      await engine.close();
      collect();
      engine = new Engine(store, { ...engineOptions, memoryBudgetBytes: share });
      const loaded = await engine.mirror(TENANT).then(
        () => true,
        () => false,
      );
      console.log(
        `memory budget ${(share / MB).toFixed(0)} MB (index ${(indexBytes / MB).toFixed(0)} MB): ` +
          (loaded ? "the tenant's index loaded" : "the tenant is answered from the store"),
      );
    }

    const view = await engine.view(TENANT);
    // Answered from the store (a budget below the index): the evaluator-level runs, which
    // read a loaded index directly, do not apply.
    const indexed = view.store === undefined;
    const e = engine;
    const timerNs = timerOverheadNs();
    const rows: Row[] = [];
    const verdicts: Record<string, Verdicts> = {};
    const verdictFor = (phase: string) => {
      const v = new Verdicts();
      verdicts[phase] = v;
      return v;
    };
    const cachePhases: Record<string, CacheDelta> = {};
    let engineMark = engine.cacheStats();
    const markPhase = (name: string) => {
      // Each phase starts without the previous one's garbage, and RSS is read after it.
      collect();
      const now = e.cacheStats();
      cachePhases[name] = cacheDelta(engineMark, now);
      engineMark = now;
    };

    // The very first check of the process: unoptimised code everywhere.
    t = hr();
    await engine.check(TENANT, warmupQuery(warmupMix.queries[0]!, 0));
    const firstCheckUs = elapsedNs(t) / 1000;
    await warmUp(engine, indexed ? view : undefined, warmupMix);
    markPhase("warm-up, engine.check (subjects in no tuple)");

    // ---- Check at the Evaluator level (its own cache, freed before the engine runs) ---------
    let coldEval: LatencySummary | undefined;
    let warmEvalPerSecond = 0;
    let evaluatorCache: CacheMemory | undefined;
    if (indexed && (args.phases.has("cold") || args.phases.has("warm"))) {
      const r = evaluatorRuns(view, engine, mix.queries, args.phases, args.minMs, timerNs);
      rows.push(...r.rows);
      Object.assign(verdicts, r.verdicts);
      Object.assign(cachePhases, r.cachePhases);
      coldEval = r.cold;
      warmEvalPerSecond = r.warmPerSecond;
      evaluatorCache = r.memory;
    }

    // ---- Check through engine.check() ---------------------------------------------------------
    let coldEngine: LatencySummary | undefined;
    collect();
    const heapBeforeEngine = process.memoryUsage().heapUsed;
    const entriesBeforeEngine = engine.cacheStats().size;
    if (args.phases.has("cold")) {
      const ve = verdictFor("cold, engine");
      const samples = new LatencySamples(mix.queries.length);
      for (const q of mix.queries) {
        const t0 = hr();
        try {
          const res = await engine.check(TENANT, q);
          samples.add(elapsedNs(t0));
          ve.record(q, res.permissionship);
        } catch (err) {
          ve.error(q, err);
        }
      }
      coldEngine = samples.summary();
      rows.push(latencyRow("Check cold", "engine", samples));
      markPhase("Check cold, engine");
    } else if (args.phases.has("warm")) {
      for (const q of mix.queries) await engine.check(TENANT, q);
      markPhase("fill, engine");
    }
    collect();
    const engineStats = engine.cacheStats();
    const engineCache: CacheMemory = {
      entries: engineStats.size,
      realBytesPerEntry:
        (process.memoryUsage().heapUsed - heapBeforeEngine) /
        Math.max(1, engineStats.size - entriesBeforeEngine),
      estimatedBytesPerEntry: engineStats.bytes / Math.max(1, engineStats.size),
    };

    if (args.phases.has("warm")) {
      const queries = mix.queries;
      let sink = 0;
      const perSecond = await throughputAsync(args.minMs, queries.length, async () => {
        for (const q of queries) {
          sink += (await e.check(TENANT, q)).permissionship.length;
        }
      });
      rows.push({
        name: "Check warm, throughput",
        level: "engine",
        count: queries.length,
        perSecond,
        note: "sequential awaits",
      });
      const ve = verdictFor("warm, engine");
      const samples = new LatencySamples(queries.length);
      for (const q of queries) {
        const t0 = hr();
        const res = await engine.check(TENANT, q);
        samples.add(elapsedNs(t0));
        ve.record(q, res.permissionship);
      }
      rows.push(latencyRow("Check warm", "engine", samples));
      markPhase("Check warm, engine");
      if (sink === -1) console.log(sink); // keeps the measured work observable
    }

    // ---- CheckBulk --------------------------------------------------------------------------
    if (args.phases.has("bulk")) {
      const fresh = checkMix(dataset, Math.min(args.checks, 5000), args.seed + 2);
      for (const [label, m] of [
        ["CheckBulk ×100, warm", mix],
        ["CheckBulk ×100, new queries", fresh],
      ] as const) {
        const v = verdictFor(label);
        const batches = Math.ceil(m.queries.length / BULK_BATCH);
        const samples = new LatencySamples(batches);
        for (let b = 0; b < batches; b++) {
          const batch = m.queries.slice(b * BULK_BATCH, (b + 1) * BULK_BATCH);
          const items: CheckBulkItem[] = batch.map((q) => ({
            resource: q.resource,
            permission: q.permission,
            subject: q.subject,
          }));
          const t0 = hr();
          const { results } = await engine.checkBulk(TENANT, items);
          samples.add(elapsedNs(t0));
          results.forEach((r, i) => {
            if ("error" in r) v.error(batch[i]!, r.error);
            else v.record(batch[i]!, r.permissionship);
          });
        }
        const s = samples.summary();
        rows.push({
          name: label,
          level: "engine",
          count: m.queries.length,
          perSecond: m.queries.length / (samples.total() / 1e9),
          latency: s,
          note: "latency per batch of 100",
        });
        markPhase(label);
      }
    }

    // ---- ListObjects, ListSubjects --------------------------------------------------------
    const lists: Record<string, unknown>[] = [];
    let heavyListMs: { cold: number; warm: number; objects: number } | undefined;
    if (args.phases.has("list")) {
      const lq = listQueries(dataset, args.seed);
      for (const u of lq.users) {
        // Cold: a fresh cache, through the same function the engine calls. Smaller than the
        // default bound (which lru-cache allocates up front) but never reached here.
        t = hr();
        const page = indexed
          ? listObjectsPage(
              view,
              new Evaluator(view, {
                maxDepth: engine.maxDepth,
                now: engine.clock.now(),
                cache: new ResultCache({ maxEntries: 250_000 }),
              }),
              engine.clock.now(),
              "document",
              "view",
              u.subject,
              {},
            )
          : await engine.listObjects(TENANT, {
              resourceType: "document",
              permission: "view",
              subject: u.subject,
            });
        const coldMs = elapsedNs(t) / 1e6;
        const calls: number[] = [];
        let objects = 0;
        for (let i = 0; i < 5; i++) {
          t = hr();
          const res = await engine.listObjects(TENANT, {
            resourceType: "document",
            permission: "view",
            subject: u.subject,
          });
          calls.push(elapsedNs(t) / 1e6);
          objects = res.objects.length;
        }
        const entry = {
          kind: "ListObjects(document, view)",
          label: u.label,
          subject: `${u.subject.type}:${u.subject.id}`,
          note: u.note,
          objects,
          coldFreshCacheMs: coldMs,
          coldObjects: page.objects.length,
          engineFirstMs: calls[0]!,
          engineWarmMedianMs: median(calls.slice(1)),
        };
        lists.push(entry);
        if (heavyListMs === undefined) {
          heavyListMs = { cold: coldMs, warm: entry.engineWarmMedianMs, objects };
        }
      }
      for (const d of lq.documents) {
        const calls: number[] = [];
        let subjects = 0;
        let wildcard = false;
        for (let i = 0; i < 5; i++) {
          t = hr();
          const res = await engine.listSubjects(TENANT, {
            resource: d.resource,
            permission: "view",
            subjectType: "user",
          });
          calls.push(elapsedNs(t) / 1e6);
          subjects = res.subjects.length;
          wildcard = res.wildcard !== undefined;
        }
        lists.push({
          kind: "ListSubjects(view, user)",
          label: d.label,
          resource: `${d.resource.type}:${d.resource.id}`,
          subjects,
          wildcard,
          engineFirstMs: calls[0]!,
          engineWarmMedianMs: median(calls.slice(1)),
        });
      }
      markPhase("lists");
    }

    // ---- report -----------------------------------------------------------------------------
    collect();
    const end = memory();
    const peakRss = process.resourceUsage().maxRSS * 1024;
    const cacheFinal = engine.cacheStats();
    printTable(rows);
    if (lists.length > 0) printLists(lists);
    console.log(
      `\nfirst check of the process (unoptimised code): ${firstCheckUs.toFixed(0)} µs; ` +
        `timer pair ≈ ${timerNs} ns`,
    );
    console.log(
      `engine cache: ${cacheFinal.hits} hits, ${cacheFinal.misses} misses, ${cacheFinal.size} entries, ` +
        `${(cacheFinal.bytes / MB).toFixed(1)} MB by its own estimate`,
    );
    for (const [name, m] of [
      ["engine", engineCache],
      ["evaluator-level", evaluatorCache],
    ] as const) {
      if (m === undefined || m.entries === 0) continue;
      console.log(
        `  ${name} cache heap: ${m.realBytesPerEntry.toFixed(0)} B per entry measured, ` +
          `${m.estimatedBytesPerEntry.toFixed(0)} B estimated (${m.entries} entries)` +
          (m.emptyBytes !== undefined ? `; ${(m.emptyBytes / MB).toFixed(0)} MB when empty` : ""),
      );
    }
    for (const [phase, d] of Object.entries(cachePhases)) {
      if (d.hits + d.misses > 0) {
        console.log(
          `  ${phase.padEnd(44)} hits ${String(d.hits).padStart(8)}, misses ${String(d.misses).padStart(8)}; RSS after ${(d.rss / MB).toFixed(0)} MB`,
        );
      }
    }
    console.log(
      `load average: ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`,
    );
    console.log(
      `memory: heap ${(end.heapUsed / MB).toFixed(0)} MB, RSS ${(end.rss / MB).toFixed(0)} MB at the end, ` +
        `peak RSS ${(peakRss / MB).toFixed(0)} MB`,
    );
    let failed = false;
    for (const [phase, v] of Object.entries(verdicts)) {
      if (v.mismatches + v.errors > 0) {
        failed = true;
        console.log(
          `WRONG ANSWERS in ${phase}: ${v.mismatches} mismatches, ${v.errors} errors of ${v.checked}`,
        );
        for (const x of v.examples) console.log(`  ${x}`);
      }
    }
    if (!failed) console.log("answers: every check agreed with the dataset's expected answer");

    const goals = evaluateGoals({
      coldEval,
      coldEngine,
      warmEvalPerSecond,
      heavyListMs,
      peakRss,
      phases: args.phases,
    });
    console.log("\ngoals:");
    for (const g of goals) {
      console.log(`  ${g.met ? "met   " : "MISSED"}  ${g.goal.padEnd(46)} ${g.value}`);
    }

    if (args.json) {
      const date = started.toISOString().slice(0, 10);
      const out =
        args.out ??
        join(
          repoRoot(),
          "bench",
          "results",
          `${date}-engine-${args.scale}${args.store === "postgres" ? "-postgres" : ""}${budgetBytes !== undefined ? "-budget" : ""}.json`,
        );
      mkdirSync(dirname(out), { recursive: true });
      const report = {
        benchmark: "engine",
        startedAt: started.toISOString(),
        machine: {
          node: process.version,
          cpus: cpu.length,
          cpu: cpu[0]?.model,
          totalMemory: totalmem(),
          loadAverageAtStart: loadAtStart,
          loadAverageAtEnd: loadavg()[0],
        },
        scale: args.scale,
        seed: args.seed,
        sizes: dataset.sizes,
        dataset: described,
        checkMix: describeMix(mix),
        load,
        memoryBudgetBytes: budgetBytes,
        firstCheckUs,
        timerOverheadNs: timerNs,
        rows,
        lists,
        cache: {
          final: cacheFinal,
          phases: cachePhases,
          engineMemory: engineCache,
          evaluatorMemory: evaluatorCache,
        },
        memory: { end, peakRss },
        verification: Object.fromEntries(
          Object.entries(verdicts).map(([k, v]) => [
            k,
            {
              checked: v.checked,
              mismatches: v.mismatches,
              errors: v.errors,
              examples: v.examples,
            },
          ]),
        ),
        goals,
      };
      writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nwrote ${out}`);
    }
  } finally {
    await engine?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (args.store === "postgres") {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
      await client.end();
    }
  }
}

interface CacheDelta {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
  readonly bytes: number;
  /** Process RSS at the end of the phase (garbage included). */
  readonly rss: number;
}

/** What a result cache really costs on the heap, against its own estimate. */
interface CacheMemory {
  readonly entries: number;
  /** Heap growth after a full collection, per entry added. */
  readonly realBytesPerEntry: number;
  /** The cache's `sizeCalculation` estimate (what `maxBytes` bounds). */
  readonly estimatedBytesPerEntry: number;
  /** Heap taken by the empty cache (lru-cache allocates its slots up front). */
  readonly emptyBytes?: number;
}

/**
 * Cold and warm checks at the `Evaluator` level: one evaluator per check over a cache of its
 * own, as `engine.check` builds them. The cache is dropped on return so that its memory does
 * not count against the engine runs that follow.
 */
function evaluatorRuns(
  view: Snapshot,
  engine: EngineType,
  queries: readonly CheckQuery[],
  phases: ReadonlySet<Phase>,
  minMs: number,
  timerNs: number,
) {
  const rows: Row[] = [];
  const verdicts: Record<string, Verdicts> = {};
  const cachePhases: Record<string, CacheDelta> = {};
  collect();
  const heapEmpty = process.memoryUsage().heapUsed;
  const cache = new ResultCache();
  collect();
  const heapCreated = process.memoryUsage().heapUsed;
  const newEvaluator = () =>
    new Evaluator(view, { maxDepth: engine.maxDepth, now: engine.clock.now(), cache });
  let mark = cache.stats();
  const markPhase = (name: string) => {
    collect();
    const now = cache.stats();
    cachePhases[name] = cacheDelta(mark, now);
    mark = now;
  };

  let cold: LatencySummary | undefined;
  if (phases.has("cold")) {
    const v = new Verdicts();
    verdicts["cold, evaluator"] = v;
    const samples = new LatencySamples(queries.length);
    for (const q of queries) {
      let outcome: Outcome;
      const t0 = hr();
      try {
        outcome = newEvaluator().check(q.resource, q.permission, q.subject).outcome;
      } catch (err) {
        v.error(q, err);
        continue;
      }
      samples.add(elapsedNs(t0));
      v.record(q, permissionshipName(outcome));
    }
    cold = samples.summary();
    rows.push(latencyRow("Check cold", "evaluator", samples));
    markPhase("Check cold, evaluator");
  } else {
    for (const q of queries) newEvaluator().check(q.resource, q.permission, q.subject);
    markPhase("fill, evaluator");
  }
  collect();
  const stats = cache.stats();
  const memory: CacheMemory = {
    entries: stats.size,
    realBytesPerEntry: (process.memoryUsage().heapUsed - heapCreated) / Math.max(1, stats.size),
    estimatedBytesPerEntry: stats.bytes / Math.max(1, stats.size),
    emptyBytes: heapCreated - heapEmpty,
  };

  let warmPerSecond = 0;
  if (phases.has("warm")) {
    let sink = 0;
    warmPerSecond = throughput(minMs, queries.length, () => {
      for (const q of queries) {
        sink += newEvaluator().check(q.resource, q.permission, q.subject).outcome.value;
      }
    });
    rows.push({
      name: "Check warm, throughput",
      level: "evaluator",
      count: queries.length,
      perSecond: warmPerSecond,
      note: "whole passes, no per-check timer",
    });
    const v = new Verdicts();
    verdicts["warm, evaluator"] = v;
    const samples = new LatencySamples(queries.length);
    for (const q of queries) {
      const t0 = hr();
      const outcome = newEvaluator().check(q.resource, q.permission, q.subject).outcome;
      samples.add(elapsedNs(t0));
      v.record(q, permissionshipName(outcome));
    }
    rows.push(latencyRow("Check warm", "evaluator", samples, `timer pair ≈ ${timerNs} ns`));

    // One evaluator for every check: its memo answers, as within one CheckBulk.
    const shared = newEvaluator();
    for (const q of queries) shared.check(q.resource, q.permission, q.subject);
    const memoPerSecond = throughput(minMs, queries.length, () => {
      for (const q of queries) {
        sink += shared.check(q.resource, q.permission, q.subject).outcome.value;
      }
    });
    rows.push({
      name: "Check warm, one evaluator",
      level: "evaluator",
      count: queries.length,
      perSecond: memoPerSecond,
      note: "memo hits: no construction, no shared cache",
    });
    markPhase("Check warm, evaluator");
    if (sink === -1) console.log(sink); // keeps the measured work observable
  }
  return { rows, verdicts, cachePhases, cold, warmPerSecond, memory };
}

/**
 * Lets V8 optimise the check path before anything is measured, without leaving entries the
 * measured queries could hit: evaluators run a different mix through a throwaway cache (freed
 * on return), and `engine.check` runs with subjects that appear in no tuple. The engine part
 * is kept short because its entries stay in the engine's cache for the rest of the run.
 */
async function warmUp(
  engine: EngineType,
  view: Snapshot | undefined,
  mix: CheckMix,
): Promise<void> {
  const cache = new ResultCache();
  for (let round = 0; round < 2 && view !== undefined; round++) {
    for (const q of mix.queries) {
      new Evaluator(view, { maxDepth: engine.maxDepth, now: engine.clock.now(), cache }).check(
        q.resource,
        q.permission,
        q.subject,
      );
    }
  }
  const engineRounds = Math.min(mix.queries.length, 1000);
  for (let i = 0; i < engineRounds; i++) {
    await engine.check(TENANT, warmupQuery(mix.queries[i]!, i));
  }
}

/** A warm-up variant of a query whose subject appears in no tuple. */
function warmupQuery(q: CheckQuery, i: number): CheckQuery {
  return { ...q, subject: { type: "user", id: `warmup-${i}` } };
}

function latencyRow(
  name: string,
  level: Row["level"],
  samples: LatencySamples,
  note?: string,
): Row {
  return {
    name,
    level,
    count: samples.count,
    perSecond: samples.count / (samples.total() / 1e9),
    latency: samples.summary(),
    ...(note !== undefined ? { note } : {}),
  };
}

function formatComposition(mix: CheckMix): string {
  return Object.entries(mix.composition)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

function fmt(n: number, digits = 1): string {
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(digits);
}

function printTable(rows: readonly Row[]): void {
  const header = ["", "level", "n", "per s", "p50 µs", "p99 µs", "max µs", "note"];
  const lines = rows.map((r) => [
    r.name,
    r.level,
    String(r.count),
    fmt(r.perSecond),
    r.latency ? fmt(r.latency.p50, 2) : "",
    r.latency ? fmt(r.latency.p99, 2) : "",
    r.latency ? fmt(r.latency.max, 1) : "",
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const print = (cells: string[]) =>
    console.log(
      cells
        .map((c, i) =>
          i === 0 || i === 1 || i === cells.length - 1
            ? c.padEnd(widths[i]!)
            : c.padStart(widths[i]!),
        )
        .join("  ")
        .trimEnd(),
    );
  console.log("");
  print(header);
  for (const l of lines) print(l);
}

function printLists(lists: readonly Record<string, unknown>[]): void {
  console.log("");
  for (const l of lists) {
    const ms = (v: unknown) => (typeof v === "number" ? `${v.toFixed(2)} ms` : "");
    if (l.kind === "ListObjects(document, view)") {
      console.log(
        `ListObjects  ${String(l.label).padEnd(26)} ${String(l.subject).padEnd(12)} ` +
          `${String(l.objects).padStart(6)} objects  cold ${ms(l.coldFreshCacheMs)}, ` +
          `engine first ${ms(l.engineFirstMs)}, warm ${ms(l.engineWarmMedianMs)}  (${l.note})`,
      );
    } else {
      console.log(
        `ListSubjects ${String(l.label).padEnd(26)} ${String(l.resource).padEnd(15)} ` +
          `${String(l.subjects).padStart(6)} users${l.wildcard ? " + user:*" : ""}  ` +
          `first ${ms(l.engineFirstMs)}, warm ${ms(l.engineWarmMedianMs)}`,
      );
    }
  }
}

interface Goal {
  readonly goal: string;
  readonly value: string;
  readonly met: boolean;
}

function evaluateGoals(r: {
  coldEval: LatencySummary | undefined;
  coldEngine: LatencySummary | undefined;
  warmEvalPerSecond: number;
  heavyListMs: { cold: number; warm: number; objects: number } | undefined;
  peakRss: number;
  phases: ReadonlySet<Phase>;
}): Goal[] {
  const goals: Goal[] = [];
  if (r.phases.has("warm")) {
    goals.push({
      goal: "warm ≥ 1M checks/s (evaluator)",
      value: `${fmt(r.warmEvalPerSecond)} /s`,
      met: r.warmEvalPerSecond >= 1e6,
    });
  }
  for (const [level, s] of [
    ["evaluator", r.coldEval],
    ["engine.check", r.coldEngine],
  ] as const) {
    if (s === undefined) continue;
    goals.push({
      goal: `cold p50 < 50 µs (${level})`,
      value: `${fmt(s.p50, 2)} µs`,
      met: s.p50 < 50,
    });
    goals.push({
      goal: `cold p99 < 1 ms (${level})`,
      value: `${fmt(s.p99, 2)} µs`,
      met: s.p99 < 1000,
    });
  }
  if (r.heavyListMs !== undefined) {
    const { cold, warm, objects } = r.heavyListMs;
    goals.push({
      goal: `ListObjects of ${objects} docs < 50 ms (cold)`,
      value: `${cold.toFixed(1)} ms`,
      met: cold < 50,
    });
    goals.push({
      goal: `ListObjects of ${objects} docs < 50 ms (warm)`,
      value: `${warm.toFixed(1)} ms`,
      met: warm < 50,
    });
  }
  goals.push({
    goal: "peak RSS < 1 GB",
    value: `${(r.peakRss / MB).toFixed(0)} MB`,
    met: r.peakRss < 1024 * MB,
  });
  return goals;
}

await main();
