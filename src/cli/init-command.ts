/**
 * `trellis init --preset NAME`: writes a preset schema and its validation file into a folder,
 * to start a schema from (edit both, then `trellis validate NAME.yaml` in CI).
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { EXIT } from "./exit-codes.js";
import type { Output } from "./schema-command.js";
import { PRESET_DIR, PRESETS } from "./serve-command.js";

export function registerInitCommand(program: Command, io: Output): void {
  program
    .command("init")
    .description("write a preset schema (NAME.zed) and its validation file (NAME.yaml)")
    .requiredOption("--preset <name>", `one of ${PRESETS.join(", ")}`)
    .option("--dir <folder>", "where to write them", ".")
    .option("--force", "overwrite existing files")
    .action((flags: { preset: string; dir: string; force?: boolean }) => {
      if (!(PRESETS as readonly string[]).includes(flags.preset)) {
        io.err(
          `trellis init: --preset must be one of ${PRESETS.join(", ")}, got "${flags.preset}"\n`,
        );
        process.exitCode = EXIT.USAGE;
        return;
      }
      const files = [`${flags.preset}.zed`, `${flags.preset}.yaml`];
      const existing = files.filter((f) => existsSync(join(flags.dir, f)));
      if (existing.length > 0 && flags.force !== true) {
        io.err(
          `trellis init: ${existing.join(", ")} exist already in ${flags.dir}; --force overwrites\n`,
        );
        process.exitCode = EXIT.FAILED;
        return;
      }
      mkdirSync(flags.dir, { recursive: true });
      for (const file of files) copyFileSync(join(PRESET_DIR, file), join(flags.dir, file));
      io.out(
        `wrote ${files.map((f) => join(flags.dir, f)).join(" and ")}; check them with: trellis validate ${join(flags.dir, files[1]!)}\n`,
      );
    });
}
