/**
 * `readStream`: a gRPC server stream as an async iterator. grpc-js streams are Node readables,
 * but destroying one (which is what `for await` does on `break`) does not cancel the call, and
 * the server would go on computing and sending. This iterator cancels the call whenever the
 * consumer stops before the end, and applies backpressure by pausing the stream while unread
 * messages pile up.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";

/** Unread messages at which the stream is paused, and at which it is resumed. */
const PAUSE_AT = 64;
const RESUME_AT = 16;

/** Yields the messages of `call`; throws the call's error (as grpc-js gives it) at its place. */
export async function* readStream<T>(call: ClientReadableStream<T>): AsyncGenerator<T, void> {
  const queue: T[] = [];
  let head = 0;
  let outcome: { error?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  call.on("data", (message: T) => {
    queue.push(message);
    if (queue.length - head >= PAUSE_AT) call.pause();
    notify();
  });
  // Kept for the life of the call: a cancelled call still emits its CANCELLED error, and an
  // 'error' event without a listener would crash the process.
  call.on("error", (error: unknown) => {
    outcome ??= { error };
    notify();
  });
  call.on("end", () => {
    outcome ??= {};
    notify();
  });
  try {
    while (true) {
      if (head < queue.length) {
        const message = queue[head]!;
        queue[head++] = undefined as T;
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        if (call.isPaused() && queue.length - head <= RESUME_AT) call.resume();
        yield message;
        continue;
      }
      if (outcome !== undefined) {
        if ("error" in outcome) throw outcome.error;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    if (outcome === undefined) {
      outcome = {};
      call.cancel();
    }
  }
}
