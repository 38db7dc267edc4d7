/**
 * Turns tracing on for the process: an OpenTelemetry tracer provider (service `trellis`) with
 * an OTLP/HTTP exporter (or a given one), the async context manager that carries the active
 * span across awaits, and the `core/tracing.ts` switch. Only the entry points call this.
 */
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { setTracer } from "../core/tracing.js";
import { OtelTracer } from "./otel-tracer.js";
import { otlpTracesUrl } from "./otlp-url.js";

export const SERVICE_NAME = "trellis";

export type TracingOptions =
  | {
      /**
       * The OTLP/HTTP collector, as `OTEL_EXPORTER_OTLP_ENDPOINT` gives it (`http://host:4318`):
       * spans are sent in batches to its `/v1/traces`, and the rest at `shutdown()`.
       */
      readonly endpoint: string;
    }
  | {
      /** Each span goes to this exporter as it ends (tests: `InMemorySpanExporter`). */
      readonly exporter: SpanExporter;
    };

export interface TracingHandle {
  /** Sends the spans that have ended and are still waiting for a batch. */
  flush(): Promise<void>;
  /**
   * Turns tracing off once every `startTracing` of the process has been shut down, after
   * sending what is left. A second call does nothing.
   */
  shutdown(): Promise<void>;
}

interface Running {
  /** The endpoint's traces URL or the exporter: what a second start must match to share. */
  readonly target: string | SpanExporter;
  readonly provider: BasicTracerProvider;
  /** Whether this module registered the context manager (an embedding application may have). */
  readonly ownsContext: boolean;
  users: number;
}

let running: Running | undefined;

/**
 * Starts tracing, or shares the tracing already started with the same target: an embedded
 * `Trellis` and a server in one process may both ask. Another target while one is running
 * is a TypeError: spans of one process go to one place.
 */
export function startTracing(options: TracingOptions): TracingHandle {
  const target = "exporter" in options ? options.exporter : otlpTracesUrl(options.endpoint);
  if (running !== undefined) {
    if (running.target !== target) {
      throw new TypeError(
        "tracing is already on in this process with another exporter; spans of one process go to one place",
      );
    }
    running.users++;
    return handleOf(running);
  }
  const processor =
    typeof target === "string"
      ? new BatchSpanProcessor(new OTLPTraceExporter({ url: target }))
      : new SimpleSpanProcessor(target);
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": SERVICE_NAME })),
    spanProcessors: [processor],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  const ownsContext = context.setGlobalContextManager(manager);
  if (!ownsContext) manager.disable();
  running = { target, provider, ownsContext, users: 1 };
  setTracer(new OtelTracer(provider.getTracer(SERVICE_NAME)));
  return handleOf(running);
}

function handleOf(run: Running): TracingHandle {
  let done = false;
  return {
    flush: () => run.provider.forceFlush(),
    async shutdown() {
      if (done) return;
      done = true;
      if (--run.users > 0) return;
      running = undefined;
      setTracer(undefined);
      try {
        await run.provider.shutdown();
      } finally {
        if (run.ownsContext) context.disable();
      }
    },
  };
}
