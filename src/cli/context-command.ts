/**
 * `trellis context set|use|list|remove`, as zed has them: named servers (endpoint, token,
 * `--insecure`, `--certificate-path`) kept in the user's configuration directory, one of them
 * current. Remote commands use the current one unless `--endpoint` or TRELLIS_ENDPOINT says
 * otherwise.
 */
import type { Command } from "commander";
import { TrellisError } from "../core/errors.js";
import type { CliEnvironment } from "./cli-environment.js";
import {
  type CliContext,
  CONTEXT_FILE,
  checkContextName,
  readContextConfig,
  writeContextConfig,
} from "./context-config.js";
import { localAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

function redact(token: string | undefined, reveal: boolean): string {
  if (token === undefined) return "";
  if (reveal) return token;
  // An API key's id is not secret and tells keys apart; nothing of a JWT or a secret is shown.
  const key = /^(trls_[a-z0-9]+)_/.exec(token);
  return key === null ? "<redacted>" : `${key[1]}_<redacted>`;
}

export function registerContextCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const dir = environment.configDir;
  const context = program
    .command("context")
    .description(
      `named servers to call, kept in $XDG_CONFIG_HOME/trellis/${CONTEXT_FILE} or ~/.config/trellis/${CONTEXT_FILE} (mode 0600)`,
    );

  context
    .command("set")
    .description(
      "create or replace a context and make it current; --insecure and --certificate-path are kept with it",
    )
    .argument("<name>", "a name for it")
    .argument("<endpoint>", "host:port of the server")
    .argument("[token]", "API key or JWT (none for a server without authentication)")
    .action(
      localAction(environment, (flags, name: string, endpoint: string, token?: string) => {
        checkContextName(name);
        if (endpoint.trim() === "" || /\s/.test(endpoint)) {
          throw new UsageError(`invalid endpoint ${JSON.stringify(endpoint)}: expected host:port`);
        }
        const entry: CliContext = {
          endpoint,
          ...(token !== undefined && token !== "" ? { token } : {}),
          ...(flags.insecure === true ? { insecure: true } : {}),
          ...(flags.certificatePath !== undefined
            ? { certificatePath: flags.certificatePath }
            : {}),
        };
        const config = readContextConfig(dir);
        writeContextConfig(dir, {
          current: name,
          contexts: { ...config.contexts, [name]: entry },
        });
        io.out(
          flags.json === true
            ? `${JSON.stringify({ name, current: true })}\n`
            : `context ${name} set and current\n`,
        );
        return undefined;
      }),
    );

  context
    .command("use")
    .description("make a context current")
    .argument("<name>", "the context")
    .action(
      localAction(environment, (flags, name: string) => {
        const config = readContextConfig(dir);
        if (config.contexts[name] === undefined) {
          throw new TrellisError("NOT_FOUND", `no context ${name}`);
        }
        writeContextConfig(dir, { ...config, current: name });
        io.out(
          flags.json === true ? `${JSON.stringify({ name, current: true })}\n` : `using ${name}\n`,
        );
        return undefined;
      }),
    );

  context
    .command("list")
    .description("list the contexts; the current one is marked (tokens redacted)")
    .option("--reveal-tokens", "print the tokens")
    .action(
      localAction(environment, (flags, options: { revealTokens?: boolean }) => {
        const config = readContextConfig(dir);
        const reveal = options.revealTokens === true;
        for (const [name, c] of Object.entries(config.contexts).sort(([a], [b]) =>
          a < b ? -1 : 1,
        )) {
          const current = name === config.current;
          if (flags.json === true) {
            io.out(
              `${JSON.stringify({
                name,
                current,
                endpoint: c.endpoint,
                token: c.token === undefined ? null : redact(c.token, reveal),
                insecure: c.insecure === true,
                ...(c.certificatePath !== undefined ? { certificatePath: c.certificatePath } : {}),
              })}\n`,
            );
          } else {
            const extras = [
              c.insecure === true ? "insecure" : "",
              c.certificatePath !== undefined ? `ca=${c.certificatePath}` : "",
            ].filter((x) => x !== "");
            io.out(
              `${current ? "*" : " "} ${name}  ${c.endpoint}  ${redact(c.token, reveal) || "(no token)"}${extras.length > 0 ? `  ${extras.join(" ")}` : ""}\n`,
            );
          }
        }
        return undefined;
      }),
    );

  context
    .command("remove")
    .description("remove a context (the current one too: then none is current)")
    .argument("<name>", "the context")
    .action(
      localAction(environment, (flags, name: string) => {
        const config = readContextConfig(dir);
        if (config.contexts[name] === undefined) {
          throw new TrellisError("NOT_FOUND", `no context ${name}`);
        }
        const { [name]: _removed, ...rest } = config.contexts;
        writeContextConfig(dir, {
          contexts: rest,
          ...(config.current !== undefined && config.current !== name
            ? { current: config.current }
            : {}),
        });
        io.out(
          flags.json === true
            ? `${JSON.stringify({ name, removed: true })}\n`
            : `removed ${name}\n`,
        );
        return undefined;
      }),
    );
}
