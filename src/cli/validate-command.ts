/**
 * `trellis validate FILE...`: runs validation files against a fresh in-process engine; with
 * `--update`, rewrites each file's `validation:` block from the current answers first.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { SchemaError } from "../core/errors.js";
import { Engine } from "../engine/engine.js";
import {
  parseValidationFile,
  runValidationFile,
  updateValidationBlock,
} from "../engine/validation-file.js";
import { openDatastore } from "../store/open.js";
import type { Output } from "./schema-command.js";

export interface ValidateOptions {
  /** Rewrite each file's `validation:` block from the current answers (zed's playground export). */
  readonly update?: boolean;
}

export async function validateFiles(
  files: readonly string[],
  io: Output,
  options: ValidateOptions = {},
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-validate-"));
  const store = await openDatastore(`sqlite:${join(dir, "validate.db")}`);
  const engine = new Engine(store, { zookieSecret: randomBytes(32) });
  let ok = true;
  try {
    for (const [i, file] of files.entries()) {
      const tenant = `file${i}`;
      try {
        const text = readFileSync(file, "utf8");
        const parsed = parseValidationFile(text, file);
        await store.createTenant(tenant);
        let report = await runValidationFile(engine, tenant, parsed);
        if (options.update) {
          const updated = updateValidationBlock(text, parsed, report.found);
          if (parsed.validationBlock === undefined) {
            io.err(`${file}: no validation: block to update\n`);
          } else if (updated !== text) {
            writeFileSync(file, updated);
            io.out(`${file}: validation: block updated\n`);
          }
          // What is left to report is the assertions: the block now says what is.
          report = {
            ...report,
            failures: report.failures.filter((f) => f.of === "assertion"),
          };
        }
        for (const f of report.failures) io.err(`${file}:${f.line}: ${f.message}\n`);
        if (report.failures.length === 0) io.out(`${file}: ${report.checked} checks passed\n`);
        ok &&= report.failures.length === 0;
      } catch (err) {
        ok = false;
        if (err instanceof SchemaError) {
          for (const d of err.diagnostics) {
            const where = d.file === undefined ? `${file}: schema ` : `${d.file}:`;
            io.err(`${where}${d.position.line}:${d.position.column}: ${d.message}\n`);
          }
        } else {
          io.err(`${file}: ${(err as Error).message}\n`);
        }
      }
    }
  } finally {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}

export function registerValidateCommand(program: Command, io: Output): void {
  program
    .command("validate")
    .description(
      "run validation files (SpiceDB format: schema or schemaFile, relationships, assertions, validation); exit 1 on any failure",
    )
    .argument("<files...>", "validation files (.yaml)")
    .option(
      "--update",
      "rewrite each file's validation: block from the current answers (the rest of the file is kept byte for byte); then check the assertions",
    )
    .action(async (files: string[], opts: { update?: boolean }) => {
      process.exitCode = (await validateFiles(files, io, { update: opts.update === true })) ? 0 : 1;
    });
}
