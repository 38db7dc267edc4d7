// Tracing as an operator turns it on: `trellis serve --otel-endpoint URL` (or
// OTEL_EXPORTER_OTLP_ENDPOINT) and the embedded `Trellis`'s `otelEndpoint` send OTLP/HTTP to a
// collector (here a local HTTP server that records what it receives); without either, nothing
// is traced and nothing is sent.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { resolveServeConfig, runServe, type ServeFlags } from "../../src/cli/serve-command.js";
import { NOOP_TRACER, type Tracer, tracing } from "../../src/core/tracing.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import {
  CheckRequest,
  PermissionServiceClient,
} from "../../src/gen/trellis/v1/permission_service.js";
import { Trellis } from "../../src/trellis.js";
import { obj, subj, unary } from "./api-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-otlp-"));
const silent = pino({ level: "silent" });
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

interface Export {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: OtlpTraces;
}

interface OtlpTraces {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { name: string; traceId: string; parentSpanId?: string }[] }[];
  }[];
}

/** A collector that records each export request and tells who waits for the next one. */
class Collector {
  readonly exports: Export[] = [];
  readonly #server: Server;
  #waiting: ((e: Export) => void)[] = [];

  constructor() {
    this.#server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const received: Export = {
          path: req.url ?? "",
          contentType: req.headers["content-type"],
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpTraces,
        };
        this.exports.push(received);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        for (const resolve of this.#waiting.splice(0)) resolve(received);
      });
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.#server.listen(0, "127.0.0.1", () => {
        resolve(`http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`);
      }),
    );
  }

  /** The next export request to arrive (or the first already received, if any is unread). */
  next(after = 0): Promise<Export> {
    const ready = this.exports[after];
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function spanNames(e: Export): string[] {
  return e.body.resourceSpans.flatMap((r) =>
    r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)),
  );
}

function serviceName(e: Export): string | undefined {
  return e.body.resourceSpans[0]?.resource.attributes.find((a) => a.key === "service.name")?.value
    .stringValue;
}

let collector: Collector;
let endpoint: string;

beforeAll(async () => {
  collector = new Collector();
  endpoint = await collector.listen();
});

