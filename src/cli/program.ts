/** The `trellis` command line: builds the commander program with every subcommand. */
import { Command, CommanderError, Option } from "commander";
import { registerBackupCommands } from "./backup-command.js";
import { registerBenchCommand } from "./bench-command.js";
import { type CliEnvironment, processEnvironment } from "./cli-environment.js";
import { registerContextCommands } from "./context-command.js";
import { EXIT, reportFailure } from "./exit-codes.js";
import { registerImportCommand } from "./import-command.js";
import { registerInitCommand } from "./init-command.js";
import { registerKeysCommands } from "./keys-command.js";
import { registerPermissionCommands } from "./permission-command.js";
import { registerRelationshipCommands } from "./relationship-command.js";
import { type Output, registerSchemaCommands } from "./schema-command.js";
import { registerRemoteSchemaCommands } from "./schema-remote-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerServeTestingCommand } from "./serve-testing-command.js";
import { registerValidateCommand } from "./validate-command.js";

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const EXIT_CODES_HELP = `
Remote commands (schema read|write|diff|apply, relationship, permission, import, backup, and
keys/tenants with --endpoint) reach --endpoint, else TRELLIS_ENDPOINT, else the current
context (trellis context), else 127.0.0.1:50051. TRELLIS_TOKEN stands for --token.

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
  registerRemoteSchemaCommands(program, environment);
  registerRelationshipCommands(program, environment);
  registerPermissionCommands(program, environment);
  registerImportCommand(program, environment);
  registerBackupCommands(program, environment);
  registerContextCommands(program, environment);
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
