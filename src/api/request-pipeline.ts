/**
 * What every call goes through around its handler, in one place: the caller and tenant, the
 * deadline (the client's, or the default for calls that must not run unbounded), cancellation,
 * the mapping of failures to statuses (`errors.ts`), one log line and the metrics. Handlers
 * receive a `CallContext` and translate messages; they never see gRPC callbacks.
 *
 * Open streams are tracked so that shutdown can end them; unary calls are left to finish.
 */
import { randomBytes } from "node:crypto";
import {
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AuditLog } from "../auth/index.js";
import { TrellisError } from "../core/errors.js";
import type { TenantId } from "../core/revision.js";
import { type TraceSpan, tracing } from "../core/tracing.js";
import type { Caller, CallerResolver } from "./caller.js";
import { type GrpcFailure, statusName, toGrpcFailure } from "./errors.js";
import { type MethodPolicy, policyOf } from "./method-policies.js";
import { decodedRequest } from "./request-decoding.js";
import { endRequestSpan, startRequestSpan } from "./request-tracing.js";
import type { ServerLimits } from "./server-limits.js";
import type { ServerMetrics } from "./server-metrics.js";
import { StreamWriter } from "./stream-writer.js";

export interface CallContext {
  /** `Service/Method`, as logged. */
  readonly method: string;
  readonly requestId: string;
  readonly tenant: TenantId;
  /** Who is calling (set before the handler runs). */
  readonly caller: Caller;
  /** Adds fields to the audit line of an audited call (counts, a created key's id). */
  audit(detail: Readonly<Record<string, string | number | boolean>>): void;
  /** Aborted when the call is cancelled, expires or the server shuts down; `reason` says which. */
  readonly signal: AbortSignal;
  /** Epoch ms by which the call must be answered; `Infinity` when there is none. */
  readonly deadline: number;
}

/** Per-call state; the abort controller is made on first use, so plain unary calls skip it. */
class CallState implements CallContext {
  readonly method: string;
  readonly requestId: string;
  readonly policy: MethodPolicy;
  tenant: TenantId = "";
  callerId = "";
  #caller: Caller | undefined;
  auditDetail: Record<string, string | number | boolean> | undefined;
  deadline = Number.POSITIVE_INFINITY;
  /** The time the client's own deadline gave the call as it reached us; 0 without one. */
  clientWindowMs = 0;
  readonly started = performance.now();
  settled = false;
  timer: NodeJS.Timeout | undefined;
  /** The request's span, with tracing on (`request-tracing.ts`). */
  span: TraceSpan | undefined;
  /** Ends the call from outside its handler (shutdown). */
  terminate: (err: TrellisError) => void = () => {};
  #controller: AbortController | undefined;

  constructor(method: string, requestId: string, policy: MethodPolicy) {
    this.method = method;
    this.requestId = requestId;
    this.policy = policy;
  }

  get caller(): Caller {
    if (this.#caller === undefined) throw new TrellisError("INTERNAL", "caller not resolved yet");
    return this.#caller;
  }

  set caller(caller: Caller) {
    this.#caller = caller;
    this.tenant = caller.tenant;
    this.callerId = caller.id;
  }

  get identified(): boolean {
    return this.#caller !== undefined;
  }

  audit(detail: Readonly<Record<string, string | number | boolean>>): void {
    this.auditDetail = { ...this.auditDetail, ...detail };
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  abort(reason: TrellisError): void {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** Marks the call answered; false when it already was. */
  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return true;
  }
}

/** What every kind of server call offers (grpc-js does not export its own name for it). */
type ServerSurfaceCall = Pick<
  ServerUnaryCall<unknown, unknown>,
  "metadata" | "getDeadline" | "getPeer"
>;

function deadlineMs(call: ServerSurfaceCall): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : d;
}

/**
 * How early before the deadline we estimate for a call a cancellation is still its deadline.
 * A client counts its deadline from when it sent the call and we from when it reached us, so a
 * client that gives up at its deadline is heard here before our estimate passes, by the
 * call's transit time (a loaded client or server adds to it); and grpc-js's deadline timer,
 * armed from the event loop's cached clock, may fire a little before `Date.now()` reaches the
 * deadline. A quarter of the client's window, at most 250 ms: shorter than any explicit
 * cancellation one could confuse with it in practice, longer than loopback transit under load.
 */
export function deadlineSlackMs(clientWindowMs: number): number {
  return Math.min(250, clientWindowMs / 4);
}

/**
 * Why a call that gRPC reports cancelled ended: its deadline was due (for a client's deadline,
 * within `deadlineSlackMs` of our estimate of it), or the client left.
 */
export function cancellationCode(
  now: number,
  deadline: number,
  clientWindowMs: number,
): "DEADLINE_EXCEEDED" | "CANCELLED" {
  const slack = clientWindowMs > 0 ? deadlineSlackMs(clientWindowMs) : 0;
  return now >= deadline - slack ? "DEADLINE_EXCEEDED" : "CANCELLED";
}

function cancellation(state: CallState): TrellisError {
  return cancellationCode(Date.now(), state.deadline, state.clientWindowMs) === "DEADLINE_EXCEEDED"
    ? new TrellisError("DEADLINE_EXCEEDED", "deadline exceeded")
    : new TrellisError("CANCELLED", "the call was cancelled");
}

const CODE_OF_CANCELLATION = {
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
} as const;

export interface RequestPipelineOptions {
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly limits: ServerLimits;
  readonly callers: CallerResolver;
  readonly audit: AuditLog;
}

export interface StreamOptions {
  /** Apply `limits.defaultDeadlineMs` when the client sets no deadline. */
  readonly defaultDeadline: boolean;
}

export class RequestPipeline {
  readonly #logger: Logger;
  readonly #metrics: ServerMetrics;
  readonly #limits: ServerLimits;
  readonly #callers: CallerResolver;
  readonly #audit: AuditLog;
  readonly #streams = new Set<CallState>();
  readonly #idPrefix = randomBytes(4).toString("hex");
  #sequence = 0;

