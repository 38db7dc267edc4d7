/**
 * `trellis serve-testing`: a throwaway server for integration tests, as `spicedb serve-testing`
 * is. Both faces (trellis.v1 and SpiceDB's authzed.api.v1) on `localhost:50051`, an in-memory
 * SQLite store, and no credentials: every distinct bearer token is its own empty tenant, so
 * tests that each pick a token run in parallel without clearing anything. Loopback addresses
 * only; everything is gone when it stops.
 */
import { randomBytes } from "node:crypto";
import { Command, Option } from "commander";
import pino, { type Logger } from "pino";
import { startServer } from "../api/server.js";
import { Engine } from "../engine/engine.js";
import type { Datastore } from "../store/datastore.js";
import { openDatastore } from "../store/open.js";
import type { Output } from "./schema-command.js";

export const SERVE_TESTING_DEFAULT_LISTEN = "localhost:50051";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface ServeTestingFlags {
  readonly listen?: string;
  readonly logLevel?: string;
}

/** What the banner says: where it serves and that nothing is real about it. */
export function testingBanner(address: string): string {
  return [
    "",
    `Trellis testing server on ${address} (trellis.v1 and SpiceDB's authzed.api.v1).`,
    "",
    "For tests only: no credentials are checked and nothing is kept. Every distinct bearer token",
    "(a SpiceDB client's preshared key) gets its own empty in-memory tenant, created on first",
    "use; calls without a token share one default tenant.",
    "",
    '  import { v1 } from "@authzed/authzed-node";',
    `  const client = v1.NewClient("any-token-per-test", "${address}", v1.ClientSecurity.INSECURE_LOCALHOST_ALLOWED);`,
    "",
    "Stop with Ctrl-C (SIGINT) or SIGTERM.",
    "",
  ].join("\n");
}

/**
 * Serves until `stop` aborts; returns the exit code: 2 for a bad flag, 1 when the server cannot
 * start (the port is taken, say), 0 after a clean stop.
 */
export async function runServeTesting(
  flags: ServeTestingFlags,
  io: Output,
  stop: AbortSignal,
  logger?: Logger,
): Promise<number> {
  const listen = flags.listen ?? SERVE_TESTING_DEFAULT_LISTEN;
  const level = flags.logLevel ?? "warn";
  if (!LOG_LEVELS.includes(level)) {
    io.err(`trellis serve-testing: --log-level must be one of ${LOG_LEVELS.join(", ")}\n`);
    return 2;
  }
  const log = logger ?? pino({ level }, pino.destination({ dest: 2, sync: false }));
  let store: Datastore | undefined;
  let engine: Engine | undefined;
  try {
    store = await openDatastore("memory:");
    engine = new Engine(store, { zookieSecret: randomBytes(32), gc: false });
    const server = await startServer({
      engine,
      listen,
      insecureDev: true,
      perTokenTenants: true,
      defaultTenant: "default",
      logger: log,
    });
    io.out(testingBanner(server.address));
    if (!stop.aborted) {
      await new Promise<void>((resolve) =>
        stop.addEventListener("abort", () => resolve(), { once: true }),
      );
    }
    await server.close({ graceMs: 1000 });
    return 0;
  } catch (err) {
    io.err(`trellis serve-testing: cannot serve on ${listen}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await engine?.close();
    await store?.close();
    log.flush();
  }
}

export function registerServeTestingCommand(program: Command, io: Output): void {
  const command = new Command("serve-testing")
    .description(
      "run a throwaway server for integration tests (like `spicedb serve-testing`): trellis.v1 and SpiceDB's authzed.api.v1 in memory, no credentials checked, every distinct bearer token its own empty tenant",
    )
    .addOption(
      new Option(
        "--listen <host:port>",
        `gRPC listen address, loopback only (default: ${SERVE_TESTING_DEFAULT_LISTEN})`,
      ),
    )
    .addOption(new Option("--log-level <level>", "request log level (default: warn)"));
  command.action(async (flags: ServeTestingFlags) => {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    try {
      process.exitCode = await runServeTesting(flags, io, controller.signal);
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  });
  program.addCommand(command);
}
