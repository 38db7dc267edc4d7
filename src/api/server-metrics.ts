/**
 * Prometheus metrics of one server, in a registry of its own (so that several servers in one
 * process do not collide), served over plain HTTP at `/metrics` on a separate listener.
 * Request metrics are label children cached per (method, code), so recording one costs two
 * map lookups and two increments.
 */
import { createServer, type Server as HttpServer } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Engine } from "../engine/engine.js";
import { formatListenAddress, parseListenAddress } from "./listen-address.js";

const LATENCY_BUCKETS = [
  0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

interface RequestSeries {
  readonly count: Counter.Internal;
  readonly latency: Histogram.Internal<"method" | "code">;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "code">;
  readonly #latency: Histogram<"method" | "code">;
  readonly #store: Histogram<"operation" | "outcome">;
  readonly #openStreams: Gauge<"method">;
  readonly #backpressure: Counter<"method">;
  readonly #series = new Map<string, RequestSeries>();

  constructor(engine: Engine) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "trellis_grpc_requests_total",
      help: "gRPC requests handled, by method and status code.",
      labelNames: ["method", "code"],
      registers,
    });
    this.#latency = new Histogram({
      name: "trellis_grpc_request_duration_seconds",
      help: "Time from a request's arrival to its status, by method and status code.",
      labelNames: ["method", "code"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#store = new Histogram({
      name: "trellis_store_call_duration_seconds",
      help: "Latency of the datastore calls the API layer makes (health probes, reads, export, watch, tenants).",
      labelNames: ["operation", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#openStreams = new Gauge({
      name: "trellis_grpc_open_streams",
      help: "Streaming calls in progress, by method.",
      labelNames: ["method"],
      registers,
    });
    this.#backpressure = new Counter({
      name: "trellis_grpc_stream_backpressure_waits_total",
      help: "Times a server stream paused because the client was not reading fast enough.",
      labelNames: ["method"],
      registers,
    });
    new Counter({
      name: "trellis_check_cache_hits_total",
      help: "Hits of the engine's shared sub-problem cache.",
      registers,
      collect() {
        this.reset();
        this.inc(engine.cacheStats().hits);
      },
    });
    new Counter({
      name: "trellis_check_cache_misses_total",
      help: "Misses of the engine's shared sub-problem cache.",
      registers,
      collect() {
        this.reset();
        this.inc(engine.cacheStats().misses);
      },
    });
    new Gauge({
      name: "trellis_check_cache_entries",
      help: "Entries held by the engine's shared sub-problem cache.",
      registers,
      collect() {
        this.set(engine.cacheStats().size);
      },
    });
    new Gauge({
      name: "trellis_check_cache_bytes",
      help: "Estimated bytes held by the engine's shared sub-problem cache.",
      registers,
      collect() {
        this.set(engine.cacheStats().bytes);
      },
    });
    new Gauge({
      name: "trellis_index_live_tuples",
      help: "Live tuples in the in-memory index, per tenant whose index is loaded.",
      labelNames: ["tenant"],
      registers,
      collect() {
        this.reset();
        for (const [tenant, stats] of engine.indexStats().tenants) this.set({ tenant }, stats.live);
      },
    });
    new Gauge({
      name: "trellis_index_bytes",
      help: "Estimated bytes of the in-memory index, per tenant whose index is loaded.",
      labelNames: ["tenant"],
      registers,
      collect() {
        this.reset();
        for (const [tenant, stats] of engine.indexStats().tenants) {
          this.set({ tenant }, stats.bytes);
        }
      },
    });
    new Gauge({
      name: "trellis_index_budget_bytes",
      help: "The memory budget the in-memory indexes share (--memory-budget).",
      registers,
      collect() {
        this.set(engine.indexStats().budgetBytes);
      },
    });
    new Counter({
      name: "trellis_index_evictions_total",
      help: "Tenants whose index was dropped to keep within the memory budget.",
      registers,
      collect() {
        this.reset();
        this.inc(engine.indexStats().evictions);
      },
    });
    new Counter({
      name: "trellis_store_snapshot_reads_total",
      help: "Requests answered from the store because no loaded index held their revision.",
      registers,
      collect() {
        this.reset();
        this.inc(engine.indexStats().storeReads);
      },
    });
    new Counter({
      name: "trellis_gc_runs_total",
      help: "Garbage collections of the store's history run by this process, by outcome.",
      labelNames: ["outcome"],
      registers,
      collect() {
        const gc = engine.gcStats();
        this.reset();
        this.inc({ outcome: "ok" }, gc.runs - gc.failures);
        this.inc({ outcome: "error" }, gc.failures);
      },
    });
    new Counter({
      name: "trellis_gc_removed_rows_total",
      help: "Rows garbage collection removed, by kind (relationships, revisions, schemas).",
      labelNames: ["kind"],
      registers,
      collect() {
        const gc = engine.gcStats();
        this.reset();
        this.inc({ kind: "relationships" }, gc.relationships);
        this.inc({ kind: "revisions" }, gc.revisions);
        this.inc({ kind: "schemas" }, gc.schemas);
      },
    });
    new Gauge({
      name: "trellis_gc_last_duration_seconds",
      help: "How long the last garbage collection took.",
      registers,
      collect() {
        this.set(engine.gcStats().lastSeconds);
      },
    });
  }

  /** Records one finished call. */
  request(method: string, code: string, seconds: number): void {
    const key = `${method} ${code}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        count: this.#requests.labels(method, code),
        latency: this.#latency.labels(method, code),
      };
      this.#series.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
  }

  streamOpened(method: string): void {
    this.#openStreams.inc({ method });
  }

  streamClosed(method: string): void {
    this.#openStreams.dec({ method });
  }

  backpressureWait(method: string): void {
    this.#backpressure.inc({ method });
  }

  /** Runs a datastore call and records its latency and whether it failed. */
  async timeStore<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const end = this.#store.startTimer({ operation });
    try {
      const result = await call();
      end({ outcome: "ok" });
      return result;
    } catch (err) {
      end({ outcome: "error" });
      throw err;
    }
  }

  /** Serves `/metrics` on its own HTTP listener; resolves once it is bound. */
  async listen(address: string): Promise<{ address: string; close(): Promise<void> }> {
    const { host, port } = parseListenAddress(address, "metricsListen");
    const http: HttpServer = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": this.registry.contentType }).end(body),
        () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
      );
    });
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
    const bound = http.address();
    const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
    return {
      address: formatListenAddress(host, boundPort),
      close: () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        }),
    };
  }
}
