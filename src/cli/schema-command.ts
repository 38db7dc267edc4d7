/** `trellis schema validate|format FILE...`: check and print schemas without a server. */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { SchemaDiagnostic } from "../core/errors.js";
import { compileSchema } from "../schema/compiler.js";
import { formatSchema } from "../schema/formatter.js";
import { parseSchema } from "../schema/parser.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Reads, parses and compiles one file; returns its diagnostics printed as `FILE:line:col: msg`. */
function check(file: string, io: Output): { ok: boolean; text?: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
    return { ok: false };
  }
  const parsed = parseSchema(text);
  const diagnostics: readonly SchemaDiagnostic[] =
    parsed.diagnostics.length > 0 ? parsed.diagnostics : compileSchema(parsed.ast).diagnostics;
  for (const d of diagnostics) {
    io.err(`${file}:${d.position.line}:${d.position.column}: ${d.message}\n`);
  }
  return { ok: diagnostics.length === 0, text };
}

export function registerSchemaCommands(program: Command, io: Output): void {
  const schema = program.command("schema").description("check and format schemas");

  schema
    .command("validate")
    .description("parse and compile schema files; print every error as FILE:line:col: message")
    .argument("<files...>", "schema files (.zed)")
    .action((files: string[]) => {
      let ok = true;
      for (const file of files) {
        const result = check(file, io);
        if (result.ok) io.out(`${file}: ok\n`);
        ok &&= result.ok;
      }
      process.exitCode = ok ? 0 : 1;
    });

  schema
    .command("format")
    .description("print schema files in canonical form")
    .argument("<files...>", "schema files (.zed)")
    .option("-w, --write", "rewrite the files in place instead of printing them")
    .option("--check", "print nothing; exit 1 when a file is not in canonical form")
    .action((files: string[], opts: { write?: boolean; check?: boolean }) => {
      let ok = true;
      for (const file of files) {
        const result = check(file, io);
        if (!result.ok || result.text === undefined) {
          ok = false;
          continue;
        }
        const formatted = formatSchema(parseSchema(result.text).ast);
        if (opts.check) {
          if (formatted !== result.text) {
            io.err(`${file}: not formatted\n`);
            ok = false;
          }
        } else if (opts.write) {
          if (formatted !== result.text) writeFileSync(file, formatted);
        } else {
          io.out(formatted);
        }
      }
      process.exitCode = ok ? 0 : 1;
    });
}
