/**
 * Running `trellis` in-process, the way the executable runs it (`runCli`), with captured
 * output, its own environment variables, stdin and configuration directory; and a real server
 * (insecure-dev or authenticated, on a loopback port) over a real store of either engine for
 * its remote commands to talk to.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type RunningServer, startServer } from "../../src/api/server.js";
import type { CliEnvironment } from "../../src/cli/cli-environment.js";
import { runCli } from "../../src/cli/program.js";
import { parseRelationship } from "../../src/core/relationship.js";
import { Engine } from "../../src/engine/engine.js";
import type { Datastore } from "../../src/store/datastore.js";
import { openTestStore, type StoreKind } from "./test-stores.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as one JSON document. */
  json<T = Record<string, unknown>>(): T;
  /** stdout as JSON lines. */
  lines<T = Record<string, unknown>>(): T[];
}

export interface CliRunOptions {
  /** Environment variables; none of the test process's leak in. */
  readonly env?: NodeJS.ProcessEnv;
  /** Piped stdin; absent: stdin is a terminal. */
  readonly stdin?: string;
  /** Answers a confirmation; absent: there is no terminal to ask. */
  readonly confirm?: (question: string) => Promise<boolean>;
  readonly configDir?: string;
  readonly cwd?: string;
}

export async function trellis(
  args: readonly string[],
  options: CliRunOptions = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const stdin = options.stdin;
  const environment: CliEnvironment = {
    io: {
      out: (t) => {
        stdout += t;
      },
      err: (t) => {
        stderr += t;
      },
    },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stdinLines:
      stdin === undefined
        ? undefined
        : async function* () {
            const lines = stdin.split("\n");
            if (lines[lines.length - 1] === "") lines.pop();
            yield* lines;
          },
    stderrIsTTY: false,
    stderrColumns: 80,
    confirm: options.confirm,
    configDir: options.configDir ?? join(tmpdir(), "trellis-cli-no-config"),
  };
  const code = await runCli(args, environment);
  return {
    code,
    stdout,
    stderr,
    json: <T>() => {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}): ${stdout}\nstderr: ${stderr}`);
      }
    },
    lines: <T>() =>
      stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as T),
  };
}

export interface CliServer {
  readonly address: string;
  readonly engine: Engine;
  readonly store: Datastore;
  /** Runs `trellis` with `--endpoint` pointing here (and `--token` when given). */
  run(args: readonly string[], options?: CliRunOptions & { token?: string }): Promise<CliResult>;
  close(): Promise<void>;
}

export interface CliServerOptions {
  readonly schema?: string;
  readonly tuples?: readonly string[];
  /** Serve with API-key authentication instead of insecure-dev. */
  readonly authenticated?: boolean;
}

/** A real server over a fresh store of `kind`, tenant `default`. */
export async function startCliServer(
  kind: StoreKind,
  options: CliServerOptions = {},
): Promise<CliServer> {
  const test = await openTestStore(kind);
  const engine = new Engine(test.store, { zookieSecret: "cli-test-zookie-secret-0123456789" });
  await test.store.createTenant("default");
  if (options.schema !== undefined) await engine.writeSchema("default", options.schema);
  if (options.tuples !== undefined && options.tuples.length > 0) {
    await engine.writeRelationships(
      "default",
      options.tuples.map((t) => ({ op: "TOUCH" as const, relationship: parseRelationship(t) })),
    );
  }
  let server: RunningServer;
  try {
    server = await startServer({
      engine,
      listen: "127.0.0.1:0",
      insecureDev: options.authenticated !== true,
      defaultTenant: "default",
      logger: pino({ level: "silent" }),
    });
  } catch (err) {
    await engine.close();
    await test.close();
    throw err;
  }
  return {
    address: server.address,
    engine,
    store: test.store,
    run: (args, runOptions = {}) =>
      trellis(
        [
          "--endpoint",
          server.address,
          ...(runOptions.token !== undefined ? ["--token", runOptions.token] : []),
          ...args,
        ],
        runOptions,
      ),
    close: async () => {
      await server.close({ graceMs: 500 });
      await engine.close();
      await test.close();
    },
  };
}

/** A fresh temporary directory and its removal. */
export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A schema with a caveat, expiration, a wildcard, an arrow and an exclusion. */
export const CLI_SCHEMA = `use expiration

caveat on_day(day string, allowed string) { day == allowed }

definition user {}

definition group {
	relation member: user | group#member
}

definition folder {
	relation parent: folder
	relation viewer: user | group#member
	permission view = viewer + parent->view
}

definition document {
	relation folder: folder
	relation owner: user
	relation viewer: user | user:* | group#member | user with on_day | user with expiration
	relation banned: user
	permission edit = owner
	permission view = (viewer + edit + folder->view) - banned
}
`;
