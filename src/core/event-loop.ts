/**
 * Yielding to the event loop and timers that do not hold a process open, written once for
 * every place that runs in Node and in browsers alike (the engine, the stores, the
 * playground): browsers have no `setImmediate`, and their timers are numbers without `unref`.
 */

/** Node's `setImmediate`, read without naming Node's types. */
const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;

/**
 * Resolves once the event loop has run what is pending: `setImmediate` where there is one
 * (Node: after pending I/O), a zero-delay timer elsewhere.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof immediate === "function") immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** Lets a Node process exit while `timer` is pending; nothing where timers have no `unref`. */
export function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    const unref = (timer as { unref: unknown }).unref;
    if (typeof unref === "function") unref.call(timer);
  }
}
