/** The `trellis` command line: builds the commander program with every subcommand. */
import { Command, CommanderError, Option } from "commander";
import { registerBenchCommand } from "./bench-command.js";
import { type CliEnvironment, processEnvironment } from "./cli-environment.js";
import { EXIT, reportFailure } from "./exit-codes.js";
import { registerInitCommand } from "./init-command.js";
import { registerKeysCommands } from "./keys-command.js";
import { type Output, registerSchemaCommands } from "./schema-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerServeTestingCommand } from "./serve-testing-command.js";
import { registerValidateCommand } from "./validate-command.js";

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const EXIT_CODES_HELP = `
keys and tenants reach a server's AdminService with --endpoint (or TRELLIS_ENDPOINT);
TRELLIS_TOKEN stands for --token.

Exit codes:
  0  done (a check answered, whatever the answer)
  1  a negative outcome asked to fail: validation or format check failed,
     permission check --error-on-no-permission without permission
  2  usage: unknown command or flag, bad argument, unreadable input file
  3  the server or datastore refused or failed the operation, or no datastore there
  4  the server or datastore could not be reached in time
  5  the credentials were refused or lack the scope
`;

export function buildProgram(
  io: Output = processOutput,
  environment: CliEnvironment = processEnvironment(io),
): Command {
  const program = new Command("trellis")
    .description(
      "Trellis: relationship-based authorization (Zanzibar-style, SpiceDB schema language)",
    )
    .version("0.1.0")
    .showHelpAfterError()
    .addOption(new Option("--endpoint <host:port>", "the server of remote commands"))
    .addOption(new Option("--token <token>", "API key or JWT sent to it (or TRELLIS_TOKEN)"))
    .addOption(new Option("--insecure", "plaintext even to a non-loopback endpoint"))
    .addOption(new Option("--certificate-path <file>", "PEM certificate authority to trust (TLS)"))
    .addOption(new Option("--json", "output as JSON: one object, or one per line for listings"))
    .addHelpText("after", EXIT_CODES_HELP);
  registerSchemaCommands(program, io);
  registerValidateCommand(program, io);
  registerServeCommand(program, io);
  registerServeTestingCommand(program, io);
  registerKeysCommands(program, environment);
  registerInitCommand(program, io);
  registerBenchCommand(program, io);
  // Every command, however it was added: errors come back to runCli, output goes to io.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}

/**
 * Runs the command line `argv` (without the node and script paths) and returns its exit code
 * (see EXIT in exit-codes.ts). Commander's own errors (an unknown flag, a missing argument)
 * are usage errors, 2; help and version are 0.
 */
export async function runCli(
  argv: readonly string[],
  environment: CliEnvironment = processEnvironment(processOutput),
): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram(environment.io, environment).parseAsync([...argv], { from: "user" });
    return Number(process.exitCode ?? EXIT.OK);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed its message already.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportFailure(err, environment.io, argv.includes("--json"));
  } finally {
    process.exitCode = before;
  }
}
