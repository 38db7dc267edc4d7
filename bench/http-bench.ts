/**
 * Check over HTTP/JSON against `trellis serve --http-listen`, beside the floor: an empty
 * `node:http` JSON handler with the same messages (bench/http-floor-server.ts), loaded by the
 * same generator (bench/http-load.ts) in the same run. A third server, Trellis's HTTP face
 * alone in front of a handler that answers at once (bench/http-face-server.ts), splits the
 * difference: what the face costs, and what the request pipeline and the check cost (those
 * gRPC pays too). Prints a table and writes JSON to bench/results/<date>-http-<scale>.json.
 *
 * Build and run, from the repository root:
 *   npm run bench:http -- --runs 1 --duration-ms 2000     (a quick look)
 *   npm run bench:http                                    (small scale, 3 runs of 3 s per cell)
 * which is
 *   make build && npx tsc -p bench/tsconfig.engine.json && node bench/.build/bench/http-bench.js
 * Flags: --scale small|medium|large (small); --seed N (42); --checks N (10000); --runs R (3);
 * --duration-ms N (3000); --warmup-ms N (1000); --concurrency 16 (a list; one keep-alive
 * connection per call in flight, as HTTP/1.1 has it); --workers 1,2 (load-generating
 * processes sharing the concurrency); --deadline-ms N (sent as `grpc-timeout`; 0, the default,
 * sends none and the server applies its default deadline); --auth (an API key minted into the
 * datastore and sent with every request, instead of --insecure-dev); --trellis-bin FILE;
 * --server-log-level L (warn); --out FILE; --no-json.
 *
 * A run is what bench/grpc-bench.ts describes (same dataset, check mix and first pass that
 * verifies every answer and warms the result cache; load generators in forked processes;
 * the systems' runs back to back, their order rotating; invalid runs left out), over HTTP/1.1
 * instead of gRPC. The goal: Trellis's Check throughput at concurrency 16 at least
 * 85% of the floor's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type CheckMix, checkMix, describeMix } from "./check-mix.js";
import { DocsDataset, isScaleName, SCALES, type ScaleName } from "./dataset.js";
import {
  errorText,
  type FigureSpread,
  fmtMs,
  fmtRate,
  loadDataset,
  median,
  mintCheckKey,
  ServerProcess,
  spread,
  TENANT,
  warnIfStaleBuild,
  ZOOKIE_SECRET,
} from "./grpc-bench.js";
import { establishedConnectionsTo, type LatencyFigures, type LoadResult } from "./grpc-load.js";
import { callEachHttp, type HttpLoadOptions, runHttpLoadInWorkers } from "./http-load.js";
import { repoRoot } from "./measure.js";

const CHECK_PATH = "/trellis.v1.PermissionService/Check";
const PASS_CONCURRENCY = 16;

export type SystemName = "floor" | "face" | "trellis";
const SYSTEMS: readonly SystemName[] = ["floor", "face", "trellis"];

export interface HttpBenchOptions {
  readonly scale: ScaleName;
  readonly seed?: number;
  readonly checks?: number;
  readonly runs?: number;
  readonly durationMs?: number;
  readonly warmupMs?: number;
  /** Default [16]. */
  readonly concurrency?: readonly number[];
  /** Default [1, 2]. */
  readonly workers?: readonly number[];
  /** Sent as `grpc-timeout`; 0 (default) for none. */
  readonly deadlineMs?: number;
  readonly auth?: boolean;
  readonly trellisBin?: string;
  readonly serverLogLevel?: string;
  readonly log?: (line: string) => void;
}

export interface HttpRun {
  readonly system: SystemName;
  readonly concurrency: number;
  readonly workers: number;
  readonly repetition: number;
  readonly valid: boolean;
  readonly invalidReasons: readonly string[];
  readonly callsPerSecond: number;
  readonly calls: number;
  readonly durationMs: number;
  readonly latencyUs: LatencyFigures;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  readonly mismatches: number;
  readonly connectionsOpen: number | undefined;
  readonly serverCpuPercent: number | undefined;
  readonly serverCpuUsPerCall: number | undefined;
  readonly clientCpuUsPerCall: number;
  readonly loadAverage: number;
  readonly histogram: string;
}

