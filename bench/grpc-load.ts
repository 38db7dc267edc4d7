/**
 * A closed-loop load generator for the unary check calls: trellis.v1 PermissionService's Check
 * and CheckBulk, and SpiceDB's `authzed.api.v1.PermissionsService/CheckPermission` sent through
 * SpiceDB's own Node client (`@authzed/authzed-node`), as its users send it:
 * `concurrency` callers, each sending its next call as soon as the previous one is answered,
 * spread over a few HTTP/2 connections, first for a warm-up and then for a measured window.
 * Latencies go into an HDR histogram (hdr-histogram-js, microseconds, 3 significant digits);
 * failures are counted by gRPC status code; answers can be compared with expected ones.
 *
 * trellis.v1 requests are prepared once, already encoded: the measured loop does what a real
 * client does per call (a deadline, the metadata, decoding the response) and nothing more.
 * CheckPermission requests arrive encoded too and are decoded once into authzed-node's message
 * objects; each call then pays what that client pays: its proxy, encoding the message with
 * protobuf-ts, the credentials' metadata generator, decoding the answer.
 *
 * `runLoad` drives the load from the current process; `runLoadInWorkers` forks worker
 * processes (bench/grpc-load-worker.ts), each with its own connections and a share of the
 * concurrency, starts their measured windows together and merges their figures.
 *
 * Connections: grpc-js shares a connection between channels whose target and options are
 * equal (its global subchannel pool). Every channel made here (an authzed-node client holds one)
 * has a local subchannel pool and an option of its own (`trellis-bench.connection`), so N
 * channels are N TCP connections.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { v1 } from "@authzed/authzed-node";
import {
  type CallOptions,
  Client,
  type ClientOptions,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from "hdr-histogram-js";
import { CheckBulkResponse, CheckResponse } from "../src/gen/trellis/v1/permission_service.js";
import { runInWorkers, split, type WorkerRunHooks } from "./load-workers.js";

/** trellis.v1 Check and CheckBulk; SpiceDB's CheckPermission (through authzed-node). */
export type LoadMethod = "check" | "checkBulk" | "checkPermission";

export const METHOD_PATHS: Readonly<Record<LoadMethod, string>> = {
  check: "/trellis.v1.PermissionService/Check",
  checkBulk: "/trellis.v1.PermissionService/CheckBulk",
  checkPermission: "/authzed.api.v1.PermissionsService/CheckPermission",
};

/**
 * The bearer token an authzed-node client sends when the run names none (the client always
 * sends one; a server in insecure-dev mode ignores it).
 */
export const ANONYMOUS_TOKEN = "trellis-bench";

/** What one load run does. */
export interface LoadOptions {
  /** `host:port` of the server (plaintext). */
  readonly address: string;
  readonly method: LoadMethod;
  /** Encoded request messages of `method`, sent in turn, round and round. */
  readonly requests: readonly Uint8Array[];
  /**
   * The expected `Permissionship` value of every item of every request (`expected[i][k]`: item
   * `k` of request `i`; one item for Check). Absent: answers are decoded but not compared.
   */
  readonly expected?: readonly Uint8Array[];
  /** Checks per call (1 for Check), to report checks per second. Default 1. */
  readonly itemsPerCall?: number;
  /** HTTP/2 connections (grpc-js channels); calls are spread over them round robin. */
  readonly connections: number;
  /** Calls in flight at all times (closed loop). */
  readonly concurrency: number;
  /** Length of the measured window, ms. */
  readonly durationMs: number;
  /** Load before the measured window, not counted, ms. */
  readonly warmupMs: number;
  /** Sent as `authorization: Bearer <token>` (authzed-node: its preshared key). */
  readonly token?: string;
  /** Sent as `trellis-tenant` metadata (honoured by insecure-dev servers). */
  readonly tenant?: string;
  /** Deadline of every call, ms, as the SDK sets one (30 000 there); 0 for none. */
  readonly deadlineMs: number;
  /** Distinguishes the channels of this run from those of other runs in the same process. */
  readonly channelTag?: string;
}

/** A wrong answer seen during a run. */
export interface MismatchExample {
  readonly request: number;
  readonly item: number;
  readonly expected: number;
  /** The answer's `Permissionship`, or -1 for an item that came back as an error. */
  readonly got: number;
}

