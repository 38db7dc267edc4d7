/**
 * Tracing as every layer sees it: a switch and a tracer, with no I/O and no tracing library.
 * Off (the default) a traced call site costs one branch on `tracing.enabled`; the entry points
 * (`trellis serve`, the embedded `Trellis`) turn it on by installing a tracer that exports
 * OpenTelemetry spans (`src/telemetry/`). Process-wide, like OpenTelemetry's own registry.
 *
 * What goes on a span is chosen at the call site from `SPAN_ATTRIBUTES`: tenants, method and
 * store operation names, codes, counts and revisions — never tuple contents, caveat context,
 * error messages (they may quote a request) or credentials.
 */
import { TrellisError } from "./errors.js";

export type SpanAttributeValue = string | number | boolean;

/** Attributes by name; an undefined value is left off. */
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue | undefined>>;

/** The W3C trace context a caller sent (`traceparent`, `tracestate`), as received. */
export interface TraceHeaders {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

export interface SpanStart {
  /** `server` for a request, `client` for a store query, `internal` (default) otherwise. */
  readonly kind?: "server" | "client" | "internal";
  readonly attributes?: SpanAttributes;
  /**
   * Where the span hangs. `active` (default): under the active span, or a new trace without
   * one. `active-only`: under the active span, and no span at all without one (store queries:
   * background reads — index loads, changelog polls, GC — start no traces of their own).
   * `TraceHeaders`: a request's span, continuing the caller's trace, or a new trace when the
   * headers are absent or malformed; never under a span of this process.
   */
  readonly parent?: "active" | "active-only" | TraceHeaders;
}

export interface TraceSpan {
  setAttribute(name: string, value: SpanAttributeValue): void;
  /** Marks the span failed with a status name (`UNAVAILABLE`), not a message. */
  fail(code: string): void;
  /** Ends the span; later calls do nothing. */
  end(): void;
}

export interface Tracer {
  startSpan(name: string, start?: SpanStart): TraceSpan;
  /**
   * Runs `fn` with `span` active: spans started inside it, also after its awaits, are its
   * children.
   */
  withSpan<T>(span: TraceSpan, fn: () => T): T;
  /** Adds attributes to the active span of this process, if there is one. */
  annotate(attributes: SpanAttributes): void;
  /**
   * Runs `fn` with no span active: for background work that a request starts but that
   * outlives it (a tenant's index load and changelog following).
   */
  detached<T>(fn: () => T): T;
}

/** The attribute names Trellis sets (README, "Tracing"). */
export const SPAN_ATTRIBUTES = {
  /** The tenant of the request or engine call. */
  tenant: "trellis.tenant",
  /** The RPC, `Service/Method` as logged (the request span's name is the full one). */
  method: "trellis.method",
  requestId: "trellis.request_id",
  /** The outcome's status name: `OK`, `NOT_FOUND`, … */
  code: "trellis.code",
  /** The gRPC status code number of the request. */
  grpcStatus: "rpc.grpc.status_code",
  rpcService: "rpc.service",
  rpcMethod: "rpc.method",
  /** `ALLOWED`, `DENIED` or `CONDITIONAL`. */
  permissionship: "trellis.permissionship",
  /** The snapshot an engine call read. */
  revision: "trellis.revision",
  /** What answered an engine call: `index` (in memory) or `store` (snapshot reads, in rounds). */
  source: "trellis.source",
  /** Items asked (CheckBulk) or answered (lists). */
  items: "trellis.items",
  /** A store-backed round of an engine call, from 1. */
  round: "trellis.round",
  /** Reads a store-backed round fetched. */
  reads: "trellis.reads",
  /** `sqlite` or `postgresql`. */
  dbSystem: "db.system.name",
  /** The store operation (`readByResource`, `write`, …). */
  dbOperation: "db.operation.name",
  /** Rows (relationships, records) a store operation returned, when it returns a list. */
  rows: "db.response.returned_rows",
} as const;

const NOOP_SPAN: TraceSpan = {
  setAttribute() {},
  fail() {},
  end() {},
};

/** The tracer while tracing is off: starts nothing, runs everything as it is. */
export const NOOP_TRACER: Tracer = {
  startSpan: () => NOOP_SPAN,
  withSpan: (_span, fn) => fn(),
  annotate() {},
  detached: (fn) => fn(),
};

/**
 * The process's switch and tracer. Call sites test `enabled` before anything else, so that
 * with tracing off they build no names, attributes or closures.
 */
export const tracing: { enabled: boolean; tracer: Tracer } = {
  enabled: false,
  tracer: NOOP_TRACER,
};

/** Turns tracing on with `tracer`, or off with `undefined`. For the entry points and tests. */
export function setTracer(tracer: Tracer | undefined): void {
  tracing.tracer = tracer ?? NOOP_TRACER;
  tracing.enabled = tracer !== undefined;
}

/** The status name of a failure: its `TrellisError` code, else `INTERNAL`. */
export function failureCode(err: unknown): string {
  return err instanceof TrellisError ? err.code : "INTERNAL";
}

/**
 * Runs `run` in a span of its own (active for the spans it starts) and ends the span when the
 * promise settles: `describe` may add attributes of the result; a failure marks the span with
 * the error's code. Call only with `tracing.enabled`.
 */
export function traced<T>(
  name: string,
  start: SpanStart,
  run: () => Promise<T>,
  describe?: (span: TraceSpan, result: T) => void,
): Promise<T> {
  const tracer = tracing.tracer;
  const span = tracer.startSpan(name, start);
  let pending: Promise<T>;
  try {
    pending = tracer.withSpan(span, run);
  } catch (err) {
    span.fail(failureCode(err));
    span.end();
    throw err;
  }
  return pending.then(
    (result) => {
      describe?.(span, result);
      span.end();
      return result;
    },
    (err: unknown) => {
      span.fail(failureCode(err));
      span.end();
      throw err;
    },
  );
}

/** Runs `fn` outside every span when tracing is on (see `Tracer.detached`). */
export function untraced<T>(fn: () => T): T {
  return tracing.enabled ? tracing.tracer.detached(fn) : fn();
}

/**
 * An async iteration (a stream of pages) in one span: each step runs with the span active,
 * `count` adds up what the steps yield into `SPAN_ATTRIBUTES.items`, and the span ends when
 * the iteration ends, fails or is left early. Call only with `tracing.enabled`.
 */
export async function* tracedIteration<T>(
  name: string,
  start: SpanStart,
  steps: AsyncGenerator<T, void, undefined>,
  count: (value: T) => number,
): AsyncGenerator<T, void, undefined> {
  const tracer = tracing.tracer;
  const span = tracer.startSpan(name, start);
  let items = 0;
  let finished = false;
  try {
    for (;;) {
      const step = await tracer.withSpan(span, () => steps.next());
      if (step.done === true) break;
      items += count(step.value);
      yield step.value;
    }
    finished = true;
  } catch (err) {
    finished = true;
    span.fail(failureCode(err));
    throw err;
  } finally {
    span.setAttribute(SPAN_ATTRIBUTES.items, items);
    span.end();
    if (!finished) await steps.return(undefined);
  }
}
