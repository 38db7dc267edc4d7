/**
 * Check and CheckBulk over gRPC against `trellis serve`, beside the floor: an empty grpc-js
 * server with the same messages (bench/grpc-floor-server.ts), loaded by the same generator
 * (bench/grpc-load.ts) in the same run. The same for SpiceDB's face on the same server and
 * port: CheckPermission sent through SpiceDB's own Node client (`@authzed/authzed-node`), the
 * same dataset and checks, beside its own floor, an empty CheckPermission handler over the same
 * service definition (bench/grpc-authzed-floor-server.ts) loaded by the same client code. Each
 * face is measured against its own floor. Prints a table and writes JSON to
 * bench/results/<date>-grpc-<scale>.json.
 *
 * Build and run, from the repository root:
 *   npm run bench:grpc -- --scale small --runs 1 --duration-ms 2000     (a quick look)
 *   npm run bench:grpc                                   (small scale, 3 runs of 3 s per cell)
 *   npm run bench:grpc -- --scale medium                 (the reporting size)
 *   npm run bench:grpc -- --faces spicedb --concurrency 16 --workers 1   (SpiceDB's face alone)
 * which is
 *   make build && npx tsc -p bench/tsconfig.engine.json && node bench/.build/bench/grpc-bench.js
 * Flags: --scale small|medium|large (small); --faces trellis,spicedb (the faces measured, both
 * by default; `trellis` is trellis.v1 Check and CheckBulk, `spicedb` SpiceDB's CheckPermission);
 * --seed N (42); --checks N (size of the check mix, 10000); --runs R (3); --duration-ms N
 * (measured window of a run, 3000); --warmup-ms N (1000); --concurrency 1,16,64;
 * --workers 1,2; --connections N (HTTP/2 connections of a run, split among its workers; 4);
 * --bulk-concurrency N (16; 0 skips CheckBulk); --deadline-ms N (set on every call as the SDK
 * does, 30000; 0 for none); --auth (start Trellis with caller authentication
 * on, an API key minted into its datastore and sent with every call, instead of --insecure-dev);
 * --token T (sent as `authorization: Bearer T`; authzed-node's preshared key);
 * --tenant ID (sent as `trellis-tenant` metadata; default: none, the server's default tenant);
 * --target HOST:PORT (load a Trellis that is already running, holding the same dataset and seed,
 * instead of starting one); --trellis-bin FILE (the `trellis` script to run with node; default
 * bin/trellis, which runs dist/: `make build` first, as the npm script does; a warning is
 * printed when a source file is newer than the build); --server-log-level L (warn; `info` adds
 * the server's line per request); --profile-server DIR (run the server under `node --cpu-prof`,
 * the profile written to DIR at exit); --out FILE; --no-json.
 *
 * From another script: `runGrpcBench(options)` runs the same and resolves to the report
 * (`GrpcBenchResult`, what the JSON file holds) without writing a file.
 *
 * Profile the server:
 *   node bench/.build/bench/grpc-bench.js --runs 1 --profile-server bench/.build/profiles --no-json
 *   node bench/.build/bench/cpuprofile-summary.js bench/.build/profiles/<file>.cpuprofile
 *
 * What a run is, and why:
 * - The dataset (bench/dataset.ts) is generated and bulk-imported through the store into a
 *   SQLite file once; `trellis serve --insecure-dev` is started on it as a child process on a
 *   free loopback port, each face's floor server as another. The check mix
 *   (bench/check-mix.ts) is encoded once into Check requests, into CheckBulk requests of 100
 *   consecutive checks and into SpiceDB CheckPermission requests (consistency absent, as in
 *   Check: minimize_latency).
 * - A first pass sends every request once to each server (16 at a time) and compares Trellis's
 *   answers with the ones the dataset guarantees. It also fills Trellis's result cache, so the
 *   measured runs are the warm steady state of a server that has seen these queries before.
 * - Load-generator workers are processes (child_process.fork), not threads, so the client side
 *   pays for its own event loop as a real client would. "Workers" is the number of such
 *   processes sharing the target concurrency, each with its own connections (the run's
 *   --connections split among them). A cell with more workers than its concurrency is skipped.
 *   The orchestrating process only coordinates; it sends no load during the runs.
 * - Cells: Check and CheckPermission at every concurrency × workers (the two faces' cells of
 *   one load next to each other); CheckBulk at --bulk-concurrency, one worker. For every
 *   cell, R repetitions, each a floor run and a Trellis run back to back, the order
 *   alternating between repetitions so machine drift hits both.
 *   Each run has its own processes and connections, a warm-up, then the measured window.
 * - Every answer of every Trellis run is compared with the expected one. A run with any failed
 *   call (warm-up included), any wrong answer, or fewer connections than asked is marked
 *   invalid and left out of every figure; the table says how many were.
 * - Figures per cell and system: the median of the runs' throughput with the spread (min–max),
 *   medians of the runs' p50 and p99. Ratios are per repetition (the pair run back to back),
 *   then their median. Server CPU is read from /proc over the measured window (Linux); its
 *   time per call answered is the figure least disturbed by other work on the machine, and
 *   the floor's over Trellis's ("cpu ratio") is the throughput ratio a server whose core is
 *   the limit would show; goals are judged on the measured throughput, with it beside them.
 * - Goals: Check throughput ≥ 85% of the floor's and p99 ≤ 1.2× the floor's; SpiceDB's
 *   CheckPermission throughput ≥ 85% of its own floor's; CheckBulk ≥ 200k checks/s.
 * - Client and servers share this machine's cores: the floor is what grpc-js can do here, with
 *   this generator, and the load average is printed because other work skews both. SpiceDB's
 *   client costs more per call than the trellis.v1 generator's raw calls; that cost is on the
 *   load workers' processes, and the same for the face and its floor.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { v1 } from "@authzed/authzed-node";
import { mintApiKey } from "../src/auth/api-key-token.js";
import { Engine } from "../src/engine/engine.js";
import { Permissionship } from "../src/gen/trellis/v1/core.js";
import { CheckBulkRequest, CheckRequest } from "../src/gen/trellis/v1/permission_service.js";
import { openDatastore } from "../src/store/open.js";
import { type CheckMix, type CheckQuery, checkMix, describeMix } from "./check-mix.js";
import { DocsDataset, IMPORT_BATCH, isScaleName, SCALES, type ScaleName } from "./dataset.js";
import {
  callEach,
  establishedConnectionsTo,
  healthStatus,
  type LatencyFigures,
  type LoadMethod,
  type LoadOptions,
  type LoadResult,
  type MismatchExample,
  type PassResult,
  plannedConnections,
  runLoadInWorkers,
} from "./grpc-load.js";
import { repoRoot } from "./measure.js";

export const TENANT = "bench";
export const ZOOKIE_SECRET = "grpc-benchmark-zookie-secret-0123456789";
const BULK_ITEMS = 100;
const PASS_CONCURRENCY = 16;

// ---- options and results ----------------------------------------------------------------

export type SystemName = "floor" | "trellis";

/**
 * The API a run speaks: `trellis` is trellis.v1 (Check, CheckBulk) with bench/grpc-floor-server.ts
 * as its floor; `spicedb` is SpiceDB's `authzed.api.v1` CheckPermission through authzed-node,
 * with bench/grpc-authzed-floor-server.ts as its floor. Both are served by the same Trellis.
 */
