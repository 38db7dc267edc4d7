/**
 * The `Tracer` of `core/tracing.ts` over an OpenTelemetry tracer: spans parented through
 * OpenTelemetry's active context (so an application embedding Trellis sees Trellis's spans
 * under its own), and a request's parent read from its W3C `traceparent`/`tracestate`.
 */
import {
  type Context,
  context,
  defaultTextMapGetter,
  type Tracer as OtelApiTracer,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  SPAN_ATTRIBUTES,
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanStart,
  type Tracer,
  type TraceSpan,
} from "../core/tracing.js";

const KINDS = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
} as const;

class OtelSpan implements TraceSpan {
  readonly span: Span;
  #ended = false;

  constructor(span: Span) {
    this.span = span;
  }

  setAttribute(name: string, value: SpanAttributeValue): void {
    this.span.setAttribute(name, value);
  }

  fail(code: string): void {
    this.span.setAttribute(SPAN_ATTRIBUTES.code, code);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.end();
  }
}

const NO_SPAN: TraceSpan = { setAttribute() {}, fail() {}, end() {} };

function defined(attributes: SpanAttributes | undefined): Record<string, SpanAttributeValue> {
  const out: Record<string, SpanAttributeValue> = {};
  if (attributes === undefined) return out;
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export class OtelTracer implements Tracer {
  readonly #tracer: OtelApiTracer;
  readonly #propagator = new W3CTraceContextPropagator();

  constructor(tracer: OtelApiTracer) {
    this.#tracer = tracer;
  }

  startSpan(name: string, start: SpanStart = {}): TraceSpan {
    const where = start.parent ?? "active";
    let parent: Context;
    if (where === "active") {
      parent = context.active();
    } else if (where === "active-only") {
      parent = context.active();
      if (trace.getSpan(parent) === undefined) return NO_SPAN;
    } else {
      // Only the two W3C headers are read: nothing else of the request reaches the tracer.
      const headers: Record<string, string> = {};
      if (where.traceparent !== undefined) headers.traceparent = where.traceparent;
      if (where.tracestate !== undefined) headers.tracestate = where.tracestate;
      parent = this.#propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    }
    const span = this.#tracer.startSpan(
      name,
      { kind: KINDS[start.kind ?? "internal"], attributes: defined(start.attributes) },
      parent,
    );
    return new OtelSpan(span);
  }

  withSpan<T>(span: TraceSpan, fn: () => T): T {
    if (!(span instanceof OtelSpan)) return fn();
    return context.with(trace.setSpan(context.active(), span.span), fn);
  }

  annotate(attributes: SpanAttributes): void {
    trace.getSpan(context.active())?.setAttributes(defined(attributes));
  }

  detached<T>(fn: () => T): T {
    return context.with(ROOT_CONTEXT, fn);
  }
}
