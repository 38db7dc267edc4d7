/**
 * The waiting half of `waitForChanges`, shared by the engines: waiters per tenant, woken by
 * `notify` (own commits, or LISTEN/NOTIFY) and, as a fallback for writers the engine cannot
 * hear, by polling the head revision. Runs wherever timers and `AbortSignal` exist (Node and
 * browsers).
 */
import { unrefTimer } from "../core/event-loop.js";
import type { Revision } from "../core/index.js";
import { datastoreClosed } from "./argument-checks.js";
import type { WaitForChangesOptions } from "./changelog.js";

/** What `setTimeout` returns: an object in Node, a number in browsers. */
type Timer = ReturnType<typeof setTimeout>;

interface Waiter {
  readonly tenant: string;
  readonly after: Revision;
  settle(head: Revision): void;
  fail(err: unknown): void;
}

export interface ChangeNotifierOptions {
  /** Reads the committed head of a tenant (throws NOT_FOUND for an unknown tenant). */
  readonly readHead: (tenant: string) => Promise<Revision>;
  /**
   * Milliseconds between head polls while a waiter is pending; undefined for an engine that
   * hears every commit (`notify`), which then reads the head once, when the wait starts.
   */
  readonly pollIntervalMs: number | undefined;
  /**
   * When true, the timers of pending waits do not keep a Node process alive (`unref`, where
   * timers have it): for an engine whose only writers are in this process, a wait that nothing
   * else keeps alive could never be woken, so it ends with the process.
   */
  readonly unrefTimers?: boolean;
  /** Runs before a waiter's first head check, e.g. to start listening; failures are ignored. */
  readonly prepare?: () => Promise<void>;
}

export class ChangeNotifier {
  readonly #options: ChangeNotifierOptions;
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(options: ChangeNotifierOptions) {
    this.#options = options;
  }

  /** Wakes the tenant's waiters that wait for less than `revision`, a committed revision. */
  notify(tenant: string, revision: Revision): void {
    for (const waiter of this.#waiters) {
      if (waiter.tenant === tenant && revision > waiter.after) waiter.settle(revision);
    }
  }

  /** True while some waiter is pending (engines may skip notifications otherwise). */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  async wait(
    tenant: string,
    after: Revision,
    options: WaitForChangesOptions = {},
  ): Promise<Revision> {
    if (this.#closed) throw datastoreClosed();
    const { readHead, pollIntervalMs, prepare, unrefTimers } = this.#options;
    if (prepare !== undefined) await prepare().catch(() => undefined);
    return new Promise<Revision>((resolve, reject) => {
      if (this.#closed) {
        reject(datastoreClosed());
        return;
      }
      let done = false;
      let pollTimer: Timer | undefined;
      let timeoutTimer: Timer | undefined;
      const startTimer = (ms: number, fn: () => void): Timer => {
        const timer = setTimeout(fn, ms);
        if (unrefTimers === true) unrefTimer(timer);
        return timer;
      };
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        this.#waiters.delete(waiter);
        clearTimeout(pollTimer);
        clearTimeout(timeoutTimer);
        options.signal?.removeEventListener("abort", onAbort);
        return true;
      };
      const waiter: Waiter = {
        tenant,
        after,
        settle: (head) => {
          if (finish()) resolve(head);
        },
        fail: (err) => {
          if (finish()) reject(err);
        },
      };
      const check = (): void => {
        readHead(tenant).then((head) => {
          if (head > after) waiter.settle(head);
          else if (!done && pollIntervalMs !== undefined)
            pollTimer = startTimer(pollIntervalMs, check);
        }, waiter.fail);
      };
      const giveUp = (): void => {
        if (done) return;
        readHead(tenant).then(waiter.settle, waiter.fail);
      };
      const onAbort = (): void => giveUp();
      // Registered before the first head check, so a commit between the check and the wait
      // still wakes this waiter.
      this.#waiters.add(waiter);
      if (options.signal?.aborted) {
        giveUp();
        return;
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timeoutTimer = startTimer(options.timeoutMs, giveUp);
      }
      check();
    });
  }

  /** Rejects every pending waiter with UNAVAILABLE and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.fail(datastoreClosed());
  }
}
