/**
 * A closed-loop load generator for Check over HTTP/1.1 with JSON bodies: `concurrency` callers,
 * each with its own keep-alive connection (HTTP/1.1 carries one request at a time), each
 * sending its next request as soon as the previous answer is complete, first for a warm-up,
 * then for a measured window. Latencies go into the same HDR histogram as the gRPC load's
 * (bench/grpc-load.ts); answers are parsed and compared with the expected ones.
 *
 * The client is a minimal HTTP/1.1 writer and reader on raw sockets (requests prepared once,
 * answers read by their content-length), like wrk or autocannon, so that the load generator's
 * own cost stays well below the server's: node:http's client costs more per request than the
 * servers being compared. `runHttpLoadInWorkers` forks worker processes
 * (bench/http-load-worker.ts) that share the concurrency.
 */
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { encodeIntoCompressedBase64 } from "hdr-histogram-js";
import {
  figures,
  type LoadResult,
  type MismatchExample,
  mergeLoadResults,
  newHistogram,
} from "./grpc-load.js";
import { runInWorkers, split, type WorkerRunHooks } from "./load-workers.js";

export interface HttpLoadOptions {
  /** `host:port` of the server (plain HTTP). */
  readonly address: string;
  /** The path requests are POSTed to. */
  readonly path: string;
  /** JSON request bodies, sent in turn, round and round. */
  readonly bodies: readonly string[];
  /** The expected `permissionship` of each body's answer (its JSON name); absent: not compared. */
  readonly expected?: readonly string[];
  /** Requests in flight at all times, one per connection. */
  readonly concurrency: number;
  /** Length of the measured window, ms. */
  readonly durationMs: number;
  /** Load before the measured window, not counted, ms. */
  readonly warmupMs: number;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sent as `grpc-timeout: <ms>m` with every request; 0 for none. */
  readonly deadlineMs: number;
}

const EXAMPLES = 5;
const HEADER_END = Buffer.from("\r\n\r\n");

