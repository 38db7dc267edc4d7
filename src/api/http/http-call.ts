/**
 * One HTTP request dressed as the grpc-js server call that the request pipeline expects, so that
 * the wrapped handlers registered with the gRPC server serve HTTP unchanged. What the pipeline
 * and grpc-js's handler signatures use, and how each is made here:
 *
 * - `metadata`: from the HTTP headers (see `requestMetadata`);
 * - `getPeer()`: the socket's address, in grpc-js's form (`127.0.0.1:5000`, `[::1]:5000`);
 * - `getDeadline()`: from the `grpc-timeout` header (as SpiceDB's gateway reads it), else none,
 *   and then the pipeline applies the server's default deadline where it applies one. As
 *   grpc-js does for a gRPC deadline, the call answers DEADLINE_EXCEEDED itself when it passes
 *   and reports the call cancelled, so the pipeline stops the work;
 * - `'cancelled'`: emitted when the client disconnects before its answer is complete;
 * - unary and client-streaming answers: the `callback` (`sendUnaryData`);
 * - server streams: `write()` sends one NDJSON line `{"result": …}` and returns false when the
 *   socket's buffer is full, `'drain'` follows when it empties (the pipeline's `StreamWriter`
 *   waits for it: back-pressure), `end()` ends the body, and `emit('error', status)` ends it
 *   with a last line `{"error": …}` — or, before the first line, answers with the error's HTTP
 *   status, as a unary call would;
 * - client streams: async iteration over the body's JSON objects (`JsonObjectStream`).
 *
 * Headers go out with the first line of a stream, so a failure before any result (a refused
 * credential, a bad request) still gets its HTTP status.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Metadata, type ServerErrorResponse, type StatusObject, status } from "@grpc/grpc-js";
import { normalizeAuthorization } from "../authorization-header.js";
import { TENANT_HEADER } from "../caller.js";
import { errorBody, httpStatusOf, PAYLOAD_TOO_LARGE } from "./http-status.js";
import type { JsonObjectStream } from "./json-object-stream.js";
import type { JsonRoute } from "./json-route.js";

export const JSON_CONTENT_TYPE = "application/json";
export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

/** What a tenant header becomes when its value cannot be metadata: an id no tenant has. */
const MALFORMED_TENANT = "<malformed trellis-tenant header>";
/** grpc-gateway forwards `Grpc-Metadata-<key>` headers as metadata `<key>`. */
const METADATA_PREFIX = "grpc-metadata-";
/** Headers passed on as metadata under their own names. */
const FORWARDED = new Set([TENANT_HEADER, "traceparent", "tracestate"]);
const AUTHORIZATION = "authorization";

/**
 * The call's metadata from the request's headers: `authorization` (several values, or one
 * grpc-js would refuse, become the markers the authenticator refuses, as on the gRPC port),
 * `trellis-tenant`, W3C trace context, and any `Grpc-Metadata-<key>` header as `<key>`.
 */
export function requestMetadata(rawHeaders: readonly string[]): Metadata {
  const metadata = new Metadata();
  const authorization: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    let name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name.startsWith(METADATA_PREFIX)) name = name.slice(METADATA_PREFIX.length);
    else if (name !== AUTHORIZATION && !FORWARDED.has(name)) continue;
    if (name === AUTHORIZATION) {
      authorization.push(AUTHORIZATION, value);
      continue;
    }
    try {
      metadata.add(name, value);
    } catch {
      // A key or value grpc-js refuses: a tenant must not silently become the default one.
      if (name === TENANT_HEADER) metadata.add(name, MALFORMED_TENANT);
    }
  }
  if (authorization.length > 0) {
    const headers: Record<string, string | string[] | undefined> = {
      authorization: authorization[1],
    };
    normalizeAuthorization(headers, authorization);
    const values = headers.authorization;
    for (const v of Array.isArray(values) ? values : [values!]) metadata.add(AUTHORIZATION, v);
  }
  return metadata;
}

/** Parses a gRPC timeout (`500m`, `2S`, `1M`: 1-8 digits and a unit); undefined if malformed. */
export function parseGrpcTimeout(text: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(text.trim());
  if (m === null) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2]!]!;
  return Number(m[1]) * unitMs;
}

/** What a call needs of the face that made it. */
export interface CallOwner {
  /** True once the listener is closing: answers then close their connection. */
  readonly closing: boolean;
  /** Called when a call's response is done (sent, or abandoned by the client). */
  callClosed(): void;
}

