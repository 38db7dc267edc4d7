/**
 * What a command may touch of the world it runs in — output, environment variables, standard
 * input, whether stderr is a terminal, where the user's configuration lives — passed in, so
 * that tests run commands in-process with their own.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Output } from "./schema-command.js";

export interface CliEnvironment {
  readonly io: Output;
  readonly env: NodeJS.ProcessEnv;
  /** The working directory relative paths resolve from. */
  readonly cwd: string;
  /** Piped standard input, line by line; undefined when stdin is a terminal. */
  readonly stdinLines: (() => AsyncIterable<string>) | undefined;
  /** Progress bars are drawn on stderr only when it is a terminal. */
  readonly stderrIsTTY: boolean;
  /** The width of that terminal, for progress bars. */
  readonly stderrColumns: number;
  /** Asks a yes/no question on the terminal; undefined when there is no one to ask. */
  readonly confirm: ((question: string) => Promise<boolean>) | undefined;
  /** Where `trellis context` keeps its file; see `configDirectory`. */
  readonly configDir: string;
}

/**
 * `$XDG_CONFIG_HOME/trellis` when XDG_CONFIG_HOME is set to an absolute path (the XDG base
 * directory rule), `~/.config/trellis` otherwise.
 */
export function configDirectory(env: NodeJS.ProcessEnv, home = homedir()): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg?.startsWith("/")) return join(xdg, "trellis");
  return join(home, ".config", "trellis");
}

/** The real process's environment. */
export function processEnvironment(io: Output): CliEnvironment {
  const stdinIsTTY = process.stdin.isTTY === true;
  const stderrIsTTY = process.stderr.isTTY === true;
  return {
    io,
    env: process.env,
    cwd: resolve("."),
    stdinLines: stdinIsTTY
      ? undefined
      : () => createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }),
    stderrIsTTY,
    stderrColumns: process.stderr.columns ?? 80,
    confirm:
      stdinIsTTY && stderrIsTTY
        ? async (question) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              const answer = await new Promise<string>((done) =>
                rl.question(`${question} [y/N] `, done),
              );
              return /^y(es)?$/i.test(answer.trim());
            } finally {
              rl.close();
            }
          }
        : undefined,
    configDir: configDirectory(process.env),
  };
}