interface SystemSummary {
  readonly callsPerSecond: FigureSpread;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Median of the runs' server CPU per call, µs. */
  readonly serverCpuUsPerCall: number | undefined;
}

export interface HttpCellSummary {
  readonly concurrency: number;
  readonly workers: number;
  readonly systems: Readonly<Record<SystemName, SystemSummary | undefined>>;
  /** Trellis / floor throughput of each repetition whose two runs are valid. */
  readonly throughputRatios: readonly number[];
  /** Face alone / floor, likewise. */
  readonly faceRatios: readonly number[];
}

/** One Check body per query of the mix, and the answer each must get. */
export function checkBodies(mix: CheckMix): { bodies: string[]; expected: string[] } {
  return {
    bodies: mix.queries.map((q) =>
      JSON.stringify({
        resource: { objectType: q.resource.type, objectId: q.resource.id },
        permission: q.permission,
        subject: {
          object: { objectType: q.subject.type, objectId: q.subject.id },
          ...(q.subject.relation !== undefined ? { optionalRelation: q.subject.relation } : {}),
        },
      }),
    ),
    expected: mix.queries.map((q) =>
      q.expected === "ALLOWED" ? "PERMISSIONSHIP_HAS_PERMISSION" : "PERMISSIONSHIP_NO_PERMISSION",
    ),
  };
}

function summarizeSystem(runs: readonly HttpRun[]): SystemSummary | undefined {
  const valid = runs.filter((r) => r.valid);
  if (valid.length === 0) return undefined;
  const cpu = valid.map((r) => r.serverCpuUsPerCall).filter((c) => c !== undefined);
  return {
    callsPerSecond: spread(valid.map((r) => r.callsPerSecond)),
    p50Us: median(valid.map((r) => r.latencyUs.p50)),
    p99Us: median(valid.map((r) => r.latencyUs.p99)),
    serverCpuUsPerCall: cpu.length === 0 ? undefined : median(cpu),
  };
}

