/**
 * A load-generating process forked by `runLoadInWorkers` (bench/grpc-load.ts), speaking the
 * protocol of bench/load-workers.ts: it receives its share of the load, connects, says it is
 * ready, waits for the word to start, runs the load and sends back its figures.
 */
import { type LoadOptions, type LoadResult, runLoad } from "./grpc-load.js";
import { serveAsLoadWorker } from "./load-workers.js";

serveAsLoadWorker<LoadOptions, LoadResult>("grpc-load-worker", (options, onReady) =>
  runLoad(options, { onReady }),
);
