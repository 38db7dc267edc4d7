/**
 * The HTTP/JSON face: a `node:http` request listener that finds a request's route, reads its
 * JSON body within the gRPC receive limit, and runs the method's registered handler — the one
 * the gRPC server runs, wrapped by the request pipeline — with an `HttpCall`. Caller
 * authentication, scopes, deadlines, cancellation, the request log, audit lines and metrics are
 * therefore the pipeline's, exactly as over gRPC; this file only routes and reads bodies.
 *
 * Every route is `POST` with a JSON body (an empty body is `{}`); a client-streaming route
 * reads a body of JSON objects one after another. Answers: `application/json`, or
 * `application/x-ndjson` for server streams. What is refused here, before any handler: an
 * unknown path (404), another method (405), a malformed `grpc-timeout` (400), a body over the
 * limit (413).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  type CallOwner,
  HttpCall,
  JSON_CONTENT_TYPE,
  parseGrpcTimeout,
  requestMetadata,
} from "./http-call.js";
import { errorBody, PAYLOAD_TOO_LARGE } from "./http-status.js";
import { decodeJsonMessage, JsonObjectStream } from "./json-object-stream.js";
import type { ErrorDialect, JsonRoute } from "./json-route.js";
import type { CallKind, RegisteredMethod, RegisteredMethods } from "./registered-methods.js";
import type { StaticFiles } from "./static-files.js";

export interface HttpFaceOptions {
  /** The routes to serve; one whose gRPC method is not registered is left out. */
  readonly routes: readonly JsonRoute[];
  /** The handlers registered with the gRPC server, by gRPC path. */
  readonly methods: RegisteredMethods;
  /** Largest request message, in bytes (`ServerLimits.maxReceiveMessageBytes`). */
  readonly maxMessageBytes: number;
  /** Files served under their prefix, before any route (the playground); absent: none. */
  readonly staticFiles?: StaticFiles;
}

interface ServedRoute {
  readonly route: JsonRoute;
  readonly kind: CallKind;
  readonly handler: RegisteredMethod["handler"];
}

export class HttpFace implements CallOwner {
  readonly #routes = new Map<string, ServedRoute>();
  readonly #maxMessageBytes: number;
  readonly #staticFiles: StaticFiles | undefined;
  #closing = false;
  #onCallClosed: (() => void) | undefined;

  constructor(options: HttpFaceOptions) {
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#staticFiles = options.staticFiles;
    for (const route of options.routes) {
      const method = options.methods.get(route.grpcPath);
      // Bidirectional streams have no HTTP/1.1 form; no trellis.v1 or SpiceDB route has one.
      if (method === undefined || method.kind === "bidiStream") continue;
      if (this.#routes.has(route.httpPath)) {
        throw new TypeError(`two HTTP routes share the path ${route.httpPath}`);
      }
      this.#routes.set(route.httpPath, { route, kind: method.kind, handler: method.handler });
    }
  }

  get closing(): boolean {
    return this.#closing;
  }

  /**
   * From now on every answer closes its connection, and `onCallClosed` runs as each call in
   * flight is done (the listener closes connections left idle).
   */
  close(onCallClosed: () => void): void {
    this.#closing = true;
    this.#onCallClosed = onCallClosed;
  }

  callClosed(): void {
    this.#onCallClosed?.();
  }

  /** The paths served, with the gRPC method each calls. */
  get paths(): ReadonlyMap<string, string> {
    return new Map([...this.#routes].map(([path, served]) => [path, served.route.grpcPath]));
  }

  /** The `node:http` request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const pathname = query < 0 ? url : url.slice(0, query);
    const served = this.#routes.get(pathname);
    if (this.#closing) res.setHeader("connection", "close");
    if (served === undefined && this.#staticFiles?.handles(pathname) === true) {
      this.#staticFiles.serve(req, res, pathname);
      return;
    }
    if (served === undefined) {
      refuse(req, res, 404, "trellis", status.NOT_FOUND, `no route for ${req.method} ${url}`);
      return;
    }
    const { route } = served;
    if (req.method !== "POST") {
      refuse(req, res, 405, route.errors, status.UNIMPLEMENTED, `${route.httpPath} takes POST`, {
        allow: "POST",
      });
      return;
    }
    let deadline = Number.POSITIVE_INFINITY;
    const timeout = req.headers["grpc-timeout"];
    if (timeout !== undefined) {
      const ms = typeof timeout === "string" ? parseGrpcTimeout(timeout) : undefined;
      if (ms === undefined) {
        const message = `grpc-timeout must be 1-8 digits and a unit (H, M, S, m, u, n), such as 500m or 2S`;
        refuse(req, res, 400, route.errors, status.INVALID_ARGUMENT, message);
        return;
      }
      deadline = Date.now() + ms;
    }
    const metadata = requestMetadata(req.rawHeaders);
    if (served.kind === "clientStream") {
      const body = new JsonObjectStream(req, this.#maxMessageBytes, route.decodeRequest);
      const call = new HttpCall(req, res, route, metadata, deadline, { body }, this);
      (served.handler as handleClientStreamingCall<unknown, unknown>)(call as never, call.callback);
      return;
    }
    readBody(req, this.#maxMessageBytes, (text) => {
      if (text === undefined) {
        const message = `the request body is larger than the limit of ${this.#maxMessageBytes} bytes`;
        refuse(req, res, PAYLOAD_TOO_LARGE, route.errors, status.RESOURCE_EXHAUSTED, message);
        return;
      }
      const request = decodeJsonMessage(text, route.decodeRequest);
      const call = new HttpCall(req, res, route, metadata, deadline, { request }, this);
      if (served.kind === "unary") {
        (served.handler as handleUnaryCall<unknown, unknown>)(call as never, call.callback);
      } else {
        (served.handler as handleServerStreamingCall<unknown, unknown>)(call as never);
      }
    });
  };
}

/**
 * Reads the whole body as UTF-8 text; `undefined` when it passes `maxBytes` (declared or
 * read), and then the rest is read and dropped. Nothing happens if the client goes away first.
 */
function readBody(
  req: IncomingMessage,
  maxBytes: number,
  done: (text: string | undefined) => void,
): void {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    done(undefined);
    return;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  let over = false;
  req.on("data", (chunk: Buffer) => {
    if (over) return;
    bytes += chunk.length;
    if (bytes > maxBytes) {
      over = true;
      chunks.length = 0;
      done(undefined);
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (over) return;
    done(
      chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"),
    );
  });
  req.on("error", () => {});
}

/** Answers a request refused before any handler; an unread body is dropped. */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  httpStatus: number,
  dialect: ErrorDialect,
  code: status,
  message: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(errorBody(dialect, code, message));
  res.writeHead(httpStatus, {
    "content-type": JSON_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
    ...extraHeaders,
    ...(req.complete ? {} : { connection: "close" }),
  });
  res.end(body);
  if (!req.complete) req.resume();
}
