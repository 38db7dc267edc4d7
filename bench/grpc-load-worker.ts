/**
 * A load-generating process forked by `runLoadInWorkers` (bench/grpc-load.ts): it receives the
 * load over IPC, connects, says it is ready, waits for the word to start, runs the load and
 * sends back its figures.
 */
import { type FromWorker, runLoad, type ToWorker } from "./grpc-load.js";

const send = (message: FromWorker) =>
  new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));

let started: () => void = () => {};
const start = new Promise<void>((resolve) => {
  started = resolve;
});

process.on("message", (message: ToWorker) => {
  if (message.type === "start") {
    started();
    return;
  }
  runLoad(message.options, {
    onReady: async () => {
      await send({ type: "ready" });
      await start;
    },
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

if (process.send === undefined) {
  console.error("grpc-load-worker runs as a child of bench/grpc-load.ts (runLoadInWorkers)");
  process.exit(2);
}