export interface LatencyFigures {
  /** Microseconds. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** The figures of one run (of one process, or merged over the workers of a run). */
export interface LoadResult {
  readonly method: LoadMethod;
  readonly address: string;
  readonly connections: number;
  readonly concurrency: number;
  readonly workers: number;
  /** The measured window, ms (the longest of the workers' windows). */
  readonly durationMs: number;
  /** Calls answered OK within the measured window. */
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly itemsPerCall: number;
  readonly itemsPerSecond: number;
  /** Of the calls answered OK within the window. */
  readonly latencyUs: LatencyFigures;
  /** Failed calls within the window, by gRPC status name. */
  readonly errors: Readonly<Record<string, number>>;
  readonly warmupCalls: number;
  /** Failed calls during the warm-up, by gRPC status name. */
  readonly warmupErrors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  /** Items whose answer differed from the expected one (warm-up and window). */
  readonly mismatches: number;
  readonly mismatchExamples: readonly MismatchExample[];
  /** CPU time of the load-generating process(es) within the window, ms. */
  readonly clientCpuMs: number;
  /** The latency histogram, `encodeIntoCompressedBase64`. */
  readonly histogram: string;
}

const EXAMPLES = 5;
/** Microseconds; anything slower than a minute is clamped by the histogram's auto-resize. */
const HIGHEST_TRACKABLE_US = 60_000_000;

export function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
  });
}

export function figures(h: Histogram): LatencyFigures {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  return {
    p50: h.getValueAtPercentile(50),
    p95: h.getValueAtPercentile(95),
    p99: h.getValueAtPercentile(99),
    max: h.maxValue,
    mean: h.mean,
  };
}

/** `UNAVAILABLE`, `DEADLINE_EXCEEDED`, … for a numeric gRPC status. */
export function statusName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** One connection of a run and how it sends request `index` of the run's requests. */
export interface LoadChannel {
  send(
    index: number,
    callOptions: CallOptions,
    done: (err: ServiceError | null, response?: unknown) => void,
  ): void;
  close(): void;
}

function channelOptions(tag: string, i: number): ClientOptions {
  return {
    "grpc.use_local_subchannel_pool": 1,
    "trellis-bench.connection": `${tag}/${i}`,
    "grpc.primary_user_agent": "trellis-grpc-bench",
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
  };
}

/** The part of `LoadOptions` that says what a channel sends, and to whom. */
export type ChannelTarget = Pick<
  LoadOptions,
  "address" | "method" | "requests" | "token" | "tenant"
>;

/**
 * Channels to `options.address`, each its own TCP connection, connected before this resolves:
 * grpc-js clients sending the prepared bytes for trellis.v1, authzed-node clients for
 * CheckPermission.
 */
export async function openChannels(
  options: ChannelTarget,
  count: number,
  tag = `${process.pid}`,
): Promise<LoadChannel[]> {
  const { address } = options;
  const made: { channel: LoadChannel; ready: Pick<Client, "waitForReady"> }[] = [];
  if (options.method === "checkPermission") {
    const messages = options.requests.map((bytes) => v1.CheckPermissionRequest.fromBinary(bytes));
    const metadata = new Metadata();
    if (options.tenant !== undefined) metadata.set("trellis-tenant", options.tenant);
    for (let i = 0; i < count; i++) {
      const client = v1.NewClient(
        options.token ?? ANONYMOUS_TOKEN,
        address,
        v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS,
        undefined,
        channelOptions(tag, i),
      );
      made.push({
        // The client's proxy hands grpc-js Client methods to its PermissionsService client;
        // its type leaves them out.
        ready: client as unknown as Pick<Client, "waitForReady">,
        channel: {
          send: (index, callOptions, done) => {
            client.checkPermission(messages[index]!, metadata, callOptions, done);
          },
          close: () => client.close(),
        },
      });
    }
  } else {
    const path = METHOD_PATHS[options.method];
    const decode = decoders[options.method];
    const buffers = options.requests.map(toBuffer);
    const metadata = callMetadata(options);
    for (let i = 0; i < count; i++) {
      const client = new Client(address, credentials.createInsecure(), channelOptions(tag, i));
      made.push({
        ready: client,
        channel: {
          send: (index, callOptions, done) => {
            client.makeUnaryRequest(
              path,
              passThrough,
              decode,
              buffers[index]!,
              metadata,
              callOptions,
              done,
            );
          },
          close: () => client.close(),
        },
      });
    }
  }
  const deadline = Date.now() + 10_000;
  try {
    await Promise.all(
      made.map(
        ({ ready }) =>
          new Promise<void>((resolve, reject) =>
            ready.waitForReady(deadline, (err) =>
              err ? reject(new Error(`cannot connect to ${address}: ${err.message}`)) : resolve(),
            ),
          ),
      ),
    );
  } catch (err) {
    for (const { channel } of made) channel.close();
    throw err;
  }
  return made.map((m) => m.channel);
}

