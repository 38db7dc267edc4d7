/**
 * The messages of a client-streaming call over HTTP: a request body of JSON objects one after
 * another — newline-delimited JSON (`application/x-ndjson`), or objects merely concatenated, as
 * SpiceDB's gateway also reads them — decoded one at a time as the handler asks for them. The
 * body is read only as fast as the handler consumes it (the socket is paused while a decoded
 * message waits), so a large import never sits in memory: TCP flow control slows the client.
 *
 * Each object is bounded by `maxBytes` (the gRPC receive limit: one message); a larger one
 * ends the stream with RESOURCE_EXHAUSTED. An object that does not parse or map is handed on
 * as an `UndecodableRequest`, which the pipeline turns into INVALID_ARGUMENT once the caller
 * is known.
 */
import type { Readable } from "node:stream";
import { invalidArgument, TrellisError } from "../../core/errors.js";
import { quoteInput } from "../../core/quote-input.js";
import { UndecodableRequest } from "../request-decoding.js";

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

type Entry = { readonly value: unknown } | { readonly error: TrellisError };

/** A request message of a JSON text, or the `UndecodableRequest` saying why there is none. */
export function decodeJsonMessage(text: string, decode: (json: unknown) => unknown): unknown {
  let json: unknown;
  try {
    json = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    return new UndecodableRequest(
      invalidArgument(`the request is not valid JSON: ${quoteInput((err as Error).message, 120)}`),
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return new UndecodableRequest(invalidArgument("the request must be a JSON object"));
  }
  try {
    return decode(json);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return new UndecodableRequest(
      err instanceof RangeError
        ? invalidArgument("the request nests JSON too deeply")
        : invalidArgument(`the request does not map to its message: ${quoteInput(reason, 120)}`),
    );
  }
}

export class JsonObjectStream implements AsyncIterableIterator<unknown> {
  readonly #source: Readable;
  readonly #maxBytes: number;
  readonly #decode: (json: unknown) => unknown;
  readonly #queue: Entry[] = [];
  #waiter:
    | { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void }
    | undefined;
  /** The body ended (or failed: `#stopped` says so); nothing more will be queued. */
  #ended = false;
  /** Scanning stopped at a bad or oversized object; what follows is discarded. */
  #stopped = false;
  /** The consumer is gone: the rest of the body is read and discarded. */
  #closed = false;
  #oversized = false;
  // The scanner: nesting depth, and where in a string it is.
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** The pieces of the object being read, from earlier chunks. */
  #pieces: Buffer[] = [];
  #pieceBytes = 0;

  constructor(source: Readable, maxBytes: number, decode: (json: unknown) => unknown) {
    this.#source = source;
    this.#maxBytes = maxBytes;
    this.#decode = decode;
    source.on("data", (chunk: Buffer) => this.#feed(chunk));
    source.on("end", () => this.#end());
    source.on("error", () => this.#fail());
    source.on("close", () => this.#fail());
  }

  /** True when an object went over the size limit. */
  get oversized(): boolean {
    return this.#oversized;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    const entry = this.#queue.shift();
    if (entry !== undefined) {
      if (this.#queue.length === 0 && !this.#ended) this.#source.resume();
      return "error" in entry
        ? Promise.reject(entry.error)
        : Promise.resolve({ done: false, value: entry.value });
    }
    if (this.#ended || this.#closed) return Promise.resolve({ done: true, value: undefined });
    this.#source.resume();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The consumer stops: the rest of the body is read and dropped. */
  return(): Promise<IteratorResult<unknown>> {
    this.#closed = true;
    this.#queue.length = 0;
    this.#pieces = [];
    this.#settle({ done: true, value: undefined });
    this.#source.resume();
    return Promise.resolve({ done: true, value: undefined });
  }

  #settle(result: IteratorResult<unknown> | { error: unknown }): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if ("error" in result) waiter.reject(result.error);
    else waiter.resolve(result);
  }

  #push(entry: Entry): void {
    if (this.#closed) return;
    if (this.#waiter !== undefined && this.#queue.length === 0) {
      this.#settle("error" in entry ? entry : { done: false, value: entry.value });
      return;
    }
    this.#queue.push(entry);
  }

  #stop(entry: Entry): void {
    this.#stopped = true;
    this.#pieces = [];
    this.#push(entry);
  }

  #feed(chunk: Buffer): void {
    if (this.#closed || this.#stopped) return;
    let start = this.#depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.#depth === 0) {
        if (isWhitespace(byte)) continue;
        if (byte !== OPEN_BRACE) {
          this.#stop({
            value: new UndecodableRequest(
              invalidArgument(
                "a streamed request body must be JSON objects one after another (newline-delimited JSON)",
              ),
            ),
          });
          return;
        }
        this.#depth = 1;
        start = i;
        continue;
      }
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === BACKSLASH) this.#escaped = true;
        else if (byte === QUOTE) this.#inString = false;
        continue;
      }
      if (byte === QUOTE) this.#inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.#depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.#depth--;
        if (this.#depth === 0) {
          const tail = chunk.subarray(start, i + 1);
          if (this.#tooLarge(this.#pieceBytes + tail.length)) return;
          const text =
            this.#pieces.length === 0
              ? tail.toString("utf8")
              : Buffer.concat([...this.#pieces, tail]).toString("utf8");
          this.#pieces = [];
          this.#pieceBytes = 0;
          start = -1;
          this.#push({ value: decodeJsonMessage(text, this.#decode) });
        }
      }
    }
    if (this.#depth > 0 && start >= 0) {
      const piece = chunk.subarray(start);
      if (this.#tooLarge(this.#pieceBytes + piece.length)) return;
      this.#pieces.push(piece);
      this.#pieceBytes += piece.length;
    }
    // Hold the body while a decoded message waits for the handler.
    if (this.#queue.length > 0) this.#source.pause();
  }

  #tooLarge(bytes: number): boolean {
    if (bytes <= this.#maxBytes) return false;
    this.#oversized = true;
    this.#stop({
      error: new TrellisError(
        "RESOURCE_EXHAUSTED",
        `a message of the request stream is larger than the limit of ${this.#maxBytes} bytes`,
      ),
    });
    return true;
  }

  #end(): void {
    if (this.#ended) return;
    if (!this.#stopped && this.#depth > 0) {
      this.#stop({
        value: new UndecodableRequest(
          invalidArgument("the request body ends inside a JSON object"),
        ),
      });
    }
    this.#ended = true;
    if (this.#queue.length === 0) this.#settle({ done: true, value: undefined });
  }

  /** The body was cut off: whoever waits learns the call is over. */
  #fail(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopped = true;
    this.#settle({ error: new TrellisError("CANCELLED", "the request body was cut off") });
  }
}
