/** The `trellis` command line: builds the commander program with every subcommand. */
import { Command } from "commander";
import { registerBenchCommand } from "./bench-command.js";
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

export function buildProgram(io: Output = processOutput): Command {
  const program = new Command("trellis")
    .description(
      "Trellis: relationship-based authorization (Zanzibar-style, SpiceDB schema language)",
    )
    .version("0.1.0")
    .showHelpAfterError();
  registerSchemaCommands(program, io);
  registerValidateCommand(program, io);
  registerServeCommand(program, io);
  registerServeTestingCommand(program, io);
  registerKeysCommands(program, io);
  registerInitCommand(program, io);
  registerBenchCommand(program, io);
  return program;
}
