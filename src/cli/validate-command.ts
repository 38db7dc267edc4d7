/** `trellis validate FILE...`: runs validation files against a fresh in-process engine. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { SchemaError } from "../core/errors.js";
import { Engine } from "../engine/engine.js";
import { parseValidationFile, runValidationFile } from "../engine/validation-file.js";
import { openDatastore } from "../store/open.js";
import type { Output } from "./schema-command.js";

export async function validateFiles(files: readonly string[], io: Output): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-validate-"));
  const store = await openDatastore(`sqlite:${join(dir, "validate.db")}`);
  const engine = new Engine(store, { zookieSecret: randomBytes(32) });
  let ok = true;
  try {
    for (const [i, file] of files.entries()) {
      const tenant = `file${i}`;
      try {
        const parsed = parseValidationFile(readFileSync(file, "utf8"), file);
        await store.createTenant(tenant);
        const report = await runValidationFile(engine, tenant, parsed);
        for (const f of report.failures) io.err(`${file}:${f.line}: ${f.message}\n`);
        if (report.failures.length === 0) io.out(`${file}: ${report.checked} checks passed\n`);
        ok &&= report.failures.length === 0;
      } catch (err) {
        ok = false;
        if (err instanceof SchemaError) {
          for (const d of err.diagnostics) {
            io.err(`${file}: schema ${d.position.line}:${d.position.column}: ${d.message}\n`);
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
      "run validation files (SpiceDB format: schema, relationships, assertions, validation); exit 1 on any failure",
    )
    .argument("<files...>", "validation files (.yaml)")
    .action(async (files: string[]) => {
      process.exitCode = (await validateFiles(files, io)) ? 0 : 1;
    });
}