export function callMetadata(options: Pick<LoadOptions, "token" | "tenant">): Metadata {
  const metadata = new Metadata();
  if (options.token !== undefined) metadata.set("authorization", `Bearer ${options.token}`);
  if (options.tenant !== undefined) metadata.set("trellis-tenant", options.tenant);
  return metadata;
}

/** The `Permissionship` values of a decoded response, one per item (-1 for an item error). */
function answersOf(method: LoadMethod, response: unknown): number[] {
  if (method === "check") return [(response as CheckResponse).permissionship];
  if (method === "checkPermission") {
    return [(response as v1.CheckPermissionResponse).permissionship];
  }
  return (response as CheckBulkResponse).pairs.map((p) =>
    p.response?.$case === "item" ? p.response.item.permissionship : -1,
  );
}

const decoders: Readonly<Record<"check" | "checkBulk", (bytes: Buffer) => unknown>> = {
  check: (bytes) => CheckResponse.decode(bytes),
  checkBulk: (bytes) => CheckBulkResponse.decode(bytes),
};

const passThrough = (b: Buffer): Buffer => b;

/** Compares answers with the expected ones; keeps a few examples. */
class AnswerCheck {
  mismatches = 0;
  readonly examples: MismatchExample[] = [];
  readonly #expected: readonly Uint8Array[] | undefined;
  readonly #method: LoadMethod;

  constructor(method: LoadMethod, expected: readonly Uint8Array[] | undefined) {
    this.#method = method;
    this.#expected = expected;
  }