/** The request bytes of every body, prepared once. */
function prepareRequests(options: HttpLoadOptions): Buffer[] {
  const extra =
    (options.token !== undefined ? `authorization: Bearer ${options.token}\r\n` : "") +
    (options.deadlineMs > 0 ? `grpc-timeout: ${options.deadlineMs}m\r\n` : "");
  return options.bodies.map((body) =>
    Buffer.from(
      `POST ${options.path} HTTP/1.1\r\nhost: ${options.address}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `${extra}\r\n${body}`,
    ),
  );
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One keep-alive connection that sends a request and reads its answer, one at a time. */
class Connection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    const fail = (err: Error) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(err);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the server closed the connection")));
  }

  static open(address: string): Promise<Connection> {
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.off("error", reject);
        resolve(new Connection(socket));
      });
      socket.once("error", reject);
    });
  }

  send(request: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headerEnd = this.#buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.#buffer.toString("latin1", 0, headerEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length === null) {
      this.#pending?.reject(
        new Error(`an answer without content-length: ${head.split("\r\n")[0]}`),
      );
      this.#pending = undefined;
      return;
    }
    const bodyStart = headerEnd + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length[1]);
    if (this.#buffer.length < bodyEnd) return;
    const answer = {
      status: Number(head.slice(9, 12)),
      body: this.#buffer.toString("utf8", bodyStart, bodyEnd),
    };
    this.#buffer = this.#buffer.subarray(bodyEnd);
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(answer);
  }
}

/** Hooks of a run, for a coordinator of several processes. */
export interface HttpLoadHooks {
  /** Called once every connection is up; the warm-up starts when the promise resolves. */
  readonly onReady?: () => Promise<void>;
}

const Phase = { Warming: 0, Measuring: 1, Done: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Runs the load from this process. */
export async function runHttpLoad(
  options: HttpLoadOptions,
  hooks: HttpLoadHooks = {},
): Promise<LoadResult> {
  if (options.bodies.length === 0) throw new TypeError("bodies must not be empty");
  const requests = prepareRequests(options);
  const connections = await Promise.all(
    Array.from({ length: options.concurrency }, () => Connection.open(options.address)),
  );
  try {
    await hooks.onReady?.();
    const histogram = newHistogram();
    const errors: Record<string, number> = {};
    const warmupErrors: Record<string, number> = {};
    const errorExamples: string[] = [];
    const mismatchExamples: MismatchExample[] = [];
    let mismatches = 0;
    let phase: Phase = Phase.Warming;
    let cursor = 0;
    let calls = 0;
    let warmupCalls = 0;
    let windowStart = 0;
    let windowEnd = 0;
    let cpuStart = process.cpuUsage();
    let cpuMs = 0;
    const startWindow = () => {
      phase = Phase.Measuring;
      windowStart = performance.now();
      cpuStart = process.cpuUsage();
      setTimeout(() => {
        phase = Phase.Done;
        windowEnd = performance.now();
        const cpu = process.cpuUsage(cpuStart);
        cpuMs = (cpu.user + cpu.system) / 1000;
      }, options.durationMs);
    };
    if (options.warmupMs > 0) setTimeout(startWindow, options.warmupMs);
    else startWindow();

    const caller = async (connection: Connection) => {
      while (phase !== Phase.Done) {
        const index = cursor;
        cursor = cursor + 1 === requests.length ? 0 : cursor + 1;
        const t0 = performance.now();
        const answer = await connection.send(requests[index]!);
        const t1 = performance.now();
        const measuring = phase === Phase.Measuring;
        if (answer.status !== 200) {
          const name = `HTTP_${answer.status}`;
          const into = measuring ? errors : warmupErrors;
          into[name] = (into[name] ?? 0) + 1;
          if (errorExamples.length < EXAMPLES) errorExamples.push(`${name}: ${answer.body}`);
          continue;
        }
        if (measuring) {
          calls++;
          histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        } else if (phase === Phase.Warming) {
          warmupCalls++;
        }
        const expected = options.expected?.[index];
        if (expected === undefined) continue;
        const got = (JSON.parse(answer.body) as { permissionship?: string }).permissionship;
        if (got !== expected) {
          mismatches++;
          if (mismatchExamples.length < EXAMPLES) {
            mismatchExamples.push({
              request: index,
              item: 0,
              expected: PERMISSIONSHIP_NUMBERS[expected] ?? -1,
              got: PERMISSIONSHIP_NUMBERS[got ?? ""] ?? -1,
            });
          }
        }
      }
    };
    await Promise.all(connections.map(caller));
    const durationMs = windowEnd - windowStart;
    const callsPerSecond = calls / (durationMs / 1000);
    return {
      method: "check",
      address: options.address,
      connections: connections.length,
      concurrency: options.concurrency,
      workers: 1,
      durationMs,
      calls,
      callsPerSecond,
      itemsPerCall: 1,
      itemsPerSecond: callsPerSecond,
      latencyUs: figures(histogram),
      errors,
      warmupCalls,
      warmupErrors,
      errorExamples,
      mismatches,
      mismatchExamples,
      clientCpuMs: cpuMs,
      histogram: encodeIntoCompressedBase64(histogram),
    };
  } finally {
    for (const c of connections) c.close();
  }
}

/** The numbers of `Permissionship` names, to report a wrong answer as the gRPC bench does. */
const PERMISSIONSHIP_NUMBERS: Readonly<Record<string, number>> = {
  PERMISSIONSHIP_UNSPECIFIED: 0,
  PERMISSIONSHIP_NO_PERMISSION: 1,
  PERMISSIONSHIP_HAS_PERMISSION: 2,
  PERMISSIONSHIP_CONDITIONAL_PERMISSION: 3,
};

const WORKER_SCRIPT = fileURLToPath(new URL("./http-load-worker.js", import.meta.url));

/** Runs the load from `workers` forked processes sharing the concurrency; figures merged. */
export async function runHttpLoadInWorkers(
  options: HttpLoadOptions,
  workers: number,
  hooks: WorkerRunHooks = {},
): Promise<LoadResult> {
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > options.concurrency) {
    throw new TypeError(`workers must be from 1 to the concurrency (${options.concurrency})`);
  }
  const shares = split(options.concurrency, workers).map(
    (concurrency): HttpLoadOptions => ({ ...options, concurrency }),
  );
  return mergeLoadResults(
    await runInWorkers<HttpLoadOptions, LoadResult>(WORKER_SCRIPT, shares, options, hooks),
  );
}

/** What one pass over the bodies found. */
export interface HttpPassResult {
  readonly calls: number;
  readonly ms: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  readonly mismatches: number;
}

/**
 * Sends every body once (`concurrency` at a time) and compares the answers with `expected`:
 * the correctness pass before any load, which also warms the server.
 */
export async function callEachHttp(
  options: Pick<HttpLoadOptions, "address" | "path" | "bodies" | "expected" | "token"> & {
    readonly concurrency: number;
  },
): Promise<HttpPassResult> {
  const requests = prepareRequests({ ...options, deadlineMs: 0, durationMs: 0, warmupMs: 0 });
  const connections = await Promise.all(
    Array.from({ length: options.concurrency }, () => Connection.open(options.address)),
  );
  const errors: Record<string, number> = {};
  const errorExamples: string[] = [];
  let mismatches = 0;
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      connections.map(async (connection) => {
        while (next < requests.length) {
          const index = next++;
          const answer = await connection.send(requests[index]!);
          if (answer.status !== 200) {
            const name = `HTTP_${answer.status}`;
            errors[name] = (errors[name] ?? 0) + 1;
            if (errorExamples.length < EXAMPLES) errorExamples.push(`${name}: ${answer.body}`);
            continue;
          }
          const expected = options.expected?.[index];
          const got = (JSON.parse(answer.body) as { permissionship?: string }).permissionship;
          if (expected !== undefined && got !== expected) mismatches++;
        }
      }),
    );
  } finally {
    for (const c of connections) c.close();
  }
  return {
    calls: requests.length,
    ms: performance.now() - t0,
    errors,
    errorExamples,
    mismatches,
  };
}