  constructor(options: RequestPipelineOptions) {
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#limits = options.limits;
    this.#callers = options.callers;
    this.#audit = options.audit;
  }

  /** Streams in progress. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Ends every open stream with `reason` (UNAVAILABLE at shutdown). */
  cancelStreams(reason: TrellisError): void {
    for (const state of [...this.#streams]) state.terminate(reason);
  }

  unary<Req, Res>(
    method: string,
    handler: (request: Req, ctx: CallContext) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    const policy = policyOf(method);
    return (call, callback) => {
      const state = this.#begin(method, policy, call);
      const fail = (err: unknown) => {
        if (!state.settle()) return;
        const failure = toGrpcFailure(err, state.requestId);
        callback({ code: failure.code, details: failure.details, metadata: failure.metadata });
        this.#done(state, call, failure.code, failure);
      };
      call.once("cancelled", () => this.#cancelled(state, call));
      this.#armDeadline(state, true, fail);
      this.#identifyTraced(state, call, fail, () =>
        handler(decodedRequest(call.request), state).then((response) => {
          if (!state.settle()) return;
          callback(null, response);
          this.#done(state, call, status.OK);
        }, fail),
      );
    };
  }

  serverStream<Req, Res>(
    method: string,
    options: StreamOptions,
    handler: (request: Req, ctx: CallContext, out: StreamWriter<Res>) => Promise<void>,
  ): handleServerStreamingCall<Req, Res> {
    const policy = policyOf(method);
    return (call: ServerWritableStream<Req, Res>) => {
      const state = this.#begin(method, policy, call);
      const fail = (err: unknown) => {
        if (!state.settle()) return;
        const failure = toGrpcFailure(err, state.requestId);
        if (err instanceof TrellisError) state.abort(err);
        // grpc-js turns an 'error' event into the call's status, after the queued messages.
        call.emit("error", {
          code: failure.code,
          details: failure.details,
          metadata: failure.metadata,
        });
        this.#closeStream(state);
        this.#done(state, call, failure.code, failure);
      };
      this.#openStream(state, fail);
      call.once("cancelled", () => {
        if (this.#cancelled(state, call)) this.#closeStream(state);
      });
      this.#armDeadline(state, options.defaultDeadline, fail);
      this.#identifyTraced(state, call, fail, () => {
        const out = new StreamWriter<Res>(call, state.signal, () =>
          this.#metrics.backpressureWait(method),
        );
        handler(decodedRequest(call.request), state, out).then(() => {
          if (!state.settle()) return;
          call.end();
          this.#closeStream(state);
          this.#done(state, call, status.OK);
        }, fail);
      });
    };
  }

  clientStream<Req, Res>(
    method: string,
    handler: (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>,
  ): handleClientStreamingCall<Req, Res> {
    const policy = policyOf(method);
    return (call: ServerReadableStream<Req, Res>, callback) => {
      const state = this.#begin(method, policy, call);
      const fail = (err: unknown) => {
        if (!state.settle()) return;
        const failure = toGrpcFailure(err, state.requestId);
        if (err instanceof TrellisError) state.abort(err);
        callback({ code: failure.code, details: failure.details, metadata: failure.metadata });
        this.#closeStream(state);
        this.#done(state, call, failure.code, failure);
      };
      this.#openStream(state, fail);
      call.once("cancelled", () => {
        if (this.#cancelled(state, call)) this.#closeStream(state);
      });
      this.#armDeadline(state, false, fail);
      this.#identifyTraced(state, call, fail, () =>
        handler(readUntilAborted(call, state.signal), state).then((response) => {
          if (!state.settle()) return;
          callback(null, response);
          this.#closeStream(state);
          this.#done(state, call, status.OK);
        }, fail),
      );
    };
  }

  // ---- the parts ----------------------------------------------------------------------

  #begin(method: string, policy: MethodPolicy, call: ServerSurfaceCall): CallState {
    this.#sequence++;
    const state = new CallState(method, `${this.#idPrefix}-${this.#sequence.toString(36)}`, policy);
    state.deadline = deadlineMs(call);
    if (Number.isFinite(state.deadline)) {
      state.clientWindowMs = Math.max(0, state.deadline - Date.now());
    }
    if (tracing.enabled) state.span = startRequestSpan(method, state.requestId, call.metadata);
    return state;
  }

  /** `#identify`, with the request's span active (when tracing) for all that the call does. */
  #identifyTraced(
    state: CallState,
    call: ServerSurfaceCall,
    fail: (err: unknown) => void,
    run: () => void,
  ): void {
    if (state.span === undefined) this.#identify(state, call, fail, run);
    else tracing.tracer.withSpan(state.span, () => this.#identify(state, call, fail, run));
  }

  /**
   * Resolves the caller, checks the method's scope, then runs the handler. A resolver may
   * answer synchronously (insecure-dev) so that such calls take no extra turn of the loop.
   */
  #identify(
    state: CallState,
    call: ServerSurfaceCall,
    fail: (err: unknown) => void,
    run: () => void,
  ): void {
    const admit = (caller: Caller) => {
      if (state.settled) return;
      if (!caller.scopes.has(state.policy.scope)) {
        state.caller = caller;
        throw new TrellisError(
          "PERMISSION_DENIED",
          `${state.method} needs the ${state.policy.scope} scope, which this credential does not grant`,
        );
      }
      state.caller = caller;
      run();
    };
    try {
      const caller = this.#callers.resolve(call.metadata, call.getPeer(), state.method);
      if (caller instanceof Promise) {
        caller.then(admit).catch(fail);
      } else {
        admit(caller);
      }
    } catch (err) {
      fail(err);
    }
  }