export type Face = "trellis" | "spicedb";
export const FACES: readonly Face[] = ["trellis", "spicedb"];

export function isFace(name: string): name is Face {
  return (FACES as readonly string[]).includes(name);
}

/** The face a method belongs to. */
export function faceOf(method: LoadMethod): Face {
  return method === "checkPermission" ? "spicedb" : "trellis";
}

/** How a method is named in tables and goals. */
export function methodLabel(method: LoadMethod): string {
  switch (method) {
    case "check":
      return "Check";
    case "checkBulk":
      return `CheckBulk×${BULK_ITEMS}`;
    case "checkPermission":
      return "SpiceDB CheckPermission";
  }
}

/** What `runGrpcBench` measures; every field but `scale` has the CLI's default. */
export interface GrpcBenchOptions {
  readonly scale: ScaleName;
  /** The faces measured, each against its own floor. Default both. */
  readonly faces?: readonly Face[];
  /** Seed of the dataset and of the check mix. Default 42. */
  readonly seed?: number;
  /** Checks in the mix. Default 10 000. */
  readonly checks?: number;
  /** Repetitions of every cell. Default 3. */
  readonly runs?: number;
  /** Measured window of a run, ms. Default 3000. */
  readonly durationMs?: number;
  /** Warm-up of a run, ms. Default 1000. */
  readonly warmupMs?: number;
  /** Check concurrencies. Default [1, 16, 64]. */
  readonly concurrency?: readonly number[];
  /** Load-generator process counts. Default [1, 2]. */
  readonly workers?: readonly number[];
  /** HTTP/2 connections of a run, split among its workers. Default 4. */
  readonly connections?: number;
  /** Concurrency of the CheckBulk runs (one worker); 0 skips them. Default 16. */
  readonly bulkConcurrency?: number;
  /** Deadline of every call, ms; 0 for none. Default 30 000 (the SDK's). */
  readonly deadlineMs?: number;
  /** Bearer token sent with every call. */
  readonly token?: string;
  /**
   * Start Trellis with caller authentication on (an API key with the `check` scope is minted
   * into its datastore and sent with every call), as production runs it, instead of
   * `--insecure-dev`. Ignored with `target`. Default false.
   */
  readonly auth?: boolean;
  /** Sent as `trellis-tenant` metadata with every call. */
  readonly tenant?: string;
  /** A running Trellis to load instead of starting one (it must hold the same dataset). */
  readonly target?: string;
  /** The `trellis` script to run with node. Default: bin/trellis (runs dist/; `make build`). */
  readonly trellisBin?: string;
  /** `--log-level` of the started server. Default "warn". */
  readonly serverLogLevel?: string;
  /** Run the started server under `--cpu-prof`, writing the profile here at exit. */
  readonly profileServerDir?: string;
  /** Progress and table lines. Default: console.log. */
  readonly log?: (line: string) => void;
}

export interface FigureSpread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** One run: one system under one load. */
export interface GrpcRun {
  readonly face: Face;
  readonly system: SystemName;
  readonly method: LoadMethod;
  readonly concurrency: number;
  readonly workers: number;
  readonly connections: number;
  /** 1-based repetition of the cell. */
  readonly repetition: number;
  /** 0: ran first of its pair, 1: second. */
  readonly orderInPair: number;
  readonly startedAt: string;
  readonly valid: boolean;
  /** Why the run is left out of the figures. */
  readonly invalidReasons: readonly string[];
  readonly callsPerSecond: number;
  readonly itemsPerSecond: number;
  readonly calls: number;
  readonly durationMs: number;
  readonly latencyUs: LatencyFigures;
  readonly errors: Readonly<Record<string, number>>;
  readonly warmupErrors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  readonly mismatches: number;
  readonly mismatchExamples: readonly string[];
  /** TCP connections to the server seen once the workers were connected (Linux). */
  readonly connectionsOpen: number | undefined;
  /** CPU of the server process over the measured window, percent of one core (Linux). */
  readonly serverCpuPercent: number | undefined;
  /** Server CPU time per call answered in the window, µs: less sensitive to other load. */
  readonly serverCpuUsPerCall: number | undefined;
  /** CPU of the load-generating processes over the window, percent of one core. */
  readonly clientCpuPercent: number;
  /** Their CPU time per call answered in the window, µs. */
  readonly clientCpuUsPerCall: number;
  /** One-minute load average at the end of the run. */
  readonly loadAverage: number;
  /** The merged latency histogram (hdr-histogram-js, compressed base64, microseconds). */
  readonly histogram: string;
}

export interface SystemSummary {
  readonly validRuns: number;
  readonly invalidRuns: number;
  readonly callsPerSecond: FigureSpread;
  readonly itemsPerSecond: FigureSpread;
  /** Microseconds: medians (and spread) of the runs' percentiles. */
  readonly p50Us: FigureSpread;
  readonly p99Us: FigureSpread;
  readonly serverCpuPercent: number | undefined;
  /** Median of the runs' server CPU per call, µs. */
  readonly serverCpuUsPerCall: number | undefined;
  /** Median of the runs' client CPU per call, µs. */
  readonly clientCpuUsPerCall: number;
}