function summarize(runs: readonly HttpRun[]): HttpCellSummary[] {
  const cells = new Map<string, HttpRun[]>();
  for (const r of runs) {
    const key = `${r.concurrency}/${r.workers}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  return [...cells.values()].map((list) => {
    const ratios = (system: SystemName): number[] => {
      const out: number[] = [];
      for (const rep of new Set(list.map((r) => r.repetition))) {
        const floor = list.find((r) => r.repetition === rep && r.system === "floor");
        const other = list.find((r) => r.repetition === rep && r.system === system);
        if (floor?.valid === true && other?.valid === true) {
          out.push(other.callsPerSecond / floor.callsPerSecond);
        }
      }
      return out;
    };
    const of = (system: SystemName) => summarizeSystem(list.filter((r) => r.system === system));
    return {
      concurrency: list[0]!.concurrency,
      workers: list[0]!.workers,
      systems: { floor: of("floor"), face: of("face"), trellis: of("trellis") },
      throughputRatios: ratios("trellis"),
      faceRatios: ratios("face"),
    };
  });
}

export async function runHttpBench(options: HttpBenchOptions) {
  const o = {
    seed: 42,
    checks: 10_000,
    runs: 3,
    durationMs: 3000,
    warmupMs: 1000,
    concurrency: [16],
    workers: [1, 2],
    deadlineMs: 0,
    auth: false,
    trellisBin: join(repoRoot(), "bin", "trellis"),
    serverLogLevel: "warn",
    log: (line: string) => console.log(line),
    ...options,
  };
  const log = o.log;
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  const cpu = cpus();
  log(
    `Trellis HTTP/JSON benchmark — scale ${o.scale}, seed ${o.seed}, node ${process.version}, ` +
      `${cpu.length} × ${cpu[0]?.model ?? "cpu"}, load average ${loadAtStart.toFixed(2)}`,
  );
  const dataset = new DocsDataset(SCALES[o.scale], o.seed);
  const mix = checkMix(dataset, o.checks, o.seed);
  const { bodies, expected } = checkBodies(mix);
  log(
    `dataset: ${dataset.tupleCount} tuples; ${mix.queries.length} checks (${mix.allowed} allowed)`,
  );

  const dir = mkdtempSync(join(tmpdir(), "trellis-http-bench-"));
  const servers: ServerProcess[] = [];
  try {
    if (o.trellisBin === join(repoRoot(), "bin", "trellis")) warnIfStaleBuild(log);
    const dbPath = join(dir, "bench.db");
    const load = await loadDataset(dataset, dbPath);
    log(`loaded ${load.tuples} tuples into SQLite in ${load.importMs.toFixed(0)} ms`);
    const token = o.auth ? await mintCheckKey(dbPath) : undefined;
    const trellis = new ServerProcess("trellis serve", [
      o.trellisBin,
      "serve",
      ...(o.auth ? [] : ["--insecure-dev"]),
      "--listen",
      "127.0.0.1:0",
      "--http-listen",
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
    const trellisAddress = await trellis.address(
      /http:\/\/(\S+)\/trellis\.v1\.PermissionService\/Check/,
    );
    const floor = new ServerProcess("floor server", [
      fileURLToPath(new URL("./http-floor-server.js", import.meta.url)),
      "--listen",
      "127.0.0.1:0",
    ]);
    servers.push(floor);
    const floorAddress = await floor.address(/listening on (\S+)/);
    const face = new ServerProcess("face server", [
      fileURLToPath(new URL("./http-face-server.js", import.meta.url)),
      "--listen",
      "127.0.0.1:0",
    ]);
    servers.push(face);
    const faceAddress = await face.address(/listening on (\S+)/);
    log(`trellis at http://${trellisAddress} (pid ${trellis.child.pid})`);
    log(`floor   at http://${floorAddress} (pid ${floor.child.pid})`);
    log(`face    at http://${faceAddress} (pid ${face.child.pid})`);
    const servedBy = {
      floor: { address: floorAddress, process: floor },
      face: { address: faceAddress, process: face },
      trellis: { address: trellisAddress, process: trellis },
    } as const;
    const addressOf = (s: SystemName) => servedBy[s].address;
    const processOf = (s: SystemName) => servedBy[s].process;

    // ---- first pass: answers, and a warm server ---------------------------------------------
    for (const system of ["trellis", "floor", "face"] as const) {
      const pass = await callEachHttp({
        address: addressOf(system),
        path: CHECK_PATH,
        bodies,
        ...(system === "trellis" ? { expected } : {}),
        ...(token !== undefined ? { token } : {}),
        concurrency: PASS_CONCURRENCY,
      });
      const failed = Object.keys(pass.errors).length > 0 || pass.mismatches > 0;
      log(
        `first pass, ${system}: ${pass.calls} calls in ${pass.ms.toFixed(0)} ms` +
          (failed
            ? `; ${pass.mismatches} wrong answers, errors: ${errorText(pass.errors) || "none"}`
            : system === "trellis"
              ? "; every answer as expected"
              : ""),
      );
      for (const x of pass.errorExamples) log(`  ${x}`);
      if (failed && system === "trellis") throw new Error("Trellis answered wrongly; no load run");
    }

    // ---- the cells ----------------------------------------------------------------------------
    const runs: HttpRun[] = [];
    for (const concurrency of o.concurrency) {
      for (const workers of o.workers) {
        if (workers > concurrency) continue;
        for (let rep = 1; rep <= o.runs; rep++) {
          const order = SYSTEMS.map((_, i) => SYSTEMS[(i + rep - 1) % SYSTEMS.length]!);
          for (const system of order) {
            const server = processOf(system);
            const loadOptions: HttpLoadOptions = {
              address: addressOf(system),
              path: CHECK_PATH,
              bodies,
              ...(system === "trellis" ? { expected } : {}),
              ...(token !== undefined ? { token } : {}),
              concurrency,
              durationMs: o.durationMs,
              warmupMs: o.warmupMs,
              deadlineMs: o.deadlineMs,
            };
            let connectionsOpen: number | undefined;
            let cpuAtStart: number | undefined;
            let cpuAtEnd: number | undefined;
            const result: LoadResult = await runHttpLoadInWorkers(loadOptions, workers, {
              onReady: () => {
                const address = addressOf(system);
                connectionsOpen = establishedConnectionsTo(
                  Number(address.slice(address.lastIndexOf(":") + 1)),
                );
              },
              onWindowStart: () => {
                cpuAtStart = server.cpuMs();
              },
              onWindowEnd: () => {
                cpuAtEnd = server.cpuMs();
              },
            });
            const invalidReasons: string[] = [];
            if (Object.keys(result.errors).length > 0) {
              invalidReasons.push(`errors: ${errorText(result.errors)}`);
            }
            if (Object.keys(result.warmupErrors).length > 0) {
              invalidReasons.push(`warm-up errors: ${errorText(result.warmupErrors)}`);
            }
            if (result.mismatches > 0) invalidReasons.push(`${result.mismatches} wrong answers`);
            if (result.calls === 0) invalidReasons.push("no call answered");
            if (connectionsOpen !== undefined && connectionsOpen < concurrency) {
              invalidReasons.push(`${connectionsOpen} connections open, ${concurrency} expected`);
            }
            const serverCpuMs =
              cpuAtStart !== undefined && cpuAtEnd !== undefined
                ? cpuAtEnd - cpuAtStart
                : undefined;
            const run: HttpRun = {
              system,
              concurrency,
              workers,
              repetition: rep,
              valid: invalidReasons.length === 0,
              invalidReasons,
              callsPerSecond: result.callsPerSecond,
              calls: result.calls,
              durationMs: result.durationMs,
              latencyUs: result.latencyUs,
              errors: result.errors,
              errorExamples: result.errorExamples,
              mismatches: result.mismatches,
              connectionsOpen,
              serverCpuPercent:
                serverCpuMs === undefined ? undefined : (serverCpuMs / result.durationMs) * 100,
              serverCpuUsPerCall:
                serverCpuMs === undefined || result.calls === 0
                  ? undefined
                  : (serverCpuMs * 1000) / result.calls,
              clientCpuUsPerCall: result.calls > 0 ? (result.clientCpuMs * 1000) / result.calls : 0,
              loadAverage: loadavg()[0]!,
              histogram: result.histogram,
            };
            runs.push(run);
            log(
              `c=${concurrency} w=${workers} ${system.padEnd(7)} rep ${rep}: ` +
                `${fmtRate(run.callsPerSecond)} calls/s, p50 ${fmtMs(run.latencyUs.p50)} ms, ` +
                `p99 ${fmtMs(run.latencyUs.p99)} ms` +
                (run.serverCpuPercent === undefined
                  ? ""
                  : `, server CPU ${run.serverCpuPercent.toFixed(0)}% (${run.serverCpuUsPerCall?.toFixed(0)} µs/call)`) +
                `, client ${run.clientCpuUsPerCall.toFixed(0)} µs/call, load ${run.loadAverage.toFixed(2)}` +
                (run.valid ? "" : `  INVALID: ${invalidReasons.join("; ")}`),
            );
            for (const x of run.errorExamples) log(`    ${x}`);
          }
        }
      }
    }

    // ---- report -------------------------------------------------------------------------------
    const summaries = summarize(runs);
    log("");
    log("conc  wkr  system   calls/s  of floor   p50 ms   p99 ms  srv µs/call");
    const percent = (ratios: readonly number[]) => {
      if (ratios.length === 0) return "–";
      const pairs =
        ratios.length > 1
          ? ` (pairs ${(Math.min(...ratios) * 100).toFixed(0)}–${(Math.max(...ratios) * 100).toFixed(0)}%)`
          : "";
      return `${(median(ratios) * 100).toFixed(0)}%${pairs}`;
    };
    const goals: { goal: string; value: string; met: boolean }[] = [];
    for (const s of summaries) {
      for (const system of SYSTEMS) {
        const x = s.systems[system];
        const ratios =
          system === "trellis" ? s.throughputRatios : system === "face" ? s.faceRatios : [];
        log(
          `${String(s.concurrency).padStart(4)}  ${String(s.workers).padStart(3)}  ${system.padEnd(7)}` +
            `  ${fmtRate(x?.callsPerSecond.median ?? Number.NaN).padStart(7)}` +
            `  ${(system === "floor" ? "" : ratios.length === 0 ? "–" : `${(median(ratios) * 100).toFixed(0)}%`).padStart(8)}` +
            `  ${fmtMs(x?.p50Us ?? Number.NaN).padStart(7)}  ${fmtMs(x?.p99Us ?? Number.NaN).padStart(7)}` +
            `  ${(x?.serverCpuUsPerCall?.toFixed(0) ?? "–").padStart(11)}`,
        );
      }
      if (s.concurrency === 16) {
        const workers = `${s.workers} worker${s.workers > 1 ? "s" : ""}`;
        const ratio = median(s.throughputRatios);
        goals.push({
          goal: `HTTP Check ≥ 85% of the node:http floor (c=16, ${workers})`,
          value: percent(s.throughputRatios),
          met: Number.isFinite(ratio) && ratio >= 0.85,
        });
        const faceRatio = median(s.faceRatios);
        goals.push({
          goal: `the HTTP face alone ≥ 85% of the floor (c=16, ${workers})`,
          value: percent(s.faceRatios),
          met: Number.isFinite(faceRatio) && faceRatio >= 0.85,
        });
      }
    }
    log("\ngoals:");
    for (const g of goals) log(`  ${g.met ? "met   " : "MISSED"}  ${g.goal}: ${g.value}`);
    const loadAtEnd = loadavg()[0]!;
    log(`load average: ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end`);
    return {
      benchmark: "http" as const,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        node: process.version,
        cpus: cpu.length,
        cpu: cpu[0]?.model,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAtEnd,
      },
      scale: o.scale,
      seed: o.seed,
      dataset: dataset.describe(),
      checkMix: describeMix(mix),
      options: {
        checks: o.checks,
        runs: o.runs,
        durationMs: o.durationMs,
        warmupMs: o.warmupMs,
        concurrency: o.concurrency,
        workers: o.workers,
        deadlineMs: o.deadlineMs,
        auth: o.auth,
        serverLogLevel: o.serverLogLevel,
      },
      servers: {
        trellis: trellisAddress,
        floor: floorAddress,
        face: faceAddress,
        command: trellis.command,
      },
      runs,
      summaries,
      goals,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "small" },
      seed: { type: "string", default: "42" },
      checks: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
      "duration-ms": { type: "string", default: "3000" },
      "warmup-ms": { type: "string", default: "1000" },
      concurrency: { type: "string", default: "16" },
      workers: { type: "string", default: "1,2" },
      "deadline-ms": { type: "string", default: "0" },
      auth: { type: "boolean", default: false },
      "trellis-bin": { type: "string" },
      "server-log-level": { type: "string", default: "warn" },
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
  const result = await runHttpBench({
    scale: values.scale,
    seed: integer("seed", values.seed),
    checks: integer("checks", values.checks),
    runs: integer("runs", values.runs),
    durationMs: integer("duration-ms", values["duration-ms"]),
    warmupMs: integer("warmup-ms", values["warmup-ms"]),
    concurrency: list("concurrency", values.concurrency),
    workers: list("workers", values.workers),
    deadlineMs: integer("deadline-ms", values["deadline-ms"]),
    auth: values.auth,
    serverLogLevel: values["server-log-level"],
    ...(values["trellis-bin"] !== undefined ? { trellisBin: values["trellis-bin"] } : {}),
  });
  if (!values["no-json"]) {
    const date = result.startedAt.slice(0, 10);
    const file =
      values.out ?? join(repoRoot(), "bench", "results", `${date}-http-${result.scale}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
