/**
 * A load-generating process forked by `runHttpLoadInWorkers` (bench/http-load.ts), speaking the
 * protocol of bench/load-workers.ts.
 */
import type { LoadResult } from "./grpc-load.js";
import { type HttpLoadOptions, runHttpLoad } from "./http-load.js";
import { serveAsLoadWorker } from "./load-workers.js";

serveAsLoadWorker<HttpLoadOptions, LoadResult>("http-load-worker", (options, onReady) =>
  runHttpLoad(options, { onReady }),
);