export interface GrpcCellSummary {
  readonly face: Face;
  readonly method: LoadMethod;
  readonly concurrency: number;
  readonly workers: number;
  readonly floor: SystemSummary | undefined;
  readonly trellis: SystemSummary | undefined;
  /** Trellis / floor throughput of each repetition whose two runs are valid. */
  readonly throughputRatios: readonly number[];
  /** Trellis / floor p99 of each such repetition. */
  readonly p99Ratios: readonly number[];
  /**
   * Floor / Trellis server CPU time per call of each such repetition where both were read:
   * the share of the floor's throughput Trellis would reach were the server's core the limit.
   * Less disturbed by other work on the machine than the throughput ratio.
   */
  readonly cpuRatios: readonly number[];
}

export interface GrpcGoal {
  readonly goal: string;
  readonly value: string;
  readonly met: boolean;
}

export interface PassSummary {
  readonly calls: number;
  readonly ms: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  readonly mismatches: number;
  readonly mismatchExamples: readonly string[];
}

export interface GrpcBenchResult {
  readonly benchmark: "grpc";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: {
    readonly node: string;
    readonly cpus: number;
    readonly cpu: string | undefined;
    readonly totalMemory: number;
    readonly platform: string;
    readonly loadAverageAtStart: number;
    readonly loadAverageAtEnd: number;
    readonly loadAverageMax: number;
  };
  readonly scale: ScaleName;
  readonly seed: number;
  readonly dataset: Record<string, number>;
  readonly checkMix: {
    readonly seed: number;
    readonly queries: number;
    readonly allowed: number;
    readonly denied: number;
    readonly composition: Record<string, number>;
    readonly bulkRequests: number;
  };
  readonly options: Omit<
    Required<GrpcBenchOptions>,
    "log" | "token" | "target" | "tenant" | "profileServerDir"
  > & {
    readonly authenticated: boolean;
    /** The started server checked credentials (API key), rather than `--insecure-dev`. */
    readonly serverAuth: boolean;
    readonly target: string | undefined;
    readonly tenant: string | undefined;
    readonly profileServerDir: string | undefined;
  };
  readonly load: { readonly tuples: number; readonly importMs: number } | undefined;
  /** Resident memory of the started Trellis server after the first pass (warm), MB. */
  readonly serverRssMb: number | undefined;
  readonly servers: {
    readonly trellis: { readonly address: string; readonly command: string | undefined };
    /** The trellis.v1 floor (with the `trellis` face). */
    readonly floor: { readonly address: string } | undefined;
    /** SpiceDB's floor (with the `spicedb` face). */
    readonly authzedFloor: { readonly address: string } | undefined;
  };
  /** The first pass over every request, per system and method. */
  readonly verification: Readonly<Record<string, PassSummary>>;
  readonly runs: readonly GrpcRun[];
  readonly summaries: readonly GrpcCellSummary[];
  readonly goals: readonly GrpcGoal[];
}

// ---- requests ---------------------------------------------------------------------------

/** The prepared calls of one method: encoded requests and their expected answers. */
export interface PreparedCalls {
  readonly requests: Uint8Array[];
  /** Expected `Permissionship` of every item of every request. */
  readonly expected: Uint8Array[];
  /** The mix's queries behind each request, to describe a wrong answer. */
  readonly queries: readonly (readonly CheckQuery[])[];
  readonly itemsPerCall: number;
}

function permissionshipOf(q: CheckQuery): number {
  return q.expected === "ALLOWED"
    ? Permissionship.PERMISSIONSHIP_HAS_PERMISSION
    : Permissionship.PERMISSIONSHIP_NO_PERMISSION;
}

function requestParts(q: CheckQuery) {
  return {
    resource: { objectType: q.resource.type, objectId: q.resource.id },
    permission: q.permission,
    subject: {
      object: { objectType: q.subject.type, objectId: q.subject.id },
      optionalRelation: q.subject.relation ?? "",
    },
  };
}

/** One Check request per query of the mix (consistency absent: minimize_latency). */
export function prepareChecks(mix: CheckMix): PreparedCalls {
  return {
    requests: mix.queries.map((q) =>
      CheckRequest.encode({ ...requestParts(q), withTracing: false }).finish(),
    ),
    expected: mix.queries.map((q) => Uint8Array.of(permissionshipOf(q))),
    queries: mix.queries.map((q) => [q]),
    itemsPerCall: 1,
  };
}

/**
 * One SpiceDB CheckPermission request per query of the mix, encoded by authzed-node's own
 * message type (consistency absent: minimize_latency, as in `prepareChecks`).
 */
export function prepareCheckPermissions(mix: CheckMix): PreparedCalls {
  return {
    requests: mix.queries.map((q) =>
      v1.CheckPermissionRequest.toBinary(
        v1.CheckPermissionRequest.create({ ...requestParts(q), withTracing: false }),
      ),
    ),
    // SpiceDB's CheckPermissionResponse.Permissionship numbers its values as trellis.v1 does.
    expected: mix.queries.map((q) => Uint8Array.of(permissionshipOf(q))),
    queries: mix.queries.map((q) => [q]),
    itemsPerCall: 1,
  };
}

/** CheckBulk requests of `size` consecutive queries; an incomplete last batch is dropped. */
export function prepareBulk(mix: CheckMix, size = BULK_ITEMS): PreparedCalls {
  const batches: CheckQuery[][] = [];
  for (let i = 0; i + size <= mix.queries.length; i += size) {
    batches.push(mix.queries.slice(i, i + size));
  }
  return {
    requests: batches.map((b) =>
      CheckBulkRequest.encode({ items: b.map((q) => requestParts(q)) }).finish(),
    ),
    expected: batches.map((b) => Uint8Array.from(b, permissionshipOf)),
    queries: batches,
    itemsPerCall: size,
  };
}

function describeQuery(q: CheckQuery): string {
  const rel = q.subject.relation === undefined ? "" : `#${q.subject.relation}`;
  return `${q.resource.type}:${q.resource.id}#${q.permission}@${q.subject.type}:${q.subject.id}${rel}`;
}

const PERMISSIONSHIP_NAMES: Readonly<Record<number, string>> = {
  [-1]: "an item error",
  0: "UNSPECIFIED",
  1: "NO_PERMISSION",
  2: "HAS_PERMISSION",
  3: "CONDITIONAL_PERMISSION",
};

