/**
 * grpc-js writes its own diagnostics to `console.error` by default, and some of them quote
 * what a peer sent: a metadata entry it cannot parse (a token pasted with a non-breaking
 * space, a tab, a stray non-ASCII byte) is logged with its whole value, and with
 * `GRPC_TRACE`/`GRPC_VERBOSITY=DEBUG` the metadata of every call. Its logger is one per process,
 * so while a server runs, grpc-js logs go through that server's pino logger (the most recently
 * started one when there are several), at the matching level with `component: "grpc"`, after
 * `redactCredentials`. When the last server closes, grpc-js gets its previous logger back.
 * Which grpc-js messages are written at all is still grpc-js's verbosity (`GRPC_VERBOSITY`,
 * default ERROR).
 */
import { setLogger } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { redactCredentials } from "../auth/index.js";

type GrpcLogger = Partial<Console>;

const routes: Logger[] = [];
let previous: GrpcLogger | undefined;

function line(args: readonly unknown[]): string {
  return redactCredentials(args.map((a) => (typeof a === "string" ? a : String(a))).join(" "));
}

/** What grpc-js calls: its ERROR, INFO and DEBUG messages, to the current route. */
const redacting: GrpcLogger = {
  error: (...args: unknown[]) => routes.at(-1)?.child({ component: "grpc" }).error(line(args)),
  info: (...args: unknown[]) => routes.at(-1)?.child({ component: "grpc" }).info(line(args)),
  debug: (...args: unknown[]) => routes.at(-1)?.child({ component: "grpc" }).debug(line(args)),
};

/**
 * Sends grpc-js's log through `logger`, redacted, until the returned function is called.
 * `current` is what grpc-js logs to now (its default is `console`); it is restored when the last
 * route ends.
 */
export function routeGrpcLogs(logger: Logger, current: GrpcLogger = console): () => void {
  if (routes.length === 0) {
    previous = current;
    setLogger(redacting);
  }
  routes.push(logger);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    routes.splice(routes.lastIndexOf(logger), 1);
    if (routes.length === 0) setLogger(previous ?? console);
  };
}
