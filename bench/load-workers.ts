/**
 * Load-generating processes (child_process.fork), for the gRPC and HTTP benchmarks alike: the
 * coordinator sends each worker its share of the load, every worker connects and says it is
 * ready, then all start their warm-up together on one word, so their measured windows coincide
 * to within a few milliseconds; each sends back its figures.
 */
import { fork } from "node:child_process";

/** Messages from the coordinator to a worker. */
export type ToWorker<O> = { type: "load"; options: O } | { type: "start" };
/** Messages from a worker to the coordinator. */
export type FromWorker<R> =
  | { type: "ready" }
  | { type: "result"; result: R }
  | { type: "failed"; message: string };

export interface WorkerRunHooks {
  /** Called when every worker is connected, before the warm-up starts. */
  readonly onReady?: () => void;
  /** Called when the measured window should have started (after the warm-up). */
  readonly onWindowStart?: () => void;
  /** Called when the measured window should have ended. */
  readonly onWindowEnd?: () => void;
}

/** Splits `total` into `parts` integers that differ by at most one (larger first). */
export function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  );
}

/**
 * Forks one `script` process per entry of `shares`, gives each its options, starts them
 * together once all are ready, and resolves to their results in order.
 */
export async function runInWorkers<O, R>(
  script: string,
  shares: readonly O[],
  timing: { readonly warmupMs: number; readonly durationMs: number },
  hooks: WorkerRunHooks = {},
): Promise<R[]> {
  const children = shares.map(() =>
    fork(script, [], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  const timers: NodeJS.Timeout[] = [];
  try {
    const ready = children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.once("exit", (code) => reject(new Error(`load worker exited (${code})`)));
          child.on("message", (m: FromWorker<R>) => {
            if (m.type === "ready") resolve();
            else if (m.type === "failed") reject(new Error(m.message));
          });
        }),
    );
    const results = children.map(
      (child) =>
        new Promise<R>((resolve, reject) => {
          child.once("exit", (code) => reject(new Error(`load worker exited (${code})`)));
          child.on("message", (m: FromWorker<R>) => {
            if (m.type === "result") resolve(m.result);
            else if (m.type === "failed") reject(new Error(m.message));
          });
        }),
    );
    // A failure before the results are awaited must not go unhandled.
    for (const r of results) r.catch(() => {});
    children.forEach((child, i) => {
      child.send({ type: "load", options: shares[i]! } satisfies ToWorker<O>);
    });
    await Promise.all(ready);
    hooks.onReady?.();
    for (const child of children) child.send({ type: "start" } satisfies ToWorker<O>);
    let windowStarted = false;
    let windowEnded = false;
    timers.push(
      setTimeout(() => {
        windowStarted = true;
        hooks.onWindowStart?.();
      }, timing.warmupMs),
    );
    const endWindow = () => {
      if (windowEnded) return;
      windowEnded = true;
      hooks.onWindowEnd?.();
    };
    timers.push(setTimeout(endWindow, timing.warmupMs + timing.durationMs));
    const figures = await Promise.all(results);
    // On a busy machine the workers' figures can arrive before this process's timer fires: the
    // window is over then, so it ends now rather than never.
    if (windowStarted) endWindow();
    return figures;
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
  }
}

/**
 * The worker's side: receives its options, runs `run` (which calls `onReady` once connected and
 * starts its warm-up when that resolves), sends back the result, and disconnects.
 */
export function serveAsLoadWorker<O, R>(
  name: string,
  run: (options: O, onReady: () => Promise<void>) => Promise<R>,
): void {
  if (process.send === undefined) {
    console.error(`${name} runs as a forked child of a benchmark (bench/load-workers.ts)`);
    process.exit(2);
  }
  const send = (message: FromWorker<R>) =>
    new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));
  let started: () => void = () => {};
  const start = new Promise<void>((resolve) => {
    started = resolve;
  });
  process.on("message", (message: ToWorker<O>) => {
    if (message.type === "start") {
      started();
      return;
    }
    run(message.options, async () => {
      await send({ type: "ready" });
      await start;
    }).then(
      async (result) => {
        await send({ type: "result", result });
        process.disconnect();
      },
      async (err: unknown) => {
        await send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
        process.disconnect();
      },
    );
  });
}