  check(request: number, response: unknown): void {
    const expected = this.#expected?.[request];
    if (expected === undefined) return;
    const got = answersOf(this.#method, response);
    for (let k = 0; k < expected.length; k++) {
      const answer = got[k] ?? -1;
      if (answer === expected[k]) continue;
      this.mismatches++;
      if (this.examples.length < EXAMPLES) {
        this.examples.push({ request, item: k, expected: expected[k]!, got: answer });
      }
    }
    if (got.length > expected.length) this.mismatches += got.length - expected.length;
  }
}

function countError(into: Record<string, number>, err: ServiceError, examples: string[]): void {
  const name = statusName(err.code);
  into[name] = (into[name] ?? 0) + 1;
  if (examples.length < EXAMPLES) examples.push(`${name}: ${err.details || err.message}`);
}

/** The phases of a run. */
const Phase = { Warming: 0, Measuring: 1, Done: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Hooks of a run, for a coordinator of several processes. */
export interface LoadHooks {
  /** Called once every connection is up; the warm-up starts when the promise resolves. */
  readonly onReady?: () => Promise<void>;
}

/** Runs the load from this process and closes its channels. */
export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  checkLoadOptions(options);
  const channels = await openChannels(
    options,
    Math.min(options.connections, options.concurrency),
    options.channelTag,
  );
  try {
    await hooks.onReady?.();
    return await drive(channels, options);
  } finally {
    for (const c of channels) c.close();
  }
}

function checkLoadOptions(options: LoadOptions): void {
  const positive = (name: string, n: number, min: number) => {
    if (!Number.isSafeInteger(n) || n < min) {
      throw new TypeError(`${name} must be an integer of at least ${min}, got ${n}`);
    }
  };
  positive("connections", options.connections, 1);
  positive("concurrency", options.concurrency, 1);
  positive("durationMs", options.durationMs, 1);
  positive("warmupMs", options.warmupMs, 0);
  positive("deadlineMs", options.deadlineMs, 0);
  if (options.requests.length === 0) throw new TypeError("requests must not be empty");
  if (options.expected !== undefined && options.expected.length !== options.requests.length) {
    throw new TypeError("expected must have one entry per request");
  }
}

async function drive(channels: readonly LoadChannel[], options: LoadOptions): Promise<LoadResult> {
  const requestCount = options.requests.length;
  const answers = new AnswerCheck(options.method, options.expected);
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  const warmupErrors: Record<string, number> = {};
  const errorExamples: string[] = [];
  let phase: Phase = Phase.Warming;
  let cursor = 0;
  let calls = 0;
  let warmupCalls = 0;
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart = process.cpuUsage();
  let cpuMs = 0;
  let inFlight = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const issue = (channel: LoadChannel): void => {
    if (phase === Phase.Done) {
      if (--inFlight === 0) finish();
      return;
    }
    const index = cursor;
    cursor = cursor + 1 === requestCount ? 0 : cursor + 1;
    const callOptions = options.deadlineMs > 0 ? { deadline: Date.now() + options.deadlineMs } : {};
    const t0 = performance.now();
    channel.send(index, callOptions, (err, response) => {
      const t1 = performance.now();
      if (phase === Phase.Measuring) {
        if (err) countError(errors, err, errorExamples);
        else {
          calls++;
          histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        }
      } else if (phase === Phase.Warming) {
        if (err) countError(warmupErrors, err, errorExamples);
        else warmupCalls++;
      }
      if (!err) answers.check(index, response);
      issue(channel);
    });
  };

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

  inFlight = options.concurrency;
  for (let k = 0; k < options.concurrency; k++) issue(channels[k % channels.length]!);
  await finished;

  const durationMs = windowEnd - windowStart;
  const itemsPerCall = options.itemsPerCall ?? 1;
  const callsPerSecond = calls / (durationMs / 1000);
  return {
    method: options.method,
    address: options.address,
    connections: channels.length,
    concurrency: options.concurrency,
    workers: 1,
    durationMs,
    calls,
    callsPerSecond,
    itemsPerCall,
    itemsPerSecond: callsPerSecond * itemsPerCall,
    latencyUs: figures(histogram),
    errors,
    warmupCalls,
    warmupErrors,
    errorExamples,
    mismatches: answers.mismatches,
    mismatchExamples: answers.examples,
    clientCpuMs: cpuMs,
    histogram: encodeIntoCompressedBase64(histogram),
  };
}

/** What a single pass over the requests found. */
export interface PassResult {
  readonly calls: number;
  readonly ms: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: readonly string[];
  readonly mismatches: number;
  readonly mismatchExamples: readonly MismatchExample[];
}

/**
 * Sends every request once (`concurrency` at a time) and compares the answers with
 * `expected`: the correctness pass before any load, which also warms the server.
 */
export async function callEach(
  options: Pick<
    LoadOptions,
    "address" | "method" | "requests" | "expected" | "token" | "tenant" | "deadlineMs"
  > & { readonly concurrency: number; readonly connections: number },
): Promise<PassResult> {
  const channels = await openChannels(
    options,
    Math.min(options.connections, options.concurrency),
    `pass-${process.pid}-${Date.now()}`,
  );
  const answers = new AnswerCheck(options.method, options.expected);
  const errors: Record<string, number> = {};
  const errorExamples: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const caller = async (channel: LoadChannel) => {
    while (next < options.requests.length) {
      const index = next++;
      const callOptions =
        options.deadlineMs > 0 ? { deadline: Date.now() + options.deadlineMs } : {};
      await new Promise<void>((resolve) => {
        channel.send(index, callOptions, (err, response) => {
          if (err) countError(errors, err, errorExamples);
          else answers.check(index, response);
          resolve();
        });
      });
    }
  };
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, (_, k) => caller(channels[k % channels.length]!)),
    );
  } finally {
    for (const c of channels) c.close();
  }
  return {
    calls: options.requests.length,
    ms: performance.now() - t0,
    errors,
    errorExamples,
    mismatches: answers.mismatches,
    mismatchExamples: answers.examples,
  };
}

// ---- several processes ------------------------------------------------------------------

/** The connections `runLoadInWorkers` opens in all for these figures. */
export function plannedConnections(connections: number, concurrency: number, workers: number) {
  const calls = split(concurrency, workers);
  return split(Math.max(connections, workers), workers).reduce(
    (sum, n, i) => sum + Math.min(n, calls[i]!),
    0,
  );
}