export class HttpCall extends EventEmitter {
  /** The decoded request of a unary or server-streaming call. */
  readonly request: unknown;
  readonly metadata: Metadata;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #route: JsonRoute;
  readonly #deadline: number;
  readonly #body: JsonObjectStream | undefined;
  readonly #owner: CallOwner;
  #timer: NodeJS.Timeout | undefined;
  /** The answer is complete, or abandoned: nothing more is written. */
  #answered = false;
  #cancelled = false;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: JsonRoute,
    metadata: Metadata,
    deadline: number,
    input: { readonly request: unknown } | { readonly body: JsonObjectStream },
    owner: CallOwner,
  ) {
    super();
    this.#owner = owner;
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.metadata = metadata;
    this.#deadline = deadline;
    this.request = "request" in input ? input.request : undefined;
    this.#body = "body" in input ? input.body : undefined;
    res.on("close", () => {
      if (!res.writableFinished) this.#cancel();
      owner.callClosed();
    });
    if (Number.isFinite(deadline)) {
      this.#timer = setTimeout(() => this.#expire(), Math.max(0, deadline - Date.now()));
    }
  }

  /** The pipeline ends a failed server stream with `emit('error', status)`: its last line. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === "error") {
      this.#fail(args[0] as Partial<StatusObject>);
      return true;
    }
    return super.emit(event, ...args);
  }

  getPeer(): string {
    const socket = this.#req.socket;
    const address = socket.remoteAddress ?? "unknown";
    return address.includes(":")
      ? `[${address}]:${socket.remotePort}`
      : `${address}:${socket.remotePort}`;
  }

  getDeadline(): Date | number {
    return Number.isFinite(this.#deadline) ? new Date(this.#deadline) : Number.POSITIVE_INFINITY;
  }

  getPath(): string {
    return this.#route.grpcPath;
  }

  // ---- unary and client-streaming answers --------------------------------------------------

  readonly callback = (
    err: ServerErrorResponse | Partial<StatusObject> | null,
    value?: unknown,
  ) => {
    if (err !== null && err !== undefined) {
      this.#fail(err as Partial<StatusObject>);
      return;
    }
    if (!this.#finish()) return;
    const body = JSON.stringify(this.#route.encodeResponse(value));
    const headers: Record<string, string | number> = {
      "content-type": JSON_CONTENT_TYPE,
      "content-length": Buffer.byteLength(body),
    };
    if (this.#owner.closing) headers.connection = "close";
    this.#res.writeHead(200, headers);
    this.#res.end(body);
  };

  // ---- server streams ----------------------------------------------------------------------

  write(message: unknown): boolean {
    if (this.#answered) return true;
    const res = this.#res;
    if (!res.headersSent) {
      res.writeHead(200, this.#streamHeaders());
      res.on("drain", () => this.emit("drain"));
    }
    return res.write(`${JSON.stringify({ result: this.#route.encodeResponse(message) })}\n`);
  }

  end(): void {
    if (!this.#finish()) return;
    if (!this.#res.headersSent) this.#res.writeHead(200, this.#streamHeaders());
    this.#res.end();
  }

  #streamHeaders(): Record<string, string> {
    return this.#owner.closing
      ? { "content-type": NDJSON_CONTENT_TYPE, connection: "close" }
      : { "content-type": NDJSON_CONTENT_TYPE };
  }

  // ---- client streams ----------------------------------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.#body === undefined) throw new TypeError("this call has no request stream");
    return this.#body;
  }

  // ---- endings -----------------------------------------------------------------------------

  /** Marks the answer complete; false when it already was (or the client is gone). */
  #finish(): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    return true;
  }

  #fail(failure: Partial<StatusObject>): void {
    if (!this.#finish()) return;
    const code = failure.code ?? status.UNKNOWN;
    const message = failure.details ?? "";
    const res = this.#res;
    const dialect = this.#route.errors;
    if (res.headersSent) {
      res.end(`${JSON.stringify({ error: errorBody(dialect, code, message) })}\n`);
      return;
    }
    const headers: Record<string, string | number> = { "content-type": JSON_CONTENT_TYPE };
    for (const [key, value] of Object.entries(failure.metadata?.getMap() ?? {})) {
      if (typeof value === "string") headers[key] = value;
    }
    if (code === status.UNAUTHENTICATED) headers["www-authenticate"] = "Bearer";
    const oversized = code === status.RESOURCE_EXHAUSTED && this.#body?.oversized === true;
    // A body the handler left unread: the connection cannot carry another request.
    if (!this.#req.complete || this.#owner.closing) headers.connection = "close";
    const body = JSON.stringify(errorBody(dialect, code, message));
    headers["content-length"] = Buffer.byteLength(body);
    res.writeHead(oversized ? PAYLOAD_TOO_LARGE : httpStatusOf(dialect, code), headers);
    res.end(body);
    if (!this.#req.complete) this.#req.resume();
  }

  /** The deadline passed: answer as grpc-js does, then let the pipeline stop the work. */
  #expire(): void {
    this.#timer = undefined;
    this.#fail({ code: status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
    this.#cancel();
  }

  #cancel(): void {
    this.#answered = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.emit("cancelled", "cancelled");
  }
}