function describeMismatch(calls: PreparedCalls, m: MismatchExample): string {
  const q = calls.queries[m.request]?.[m.item];
  const what = q === undefined ? `request ${m.request} item ${m.item}` : describeQuery(q);
  const kind = q === undefined ? "" : ` (${q.kind})`;
  return `${what}: expected ${PERMISSIONSHIP_NAMES[m.expected]}, got ${PERMISSIONSHIP_NAMES[m.got] ?? m.got}${kind}`;
}

// ---- child processes --------------------------------------------------------------------

/** A server process, its address, and the tail of what it wrote. */
export class ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly command: string;
  #tail = "";
  #exited: Promise<number | null>;

  constructor(name: string, args: readonly string[]) {
    this.name = name;
    this.command = [process.execPath, ...args].join(" ");
    this.child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk: Buffer) => {
      this.#tail = (this.#tail + chunk.toString("utf8")).slice(-8000);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.#exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  get tail(): string {
    return this.#tail;
  }

  /** Waits for a line matching `pattern` on stdout or stderr; its first group. */
  async address(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = pattern.exec(this.#tail);
      if (m !== null) return m[1]!;
      if (this.child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(
      `${this.name} did not start (${this.child.exitCode === null ? "timed out" : `exit ${this.child.exitCode}`}); its output:\n${this.#tail}`,
    );
  }

  /** CPU time used so far, ms (Linux /proc; undefined elsewhere). */
  cpuMs(): number | undefined {
    return processCpuMs(this.child.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

let clockTicks: number | undefined;

function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitServing(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: number | string = "none";
  while (Date.now() < deadline) {
    last = await healthStatus(address);
    // SERVING; or a server without the health service, which is up all the same.
    if (last === 1 || last === "UNIMPLEMENTED") return;
    await sleep(100);
  }
  throw new Error(`${address} is not SERVING after ${timeoutMs} ms (health: ${last})`);
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

// ---- statistics -------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): FigureSpread {
  return {
    median: median(values),
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

function summarize(runs: readonly GrpcRun[]): SystemSummary | undefined {
  if (runs.length === 0) return undefined;
  const valid = runs.filter((r) => r.valid);
  const cpu = valid.map((r) => r.serverCpuPercent).filter((c) => c !== undefined);
  const perCall = valid.map((r) => r.serverCpuUsPerCall).filter((c) => c !== undefined);
  return {
    validRuns: valid.length,
    invalidRuns: runs.length - valid.length,
    callsPerSecond: spread(valid.map((r) => r.callsPerSecond)),
    itemsPerSecond: spread(valid.map((r) => r.itemsPerSecond)),
    p50Us: spread(valid.map((r) => r.latencyUs.p50)),
    p99Us: spread(valid.map((r) => r.latencyUs.p99)),
    serverCpuPercent: cpu.length === 0 ? undefined : median(cpu),
    serverCpuUsPerCall: perCall.length === 0 ? undefined : median(perCall),
    clientCpuUsPerCall: median(valid.map((r) => r.clientCpuUsPerCall)),
  };
}

function summarizeCells(runs: readonly GrpcRun[]): GrpcCellSummary[] {
  const cells = new Map<string, GrpcRun[]>();
  for (const r of runs) {
    const key = `${r.face}/${r.method}/${r.concurrency}/${r.workers}`;
    const list = cells.get(key) ?? [];
    list.push(r);
    cells.set(key, list);
  }
  return [...cells.values()].map((list) => {
    const first = list[0]!;
    const throughputRatios: number[] = [];
    const p99Ratios: number[] = [];
    const cpuRatios: number[] = [];
    const reps = new Set(list.map((r) => r.repetition));
    for (const rep of reps) {
      const floor = list.find((r) => r.repetition === rep && r.system === "floor");
      const trellis = list.find((r) => r.repetition === rep && r.system === "trellis");
      if (floor?.valid !== true || trellis?.valid !== true) continue;
      throughputRatios.push(trellis.callsPerSecond / floor.callsPerSecond);
      p99Ratios.push(trellis.latencyUs.p99 / floor.latencyUs.p99);
      if (floor.serverCpuUsPerCall !== undefined && trellis.serverCpuUsPerCall !== undefined) {
        cpuRatios.push(floor.serverCpuUsPerCall / trellis.serverCpuUsPerCall);
      }
    }
    return {
      face: first.face,
      method: first.method,
      concurrency: first.concurrency,
      workers: first.workers,
      floor: summarize(list.filter((r) => r.system === "floor")),
      trellis: summarize(list.filter((r) => r.system === "trellis")),
      throughputRatios,
      p99Ratios,
      cpuRatios,
    };
  });
}

function evaluateGoals(summaries: readonly GrpcCellSummary[]): GrpcGoal[] {
  const goals: GrpcGoal[] = [];
  for (const s of summaries) {
    if (s.method === "checkBulk") continue;
    const cell = `c=${s.concurrency}, ${s.workers} worker${s.workers > 1 ? "s" : ""}`;
    const t = median(s.throughputRatios);
    const p = median(s.p99Ratios);
    const none = s.throughputRatios.length === 0;
    goals.push({
      goal:
        s.method === "check"
          ? `Check throughput ≥ 85% of floor (${cell})`
          : `SpiceDB CheckPermission ≥ 85% of its floor (${cell})`,
      value: none
        ? "no valid pair of runs"
        : [
            `${(t * 100).toFixed(0)}%`,
            ratioSpread(s.throughputRatios, true),
            s.cpuRatios.length === 0
              ? ""
              : `(by server CPU per call ${(median(s.cpuRatios) * 100).toFixed(0)}%)`,
          ]
            .filter((part) => part !== "")
            .join(" "),
      met: !none && t >= 0.85,
    });
    // The SpiceDB face's goal is its throughput; its p99 ratio is in the table.
    if (s.method !== "check") continue;
    goals.push({
      goal: `Check p99 ≤ 1.2× floor (${cell})`,
      value: none ? "no valid pair of runs" : `${p.toFixed(2)}× ${ratioSpread(s.p99Ratios, false)}`,
      met: !none && p <= 1.2,
    });
  }
  for (const s of summaries) {
    if (s.method !== "checkBulk" || s.trellis === undefined) continue;
    const perSecond = s.trellis.itemsPerSecond.median;
    const ok = s.trellis.validRuns > 0;
    goals.push({
      goal: `CheckBulk ×${BULK_ITEMS} ≥ 200k checks/s (c=${s.concurrency})`,
      value: ok ? `${fmtRate(perSecond)} checks/s` : "no valid run",
      met: ok && perSecond >= 200_000,
    });
  }
  return goals;
}

function ratioSpread(values: readonly number[], percent: boolean): string {
  if (values.length < 2) return "";
  const f = (v: number) => (percent ? `${(v * 100).toFixed(0)}%` : `${v.toFixed(2)}×`);
  return `(pairs ${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

// ---- formatting -------------------------------------------------------------------------

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

export function fmtMs(us: number): string {
  if (!Number.isFinite(us)) return "–";
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1);
}

function printTable(summaries: readonly GrpcCellSummary[], log: (line: string) => void): void {
  const header = [
    "method",
    "conc",
    "wkr",
    "system",
    "runs",
    "calls/s",
    "spread",
    "checks/s",
    "p50 ms",
    "p99 ms",
    "p99 spread",
    "srv CPU",
    "srv µs/call",
    "cli µs/call",
    "trellis/floor",
    "p99 ratio",
    "cpu ratio",
  ];
  const rows: string[][] = [];
  for (const s of summaries) {
    for (const system of ["floor", "trellis"] as const) {
      const x = s[system];
      if (x === undefined) continue;
      const ratio = system === "trellis" && s.throughputRatios.length > 0;
      rows.push([
        methodLabel(s.method),
        String(s.concurrency),
        String(s.workers),
        system,
        x.invalidRuns > 0 ? `${x.validRuns} (+${x.invalidRuns} bad)` : String(x.validRuns),
        fmtRate(x.callsPerSecond.median),
        x.validRuns === 0
          ? "–"
          : `${fmtRate(x.callsPerSecond.min)}–${fmtRate(x.callsPerSecond.max)}`,
        s.method === "checkBulk" ? fmtRate(x.itemsPerSecond.median) : "",
        fmtMs(x.p50Us.median),
        fmtMs(x.p99Us.median),
        x.validRuns === 0 ? "–" : `${fmtMs(x.p99Us.min)}–${fmtMs(x.p99Us.max)}`,
        x.serverCpuPercent === undefined ? "" : `${x.serverCpuPercent.toFixed(0)}%`,
        x.serverCpuUsPerCall === undefined ? "" : x.serverCpuUsPerCall.toFixed(0),
        Number.isFinite(x.clientCpuUsPerCall) ? x.clientCpuUsPerCall.toFixed(0) : "–",
        ratio ? `${(median(s.throughputRatios) * 100).toFixed(0)}%` : "",
        ratio ? `${median(s.p99Ratios).toFixed(2)}×` : "",
        system === "trellis" && s.cpuRatios.length > 0
          ? `${(median(s.cpuRatios) * 100).toFixed(0)}%`
          : "",
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  log("");
  log(line(header));
  for (const r of rows) log(line(r));
}

export function errorText(errors: Readonly<Record<string, number>>): string {
  return Object.entries(errors)
    .map(([k, n]) => `${k} ×${n}`)
    .join(", ");
}

// ---- the benchmark ----------------------------------------------------------------------

/** bin/trellis runs dist/: says so when dist/ is missing or older than a source file. */
export function warnIfStaleBuild(log: (line: string) => void): void {
  const root = repoRoot();
  const stamp = join(root, "dist", ".build-stamp");
  if (!existsSync(stamp)) {
    log("warning: dist/ is not built (no dist/.build-stamp); run `make build` first");
    return;
  }
  const built = statSync(stamp).mtimeMs;
  const newer = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = newer(path);
        if (found !== undefined) return found;
      } else if (entry.name.endsWith(".ts") && statSync(path).mtimeMs > built) {
        return path;
      }
    }
    return undefined;
  };
  const source = newer(join(root, "src"));
  if (source !== undefined) {
    log(`warning: ${source} is newer than dist/; the server runs the older build (make build)`);
  }
}

/** Writes the dataset into a new SQLite file through the store's bulk import. */
/** Writes an API key with the `check` scope into the datastore; returns its token. */
export async function mintCheckKey(dbPath: string): Promise<string> {
  const store = await openDatastore(`sqlite:${dbPath}`);
  try {
    const minted = mintApiKey();
    await store.createApiKey({
      id: minted.id,
      tenant: TENANT,
      secretHash: minted.secretHash,
      scopes: ["check"],
      description: "benchmark",
      createdAt: new Date(),
    });
    return minted.token;
  } finally {
    await store.close();
  }
}

/** VmRSS of a process, MB (Linux); undefined elsewhere. */
export function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

export async function loadDataset(
  dataset: DocsDataset,
  dbPath: string,
): Promise<{ tuples: number; importMs: number }> {
  const store = await openDatastore(`sqlite:${dbPath}`);
  try {
    await store.createTenant(TENANT);
    const engine = new Engine(store, { zookieSecret: ZOOKIE_SECRET });
    try {
      await engine.writeSchema(TENANT, dataset.schema);
      const t0 = performance.now();
      await store.bulkImport(TENANT, dataset.relationships(), { batchSize: IMPORT_BATCH });
      return { tuples: dataset.tupleCount, importMs: performance.now() - t0 };
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
  }
}

function resolveOptions(o: GrpcBenchOptions) {
  const r = {
    scale: o.scale,
    faces: o.faces ?? FACES,
    seed: o.seed ?? 42,
    checks: o.checks ?? 10_000,
    runs: o.runs ?? 3,
    durationMs: o.durationMs ?? 3000,
    warmupMs: o.warmupMs ?? 1000,
    concurrency: o.concurrency ?? [1, 16, 64],
    workers: o.workers ?? [1, 2],
    connections: o.connections ?? 4,
    bulkConcurrency: o.bulkConcurrency ?? 16,
    deadlineMs: o.deadlineMs ?? 30_000,
    token: o.token,
    auth: o.auth ?? false,
    tenant: o.tenant,
    target: o.target,
    trellisBin: o.trellisBin ?? join(repoRoot(), "bin", "trellis"),
    serverLogLevel: o.serverLogLevel ?? "warn",
    profileServerDir: o.profileServerDir,
    log: o.log ?? ((line: string) => console.log(line)),
  };
  const positive = (name: string, n: number, min: number) => {
    if (!Number.isSafeInteger(n) || n < min) {
      throw new TypeError(`${name} must be an integer of at least ${min}, got ${n}`);
    }
  };
  if (r.faces.length === 0) throw new TypeError("faces must name at least one face");
  for (const f of r.faces) {
    if (!isFace(f)) throw new TypeError(`faces: unknown face "${f}" (${FACES.join(", ")})`);
  }
  positive("seed", r.seed, 0);
  positive("checks", r.checks, BULK_ITEMS);
  positive("runs", r.runs, 1);
  positive("durationMs", r.durationMs, 100);
  positive("warmupMs", r.warmupMs, 0);
  positive("connections", r.connections, 1);
  positive("bulkConcurrency", r.bulkConcurrency, 0);
  positive("deadlineMs", r.deadlineMs, 0);
  for (const c of r.concurrency) positive("concurrency", c, 1);
  for (const w of r.workers) positive("workers", w, 1);
  return r;
}

/**
 * Runs the whole benchmark: dataset, servers, the verification pass, every cell, and the
 * summaries. Starts and stops its own servers (Trellis unless `target` is given, and the floor).
 */
export async function runGrpcBench(options: GrpcBenchOptions): Promise<GrpcBenchResult> {
  const o = resolveOptions(options);
  const log = o.log;
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  let loadMax = loadAtStart;
  const cpu = cpus();
  log(
    `Trellis gRPC benchmark — scale ${o.scale}, seed ${o.seed}, node ${process.version}, ` +
      `${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 1024 ** 3)} GB, ` +
      `load average ${loadAtStart.toFixed(2)}`,
  );
  if (loadAtStart > 0.5)
    log(`warning: load average ${loadAtStart.toFixed(2)}; figures will be noisy`);

  const dataset = new DocsDataset(SCALES[o.scale], o.seed);
  const mix = checkMix(dataset, o.checks, o.seed);
  const checks = prepareChecks(mix);
  const bulk = prepareBulk(mix);
  const checkPermissions = prepareCheckPermissions(mix);
  log(
    `dataset: ${dataset.tupleCount} tuples; check mix (seed ${mix.seed}): ${mix.queries.length} ` +
      `checks, ${mix.allowed} allowed, ${mix.denied} denied; ${bulk.requests.length} CheckBulk ` +
      `requests of ${BULK_ITEMS}`,
  );

  const dir = mkdtempSync(join(tmpdir(), "trellis-grpc-bench-"));
  const servers: ServerProcess[] = [];
  try {
    let load: { tuples: number; importMs: number } | undefined;
    let trellis: ServerProcess | undefined;
    let trellisAddress: string;
    if (o.target === undefined) {
      if (o.trellisBin === join(repoRoot(), "bin", "trellis")) warnIfStaleBuild(log);
      const dbPath = join(dir, "bench.db");
      load = await loadDataset(dataset, dbPath);
      log(`loaded ${load.tuples} tuples into SQLite in ${load.importMs.toFixed(0)} ms`);
      if (o.auth) o.token = await mintCheckKey(dbPath);
      const nodeArgs =
        o.profileServerDir === undefined
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${o.profileServerDir}`];
      trellis = new ServerProcess("trellis serve", [
        ...nodeArgs,
        o.trellisBin,
        "serve",
        ...(o.auth ? [] : ["--insecure-dev"]),
        "--listen",
        "127.0.0.1:0",
        "--datastore",
        `sqlite:${dbPath}`,
        "--tenant",
        TENANT,
        "--zookie-secret",
        ZOOKIE_SECRET,
        "--log-level",
        o.serverLogLevel,
        "--shutdown-grace",
        "2s",
      ]);
      servers.push(trellis);
      trellisAddress = await trellis.address(/serving on (\S+)/);
    } else {
      trellisAddress = o.target;
    }
    // Each face's floor, started only for a face measured.
    const floors = new Map<Face, { process: ServerProcess; address: string }>();
    for (const face of o.faces) {
      const script = face === "trellis" ? "grpc-floor-server.js" : "grpc-authzed-floor-server.js";
      const server = new ServerProcess(`${face} floor server`, [
        fileURLToPath(new URL(`./${script}`, import.meta.url)),
        "--listen",
        "127.0.0.1:0",
      ]);
      servers.push(server);
      floors.set(face, { process: server, address: await server.address(/listening on (\S+)/) });
    }
    await waitServing(trellisAddress);
    log(`trellis at ${trellisAddress}${trellis ? ` (pid ${trellis.child.pid})` : ""}`);
    for (const [face, floor] of floors) {
      log(`${face} floor at ${floor.address} (pid ${floor.process.child.pid})`);
    }

    const floorOf = (face: Face) => floors.get(face)!;
    const addressOf = (face: Face, s: SystemName) =>
      s === "floor" ? floorOf(face).address : trellisAddress;
    const processOf = (face: Face, s: SystemName) =>
      s === "floor" ? floorOf(face).process : trellis;
    const callsOf = (m: LoadMethod) =>
      m === "check" ? checks : m === "checkBulk" ? bulk : checkPermissions;
    const common = {
      token: o.token,
      tenant: o.tenant,
      deadlineMs: o.deadlineMs,
    };

    // ---- first pass: answers, and a warm server ---------------------------------------------
    const verification: Record<string, PassSummary> = {};
    const methods: LoadMethod[] = [
      ...(o.faces.includes("trellis") ? (["check"] as const) : []),
      ...(o.faces.includes("trellis") && o.bulkConcurrency > 0 ? (["checkBulk"] as const) : []),
      ...(o.faces.includes("spicedb") ? (["checkPermission"] as const) : []),
    ];
    for (const system of ["trellis", "floor"] as const) {
      for (const method of methods) {
        const calls = callsOf(method);
        const pass: PassResult = await callEach({
          ...common,
          address: addressOf(faceOf(method), system),
          method,
          requests: calls.requests,
          ...(system === "trellis" ? { expected: calls.expected } : {}),
          concurrency: PASS_CONCURRENCY,
          connections: o.connections,
        });
        const summary: PassSummary = {
          calls: pass.calls,
          ms: pass.ms,
          errors: pass.errors,
          errorExamples: pass.errorExamples,
          mismatches: pass.mismatches,
          mismatchExamples: pass.mismatchExamples.map((m) => describeMismatch(calls, m)),
        };
        verification[`${system} ${method}`] = summary;
        const failed = Object.keys(pass.errors).length > 0 || pass.mismatches > 0;
        log(
          `first pass, ${system} ${method}: ${pass.calls} calls in ${pass.ms.toFixed(0)} ms` +
            (system === "trellis"
              ? failed
                ? `; ${pass.mismatches} WRONG ANSWERS, errors: ${errorText(pass.errors) || "none"}`
                : `; every answer as expected`
              : failed
                ? `; errors: ${errorText(pass.errors)}`
                : ""),
        );
        for (const x of [...summary.errorExamples, ...summary.mismatchExamples]) log(`  ${x}`);
      }
    }

    const serverRssMb = rssMb(trellis?.child.pid);
    if (serverRssMb !== undefined) {
      log(`trellis server RSS after the first pass: ${serverRssMb.toFixed(0)} MB`);
    }

    // ---- the cells ------------------------------------------------------------------------
    interface Cell {
      face: Face;
      method: LoadMethod;
      concurrency: number;
      workers: number;
    }
    const cells: Cell[] = [];
    const single = methods.filter((m) => m !== "checkBulk");
    for (const c of o.concurrency) {
      for (const w of o.workers) {
        if (w > c) {
          log(`skipping concurrency ${c} with ${w} workers (more workers than calls)`);
          continue;
        }
        // The faces' cells of one load side by side, so that they see the same machine.
        for (const method of single) {
          cells.push({ face: faceOf(method), method, concurrency: c, workers: w });
        }
      }
    }
    if (methods.includes("checkBulk")) {
      cells.push({
        face: "trellis",
        method: "checkBulk",
        concurrency: o.bulkConcurrency,
        workers: 1,
      });
    }
    const total = cells.length * o.runs * 2;
    const runs: GrpcRun[] = [];
    for (const cell of cells) {
      for (let rep = 1; rep <= o.runs; rep++) {
        const order: SystemName[] = rep % 2 === 1 ? ["floor", "trellis"] : ["trellis", "floor"];
        for (const [orderInPair, system] of order.entries()) {
          const calls = callsOf(cell.method);
          const server = processOf(cell.face, system);
          const address = addressOf(cell.face, system);
          const loadOptions: LoadOptions = {
            ...common,
            address,
            method: cell.method,
            requests: calls.requests,
            ...(system === "trellis" ? { expected: calls.expected } : {}),
            itemsPerCall: calls.itemsPerCall,
            connections: o.connections,
            concurrency: cell.concurrency,
            durationMs: o.durationMs,
            warmupMs: o.warmupMs,
          };
          const expectedConnections = plannedConnections(
            o.connections,
            cell.concurrency,
            cell.workers,
          );
          let connectionsOpen: number | undefined;
          let cpuAtStart: number | undefined;
          let cpuAtEnd: number | undefined;
          const startedAt = new Date().toISOString();
          let result: LoadResult;
          try {
            result = await runLoadInWorkers(loadOptions, cell.workers, {
              onReady: () => {
                connectionsOpen = establishedConnectionsTo(portOf(address));
              },
              onWindowStart: () => {
                cpuAtStart = server?.cpuMs();
              },
              onWindowEnd: () => {
                cpuAtEnd = server?.cpuMs();
              },
            });
          } catch (err) {
            log(`run failed: ${(err as Error).message}`);
            if (server !== undefined) log(server.tail);
            throw err;
          }
          const loadNow = loadavg()[0]!;
          loadMax = Math.max(loadMax, loadNow);
          const invalidReasons: string[] = [];
          if (Object.keys(result.errors).length > 0) {
            invalidReasons.push(`errors: ${errorText(result.errors)}`);
          }
          if (Object.keys(result.warmupErrors).length > 0) {
            invalidReasons.push(`warm-up errors: ${errorText(result.warmupErrors)}`);
          }
          if (result.mismatches > 0) invalidReasons.push(`${result.mismatches} wrong answers`);
          if (result.calls === 0) invalidReasons.push("no call answered");
          if (connectionsOpen !== undefined && connectionsOpen < expectedConnections) {
            invalidReasons.push(
              `${connectionsOpen} connections open, ${expectedConnections} expected`,
            );
          }
          const serverCpuPercent =
            cpuAtStart !== undefined && cpuAtEnd !== undefined
              ? ((cpuAtEnd - cpuAtStart) / result.durationMs) * 100
              : undefined;
          const run: GrpcRun = {
            face: cell.face,
            system,
            method: cell.method,
            concurrency: cell.concurrency,
            workers: cell.workers,
            connections: result.connections,
            repetition: rep,
            orderInPair,
            startedAt,
            valid: invalidReasons.length === 0,
            invalidReasons,
            callsPerSecond: result.callsPerSecond,
            itemsPerSecond: result.itemsPerSecond,
            calls: result.calls,
            durationMs: result.durationMs,
            latencyUs: result.latencyUs,
            errors: result.errors,
            warmupErrors: result.warmupErrors,
            errorExamples: result.errorExamples,
            mismatches: result.mismatches,
            mismatchExamples: result.mismatchExamples.map((m) => describeMismatch(calls, m)),
            connectionsOpen,
            serverCpuPercent,
            serverCpuUsPerCall:
              cpuAtStart !== undefined && cpuAtEnd !== undefined && result.calls > 0
                ? ((cpuAtEnd - cpuAtStart) * 1000) / result.calls
                : undefined,
            clientCpuPercent: (result.clientCpuMs / result.durationMs) * 100,
            clientCpuUsPerCall: result.calls > 0 ? (result.clientCpuMs * 1000) / result.calls : 0,
            loadAverage: loadNow,
            histogram: result.histogram,
          };
          runs.push(run);
          log(
            `[${String(runs.length).padStart(String(total).length)}/${total}] ` +
              `${cell.method} c=${cell.concurrency} w=${cell.workers} ${system.padEnd(7)} ` +
              `rep ${rep}: ${fmtRate(run.callsPerSecond)} calls/s` +
              (cell.method === "checkBulk" ? ` (${fmtRate(run.itemsPerSecond)} checks/s)` : "") +
              `, p50 ${fmtMs(run.latencyUs.p50)} ms, p99 ${fmtMs(run.latencyUs.p99)} ms, ` +
              `max ${fmtMs(run.latencyUs.max)} ms; ${run.connections} conn` +
              (serverCpuPercent === undefined
                ? ""
                : `, server CPU ${serverCpuPercent.toFixed(0)}% (${run.serverCpuUsPerCall?.toFixed(0)} µs/call)`) +
              `, client CPU ${run.clientCpuPercent.toFixed(0)}%, load ${loadNow.toFixed(2)}` +
              (run.valid ? "" : `  INVALID: ${invalidReasons.join("; ")}`),
          );
          for (const x of [...run.errorExamples, ...run.mismatchExamples]) log(`    ${x}`);
        }
      }
    }

    // ---- report ---------------------------------------------------------------------------
    const summaries = summarizeCells(runs);
    printTable(summaries, log);
    const goals = evaluateGoals(summaries);
    log("\ngoals:");
    for (const g of goals) log(`  ${g.met ? "met   " : "MISSED"}  ${g.goal.padEnd(48)} ${g.value}`);
    const invalid = runs.filter((r) => !r.valid).length;
    if (invalid > 0) log(`\n${invalid} run(s) invalid and left out of every figure (see above)`);
    const loadAtEnd = loadavg()[0]!;
    loadMax = Math.max(loadMax, loadAtEnd);
    log(
      `load average: ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end, ` +
        `${loadMax.toFixed(2)} at most (sampled after each run)`,
    );

    return {
      benchmark: "grpc",
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        node: process.version,
        cpus: cpu.length,
        cpu: cpu[0]?.model,
        totalMemory: totalmem(),
        platform: `${process.platform} ${process.arch}`,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAtEnd,
        loadAverageMax: loadMax,
      },
      scale: o.scale,
      seed: o.seed,
      dataset: dataset.describe(),
      checkMix: { ...describeMix(mix), bulkRequests: bulk.requests.length },
      options: {
        scale: o.scale,
        faces: o.faces,
        seed: o.seed,
        checks: o.checks,
        runs: o.runs,
        durationMs: o.durationMs,
        warmupMs: o.warmupMs,
        concurrency: o.concurrency,
        workers: o.workers,
        connections: o.connections,
        bulkConcurrency: o.bulkConcurrency,
        deadlineMs: o.deadlineMs,
        authenticated: o.token !== undefined,
        serverAuth: o.auth && o.target === undefined,
        auth: o.auth,
        target: o.target,
        tenant: o.tenant,
        trellisBin: o.trellisBin,
        serverLogLevel: o.serverLogLevel,
        profileServerDir: o.profileServerDir,
      },
      load,
      serverRssMb,
      servers: {
        trellis: { address: trellisAddress, command: trellis?.command },
        floor: floors.has("trellis") ? { address: floorOf("trellis").address } : undefined,
        authzedFloor: floors.has("spicedb") ? { address: floorOf("spicedb").address } : undefined,
      },
      verification,
      runs,
      summaries,
      goals,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- command line -----------------------------------------------------------------------

function parseCli(): { options: GrpcBenchOptions; out: string | undefined; json: boolean } {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "small" },
      faces: { type: "string", default: FACES.join(",") },
      seed: { type: "string", default: "42" },
      checks: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
      "duration-ms": { type: "string", default: "3000" },
      "warmup-ms": { type: "string", default: "1000" },
      concurrency: { type: "string", default: "1,16,64" },
      workers: { type: "string", default: "1,2" },
      connections: { type: "string", default: "4" },
      "bulk-concurrency": { type: "string", default: "16" },
      "deadline-ms": { type: "string", default: "30000" },
      token: { type: "string" },
      auth: { type: "boolean" },
      tenant: { type: "string" },
      target: { type: "string" },
      "trellis-bin": { type: "string" },
      "server-log-level": { type: "string", default: "warn" },
      "profile-server": { type: "string" },
      out: { type: "string" },
      "no-json": { type: "boolean", default: false },
    },
  });
  const integer = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new TypeError(`--${flag} must be a non-negative integer, got "${text}"`);
    }
    return n;
  };
  const list = (flag: string, text: string) => text.split(",").map((t) => integer(flag, t.trim()));
  if (!isScaleName(values.scale)) {
    throw new TypeError(`--scale must be one of ${Object.keys(SCALES).join(", ")}`);
  }
  const faces = values.faces.split(",").map((f) => f.trim());
  const unknown = faces.find((f) => !isFace(f));
  if (unknown !== undefined) {
    throw new TypeError(`--faces: unknown face "${unknown}" (${FACES.join(", ")})`);
  }
  const options: GrpcBenchOptions = {
    scale: values.scale,
    faces: faces as Face[],
    seed: integer("seed", values.seed),
    checks: integer("checks", values.checks),
    runs: integer("runs", values.runs),
    durationMs: integer("duration-ms", values["duration-ms"]),
    warmupMs: integer("warmup-ms", values["warmup-ms"]),
    concurrency: list("concurrency", values.concurrency),
    workers: list("workers", values.workers),
    connections: integer("connections", values.connections),
    bulkConcurrency: integer("bulk-concurrency", values["bulk-concurrency"]),
    deadlineMs: integer("deadline-ms", values["deadline-ms"]),
    serverLogLevel: values["server-log-level"],
    ...(values.token !== undefined ? { token: values.token } : {}),
    ...(values.auth === true ? { auth: true } : {}),
    ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
    ...(values.target !== undefined ? { target: values.target } : {}),
    ...(values["trellis-bin"] !== undefined ? { trellisBin: values["trellis-bin"] } : {}),
    ...(values["profile-server"] !== undefined
      ? { profileServerDir: values["profile-server"] }
      : {}),
  };
  return { options, out: values.out, json: !values["no-json"] };
}

async function main(): Promise<void> {
  const { options, out, json } = parseCli();
  const result = await runGrpcBench(options);
  if (json) {
    const date = result.startedAt.slice(0, 10);
    const file = out ?? join(repoRoot(), "bench", "results", `${date}-grpc-${result.scale}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