const WORKER_SCRIPT = fileURLToPath(new URL("./grpc-load-worker.js", import.meta.url));

/**
 * Runs the load from `workers` forked processes (bench/load-workers.ts). The concurrency and
 * the connections are split among them (each at least one connection). Figures are merged:
 * rates summed, histograms added.
 */
export async function runLoadInWorkers(
  options: LoadOptions,
  workers: number,
  hooks: WorkerRunHooks = {},
): Promise<LoadResult> {
  checkLoadOptions(options);
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > options.concurrency) {
    throw new TypeError(`workers must be from 1 to the concurrency (${options.concurrency})`);
  }
  const concurrency = split(options.concurrency, workers);
  const connections = split(Math.max(options.connections, workers), workers);
  const shares = concurrency.map(
    (c, i): LoadOptions => ({
      ...options,
      concurrency: c,
      connections: Math.min(connections[i]!, c),
      channelTag: `w${i}`,
    }),
  );
  return mergeLoadResults(
    await runInWorkers<LoadOptions, LoadResult>(WORKER_SCRIPT, shares, options, hooks),
  );
}

/** One result for several processes' runs of the same load: rates summed, histograms added. */
export function mergeLoadResults(parts: readonly LoadResult[]): LoadResult {
  const first = parts[0];
  if (first === undefined) throw new TypeError("nothing to merge");
  if (parts.length === 1) return first;
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  const warmupErrors: Record<string, number> = {};
  for (const p of parts) {
    histogram.add(decodeFromCompressedBase64(p.histogram));
    for (const [k, n] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + n;
    for (const [k, n] of Object.entries(p.warmupErrors))
      warmupErrors[k] = (warmupErrors[k] ?? 0) + n;
  }
  const sum = (f: (p: LoadResult) => number) => parts.reduce((s, p) => s + f(p), 0);
  const callsPerSecond = sum((p) => p.callsPerSecond);
  return {
    method: first.method,
    address: first.address,
    connections: sum((p) => p.connections),
    concurrency: sum((p) => p.concurrency),
    workers: sum((p) => p.workers),
    durationMs: Math.max(...parts.map((p) => p.durationMs)),
    calls: sum((p) => p.calls),
    callsPerSecond,
    itemsPerCall: first.itemsPerCall,
    itemsPerSecond: callsPerSecond * first.itemsPerCall,
    latencyUs: figures(histogram),
    errors,
    warmupCalls: sum((p) => p.warmupCalls),
    warmupErrors,
    errorExamples: parts.flatMap((p) => p.errorExamples).slice(0, EXAMPLES),
    mismatches: sum((p) => p.mismatches),
    mismatchExamples: parts.flatMap((p) => p.mismatchExamples).slice(0, EXAMPLES),
    clientCpuMs: sum((p) => p.clientCpuMs),
    histogram: encodeIntoCompressedBase64(histogram),
  };
}

// ---- probes -----------------------------------------------------------------------------

/**
 * The serving status of `grpc.health.v1.Health/Check` for the whole server (1: SERVING), or
 * the gRPC status name of the failure.
 */
export async function healthStatus(address: string, deadlineMs = 1000): Promise<number | string> {
  const client = new Client(address, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
  try {
    return await new Promise<number | string>((resolve) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        passThrough,
        passThrough,
        Buffer.alloc(0),
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, response) => {
          if (err) resolve(statusName(err.code));
          // HealthCheckResponse { status = 1 (varint) }: 0x08 <status>; empty means UNKNOWN.
          else resolve(response !== undefined && response[0] === 0x08 ? (response[1] ?? 0) : 0);
        },
      );
    });
  } finally {
    client.close();
  }
}

/**
 * Established TCP connections to `port` on this machine as seen from the connecting side
 * (Linux `/proc/net/tcp*`), to confirm how many connections a run really opened; undefined
 * where that file does not exist.
 */
export function establishedConnectionsTo(port: number): number | undefined {
  let count = 0;
  let readAny = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const remotePort = Number.parseInt(cols[2]!.split(":")[1] ?? "", 16);
      if (remotePort === port && cols[3] === "01") count++;
    }
  }
  return readAny ? count : undefined;
}
