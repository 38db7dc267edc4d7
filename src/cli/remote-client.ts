/**
 * How a command reaches a server: `--endpoint`, `--token`, `--insecure` and
 * `--certificate-path` (global flags), else `TRELLIS_ENDPOINT`, `TRELLIS_TOKEN`,
 * `TRELLIS_INSECURE=1`, else the current `trellis context`, else `127.0.0.1:50051` (what
 * `make serve` starts). A context's token goes only to that context's endpoint. Every remote
 * command talks through the SDK's `TrellisClient`.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { TrellisError } from "../core/errors.js";
import { TrellisClient } from "../sdk/trellis-client.js";
import type { CliEnvironment } from "./cli-environment.js";
import { currentContext } from "./context-config.js";
import { EXIT, type ExitCode, reportFailure } from "./exit-codes.js";
import { UsageError } from "./serve-command.js";

export const DEFAULT_ENDPOINT = "127.0.0.1:50051";

/** The program's global flags, as commander collects them. */
export interface GlobalFlags {
  readonly endpoint?: string;
  readonly token?: string;
  readonly insecure?: boolean;
  readonly certificatePath?: string;
  readonly json?: boolean;
}

export interface Connection {
  readonly endpoint: string;
  readonly token: string | undefined;
  /** `false`: plaintext; an object: TLS; undefined: the client's default (TLS unless loopback). */
  readonly tls: false | { readonly ca?: string } | undefined;
  /** Where the endpoint came from. */
  readonly source: "flag" | "environment" | "context" | "default";
  /** The context's name, when it came from one. */
  readonly context?: string;
}

export function globalFlags(command: Command): GlobalFlags {
  return command.optsWithGlobals<GlobalFlags>();
}

/** True when the endpoint was chosen on purpose for this run (flag or environment). */
export function endpointGiven(flags: GlobalFlags, env: NodeJS.ProcessEnv): boolean {
  return flags.endpoint !== undefined || (env.TRELLIS_ENDPOINT ?? "") !== "";
}

function tlsOf(insecure: boolean, certificatePath: string | undefined): Connection["tls"] {
  if (insecure && certificatePath !== undefined) {
    throw new UsageError("--insecure and --certificate-path exclude each other");
  }
  if (insecure) return false;
  if (certificatePath === undefined) return undefined;
  try {
    return { ca: readFileSync(certificatePath, "utf8") };
  } catch (err) {
    throw new UsageError(
      `--certificate-path ${certificatePath}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

export function resolveConnection(flags: GlobalFlags, environment: CliEnvironment): Connection {
  const { env } = environment;
  const insecureEnv = env.TRELLIS_INSECURE === "1" || env.TRELLIS_INSECURE === "true";
  const explicit = flags.endpoint ?? (env.TRELLIS_ENDPOINT || undefined);
  if (explicit !== undefined) {
    return {
      endpoint: explicit,
      token: flags.token ?? (env.TRELLIS_TOKEN || undefined),
      tls: tlsOf(flags.insecure === true || insecureEnv, flags.certificatePath),
      source: flags.endpoint !== undefined ? "flag" : "environment",
    };
  }
  const current = currentContext(environment.configDir);
  if (current !== undefined) {
    const { context } = current;
    return {
      endpoint: context.endpoint,
      token: flags.token ?? (env.TRELLIS_TOKEN || undefined) ?? context.token,
      tls: tlsOf(
        flags.insecure === true || insecureEnv || context.insecure === true,
        flags.certificatePath ?? context.certificatePath,
      ),
      source: "context",
      context: current.name,
    };
  }
  return {
    endpoint: DEFAULT_ENDPOINT,
    token: flags.token ?? (env.TRELLIS_TOKEN || undefined),
    tls: tlsOf(flags.insecure === true || insecureEnv, flags.certificatePath),
    source: "default",
  };
}

export function openClient(connection: Connection): TrellisClient {
  return new TrellisClient({
    address: connection.endpoint,
    ...(connection.token !== undefined ? { token: connection.token } : {}),
    ...(connection.tls !== undefined ? { tls: connection.tls } : {}),
  });
}

/** What a remote command's body gets. */
export interface RemoteRun {
  readonly client: TrellisClient;
  readonly flags: GlobalFlags;
  readonly json: boolean;
  readonly environment: CliEnvironment;
}

/**
 * A commander action for a command that calls a server: resolves the connection, runs `body`
 * with a client, closes it, and sets the exit code (a failure printed by `reportFailure`).
 * `body` returns its exit code; nothing means 0.
 */
export function remoteAction<A extends unknown[]>(
  environment: CliEnvironment,
  body: (run: RemoteRun, ...args: A) => Promise<ExitCode | undefined>,
): (...args: [...A, Command]) => Promise<void> {
  return async (...args) => {
    const command = args[args.length - 1] as Command;
    const flags = globalFlags(command);
    const json = flags.json === true;
    let client: TrellisClient | undefined;
    let endpoint: string | undefined;
    try {
      const connection = resolveConnection(flags, environment);
      endpoint = connection.endpoint;
      client = openClient(connection);
      const code = await body(
        { client, flags, json, environment },
        ...(args.slice(0, -1) as unknown as A),
      );
      process.exitCode = code ?? EXIT.OK;
    } catch (err) {
      process.exitCode = reportFailure(withEndpoint(err, endpoint), environment.io, json);
    } finally {
      await client?.close();
    }
  };
}

/** An UNAVAILABLE error names the endpoint it could not reach. */
export function withEndpoint(err: unknown, endpoint: string | undefined): unknown {
  if (endpoint === undefined || !(err instanceof TrellisError)) return err;
  if (err.code !== "UNAVAILABLE" && err.code !== "DEADLINE_EXCEEDED") return err;
  return new TrellisError(err.code, `${endpoint}: ${err.message}`, { cause: err });
}

/** The same for a command that needs no server. */
export function localAction<A extends unknown[]>(
  environment: CliEnvironment,
  body: (flags: GlobalFlags, ...args: A) => Promise<ExitCode | undefined> | ExitCode | undefined,
): (...args: [...A, Command]) => Promise<void> {
  return async (...args) => {
    const command = args[args.length - 1] as Command;
    const flags = globalFlags(command);
    try {
      const code = await body(flags, ...(args.slice(0, -1) as unknown as A));
      process.exitCode = code ?? EXIT.OK;
    } catch (err) {
      process.exitCode = reportFailure(err, environment.io, flags.json === true);
    }
  };
}
