/**
 * Writes the messages of a server stream with back-pressure. gRPC's send buffer (16 messages)
 * fills when the client stops reading (HTTP/2 flow control stalls the socket); `call.write`
 * then returns false and `write` here does not resolve until the buffer drains, so the handler
 * stops producing — no unbounded queue builds up in the server. A cancelled or expired call
 * rejects the pending write with the call's abort reason (a cancelled gRPC call never drains).
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { Zookie } from "../core/revision.js";

export class StreamWriter<T> {
  readonly #call: ServerWritableStream<unknown, T>;
  readonly #signal: AbortSignal;
  readonly #onPause: () => void;

  constructor(call: ServerWritableStream<unknown, T>, signal: AbortSignal, onPause: () => void) {
    this.#call = call;
    this.#signal = signal;
    this.#onPause = onPause;
  }

  /** True once the call is cancelled, expired or shut down: stop producing. */
  get aborted(): boolean {
    return this.#signal.aborted;
  }

  /** Sends one message; resolves when the stream can take more. */
  async write(message: T): Promise<void> {
    this.#signal.throwIfAborted();
    if (this.#call.write(message)) return;
    this.#onPause();
    await new Promise<void>((resolve, reject) => {
      const signal = this.#signal;
      const onDrain = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#call.removeListener("drain", onDrain);
        reject(signal.reason);
      };
      this.#call.once("drain", onDrain);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Sends one message per item of every page, as the pages come: a long listing streams while
   * it is computed. `message` gets the item and the snapshot of its page.
   */
  async writeEach<I>(
    pages: AsyncIterable<{ readonly zookie: Zookie; readonly items: readonly I[] }>,
    message: (item: I, zookie: Zookie) => T,
  ): Promise<void> {
    for await (const page of pages) {
      for (const item of page.items) await this.write(message(item, page.zookie));
    }
  }
}