afterAll(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `trellis serve` until its banner; returns its address and how to stop it. */
async function serve(flags: ServeFlags, env: NodeJS.ProcessEnv) {
  let out = "";
  let err = "";
  let printed!: () => void;
  const banner = new Promise<void>((resolve) => {
    printed = resolve;
  });
  const io = {
    out: (t: string) => {
      out += t;
      if (out.includes("Stop with")) printed();
    },
    err: (t: string) => {
      err += t;
    },
  };
  const stop = new AbortController();
  const done = runServe(flags, io, stop.signal, env, silent);
  if (await Promise.race([banner.then(() => false), done.then(() => true)])) {
    throw new Error(`serve ended before its banner: ${err}`);
  }
  return {
    address: /serving on (\S+)/.exec(out)![1]!,
    stop: () => {
      stop.abort();
      return done;
    },
  };
}

async function checkReadme(address: string, metadata = new Metadata()) {
  const client = new PermissionServiceClient(address, credentials.createInsecure());
  try {
    return await unary(
      client.check.bind(client),
      CheckRequest.fromPartial({
        resource: obj("document:readme"),
        permission: "view",
        subject: subj("user:alice"),
      }),
      { metadata },
    );
  } finally {
    client.close();
  }
}

const flagsFor = (name: string): ServeFlags => ({
  insecureDev: true,
  datastore: `sqlite:${join(dir, name, "trellis.db")}`,
  preset: "docs",
  listen: "127.0.0.1:0",
  gcInterval: "0",
});

describe("trellis serve", () => {
  test("without an endpoint traces nothing: no span is started and nothing is sent", async () => {
    // A tracer that counts: with tracing off the call sites must not even reach it.
    let calls = 0;
    const counting: Tracer = {
      startSpan: (...args) => {
        calls++;
        return NOOP_TRACER.startSpan(...args);
      },
      withSpan: (_span, fn) => {
        calls++;
        return fn();
      },
      annotate: () => {
        calls++;
      },
      detached: (fn) => {
        calls++;
        return fn();
      },
    };
    tracing.tracer = counting;
    try {
      const server = await serve(flagsFor("off"), {});
      expect(tracing.enabled).toBe(false);
      const res = await checkReadme(server.address);
      expect(res.permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
      expect(await server.stop()).toBe(0);
    } finally {
      tracing.tracer = NOOP_TRACER;
    }
    expect(calls).toBe(0);
    expect(collector.exports).toHaveLength(0);
  });

  test("with --otel-endpoint sends the spans to the collector, the rest at shutdown", async () => {
    const server = await serve({ ...flagsFor("flag"), otelEndpoint: endpoint }, {});
    expect(tracing.enabled).toBe(true);
    const metadata = new Metadata();
    metadata.set("traceparent", `00-${TRACE_ID}-b7ad6b7169203331-01`);
    await checkReadme(server.address, metadata);
    const received = collector.next();
    expect(collector.exports).toHaveLength(0);
    // Shutdown flushes the batch: the export is received before the command returns.
    expect(await server.stop()).toBe(0);
    expect(collector.exports).toHaveLength(1);
    const sent = await received;
    expect(tracing.enabled).toBe(false);
    expect(sent.path).toBe("/v1/traces");
    expect(sent.contentType).toContain("application/json");
    expect(serviceName(sent)).toBe("trellis");
    expect(spanNames(sent)).toEqual(
      expect.arrayContaining(["trellis.v1.PermissionService/Check", "engine.check"]),
    );
    const request = sent.body.resourceSpans
      .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      .find((s) => s.name === "trellis.v1.PermissionService/Check")!;
    expect(request.traceId).toBe(TRACE_ID);
    expect(request.parentSpanId).toBe("b7ad6b7169203331");
  });

  test("OTEL_EXPORTER_OTLP_ENDPOINT turns it on as the flag does", async () => {
    const before = collector.exports.length;
    const server = await serve(flagsFor("env"), { OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/` });
    await checkReadme(server.address);
    const received = collector.next(before);
    expect(await server.stop()).toBe(0);
    const sent = await received;
    expect(sent.path).toBe("/v1/traces");
    expect(spanNames(sent)).toContain("trellis.v1.PermissionService/Check");
  });

  test("refuses an endpoint that is not an http(s) URL, naming the flag", async () => {
    const flags = { ...flagsFor("bad"), otelEndpoint: "collector:4318" };
    expect(() => resolveServeConfig(flags, {})).toThrow(/--otel-endpoint/);
    expect(() =>
      resolveServeConfig(flagsFor("bad"), { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector" }),
    ).toThrow(/--otel-endpoint/);
    expect(resolveServeConfig(flagsFor("bad"), {}).otelEndpoint).toBeUndefined();
  });
});

describe("the embedded Trellis", () => {
  test("with otelEndpoint sends engine and store spans, the rest at close()", async () => {
    const before = collector.exports.length;
    const trellis = await Trellis.open({
      datastore: "sqlite::memory:",
      preset: "docs",
      otelEndpoint: endpoint,
      gc: false,
    });
    expect(tracing.enabled).toBe(true);
    await trellis.writeRelationships(["document:readme#viewer@user:alice"]);
    const { permissionship } = await trellis.check("document:readme", "view", "user:alice");
    expect(permissionship).toBe("ALLOWED");
    const received = collector.next(before);
    await trellis.close();
    expect(collector.exports.length).toBeGreaterThan(before);
    expect(tracing.enabled).toBe(false);
    expect(spanNames(await received)).toContain("engine.check");
  });

  test("instances in one process share the tracing to one collector, and refuse another", async () => {
    const first = await Trellis.open({ datastore: "sqlite::memory:", otelEndpoint: endpoint });
    const second = await Trellis.open({ datastore: "sqlite::memory:", otelEndpoint: endpoint });
    await expect(
      Trellis.open({ datastore: "sqlite::memory:", otelEndpoint: "http://127.0.0.1:9/" }),
    ).rejects.toThrow(/already on/);
    await first.close();
    expect(tracing.enabled).toBe(true);
    await second.close();
    expect(tracing.enabled).toBe(false);
  });

  test("refuses an endpoint that is not a URL before opening anything", async () => {
    await expect(
      Trellis.open({ datastore: "sqlite::memory:", otelEndpoint: "not a url" }),
    ).rejects.toThrow(TypeError);
    expect(tracing.enabled).toBe(false);
  });
});
