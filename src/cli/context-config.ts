/**
 * The contexts of `trellis context`: named endpoints with their token, and which one is
 * current, in `contexts.json` of the user's configuration directory. The file holds tokens, so
 * it is written with mode 0600 (its directory 0700), replaced atomically, and a file others
 * can read is reported rather than used silently.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TrellisError } from "../core/errors.js";

export interface CliContext {
  /** `host:port` of the server. */
  readonly endpoint: string;
  /** Sent as `authorization: Bearer <token>`; absent for a server without authentication. */
  readonly token?: string;
  /** Plaintext even to a non-loopback endpoint (`--insecure` when it was set). */
  readonly insecure?: boolean;
  /** A PEM file of the certificate authority to trust (`--certificate-path`). */
  readonly certificatePath?: string;
}

export interface ContextConfig {
  readonly current?: string;
  readonly contexts: Readonly<Record<string, CliContext>>;
}

export const CONTEXT_FILE = "contexts.json";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkContextName(name: string): string {
  if (!NAME.test(name)) {
    throw new TypeError(
      `invalid context name ${JSON.stringify(name)}: letters, digits, '.', '_' and '-', 1-64 characters`,
    );
  }
  return name;
}

/** The configuration, empty when there is no file yet. */
export function readContextConfig(dir: string): ContextConfig {
  const path = join(dir, CONTEXT_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { contexts: {} };
    throw err;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `${path} holds tokens but others may read it (mode ${mode.toString(8)}); run: chmod 600 ${path}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TrellisError("FAILED_PRECONDITION", `${path} is not valid JSON`);
  }
  const config = parsed as Partial<ContextConfig> | null;
  if (config === null || typeof config !== "object" || typeof config.contexts !== "object") {
    throw new TrellisError("FAILED_PRECONDITION", `${path} has no "contexts" object`);
  }
  return {
    contexts: config.contexts ?? {},
    ...(config.current ? { current: config.current } : {}),
  };
}

/** Replaces the file (mode 0600, written beside it then renamed over it). */
export function writeContextConfig(dir: string, config: ContextConfig): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, CONTEXT_FILE);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The mode of a new file is masked by the umask; make sure of it.
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** The current context with its name, if one is set and still exists. */
export function currentContext(dir: string): { name: string; context: CliContext } | undefined {
  const config = readContextConfig(dir);
  if (config.current === undefined) return undefined;
  const context = config.contexts[config.current];
  return context === undefined ? undefined : { name: config.current, context };
}