  /**
   * A client deadline is enforced by grpc-js itself (it answers DEADLINE_EXCEEDED and reports
   * the call cancelled) or by the client giving up (see `cancellationCode`); without one, the
   * default deadline is enforced here.
   */
  #armDeadline(state: CallState, useDefault: boolean, fail: (err: unknown) => void): void {
    if (Number.isFinite(state.deadline) || !useDefault) return;
    const ms = this.#limits.defaultDeadlineMs;
    state.deadline = Date.now() + ms;
    state.timer = setTimeout(() => {
      const err = new TrellisError(
        "DEADLINE_EXCEEDED",
        `no answer within the server's default deadline of ${ms} ms; set a deadline to choose another`,
      );
      state.abort(err);
      fail(err);
    }, ms);
    // The timer must not keep a closing process alive.
    state.timer.unref();
  }

  /** The client went away or its deadline passed: stop the work; gRPC has answered already. */
  #cancelled(state: CallState, call: ServerSurfaceCall): boolean {
    if (state.settled) return false;
    const reason = cancellation(state);
    state.abort(reason);
    state.settle();
    this.#done(state, call, CODE_OF_CANCELLATION[reason.code as keyof typeof CODE_OF_CANCELLATION]);
    return true;
  }

  #openStream(state: CallState, fail: (err: unknown) => void): void {
    state.terminate = (err) => {
      state.abort(err);
      fail(err);
    };
    this.#streams.add(state);
    this.#metrics.streamOpened(state.method);
  }

  #closeStream(state: CallState): void {
    if (this.#streams.delete(state)) this.#metrics.streamClosed(state.method);
  }

  #done(state: CallState, call: ServerSurfaceCall, code: status, failure?: GrpcFailure): void {
    const ms = performance.now() - state.started;
    const name = statusName(code);
    if (state.span !== undefined) endRequestSpan(state.span, code, state.tenant);
    this.#metrics.request(state.method, name, ms / 1000);
    if (state.policy.audited && state.identified) {
      this.#audit.write({
        method: state.method,
        requestId: state.requestId,
        peer: call.getPeer(),
        tenant: state.tenant,
        caller: state.callerId,
        code: name,
        ...(state.auditDetail !== undefined ? { detail: state.auditDetail } : {}),
      });
    }
    if (failure?.serverSide !== undefined) {
      this.#logger.error(
        { err: failure.serverSide, requestId: state.requestId, method: state.method },
        "request failed on the server side",
      );
    }
    if (this.#logger.isLevelEnabled("info")) {
      this.#logger.info(
        {
          requestId: state.requestId,
          method: state.method,
          code: name,
          ms: Math.round(ms * 100) / 100,
          tenant: state.tenant || undefined,
          peer: call.getPeer(),
          caller: state.callerId || undefined,
        },
        "request",
      );
    }
  }
}

/**
 * The messages of a client stream, read one at a time (so gRPC's receive buffer applies
 * back-pressure to the client), ending with the signal's reason once the call is aborted (a
 * cancelled call's stream may never end by itself), or with INVALID_ARGUMENT at a message that
 * did not decode.
 */
async function* readUntilAborted<T>(
  call: ServerReadableStream<T, unknown>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const iterator = call[Symbol.asyncIterator]() as AsyncIterator<T>;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    while (true) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield decodedRequest(next.value);
    }
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    void iterator.return?.();
  }
}
