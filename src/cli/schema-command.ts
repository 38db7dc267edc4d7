/**
 * `trellis schema validate|format|compile FILE...`: check, print and compile schemas without a
 * server. A file may import others (`use import`): validate and compile read them all, and
 * every error is printed as `FILE:line:col: message` with the file it is in.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { SchemaDiagnostic } from "../core/errors.js";
import type { ComposedSchema } from "../schema/composition.js";
import { formatSchema } from "../schema/formatter.js";
import { parseSchema } from "../schema/parser.js";
import { composeSchemaFile } from "../schema/schema-files.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

function report(diagnostics: readonly SchemaDiagnostic[], file: string, io: Output): void {
  for (const d of diagnostics) {
    io.err(`${d.file ?? file}:${d.position.line}:${d.position.column}: ${d.message}\n`);
  }
}

/** Reads, parses and compiles one file with its imports; prints every problem. */
function check(file: string, io: Output): ComposedSchema | undefined {
  try {
    readFileSync(file, "utf8");
  } catch (err) {
    io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
    return undefined;
  }
  const composed = composeSchemaFile(file);
  report(composed.diagnostics, file, io);
  return composed.diagnostics.length === 0 ? composed : undefined;
}

export function registerSchemaCommands(program: Command, io: Output): void {
  const schema = program.command("schema").description("check, format and compile schemas");

  schema
    .command("validate")
    .description(
      "parse and compile schema files (with what they import); print every error as FILE:line:col: message",
    )
    .argument("<files...>", "schema files (.zed)")
    .action((files: string[]) => {
      let ok = true;
      for (const file of files) {
        const result = check(file, io);
        if (result !== undefined) io.out(`${file}: ok\n`);
        ok &&= result !== undefined;
      }
      process.exitCode = ok ? 0 : 1;
    });

  schema
    .command("format")
    .description("print schema files in canonical form (each file as written: imports stay)")
    .argument("<files...>", "schema files (.zed)")
    .option("-w, --write", "rewrite the files in place instead of printing them")
    .option("--check", "print nothing; exit 1 when a file is not in canonical form")
    .action((files: string[], opts: { write?: boolean; check?: boolean }) => {
      let ok = true;
      for (const file of files) {
        if (check(file, io) === undefined) {
          ok = false;
          continue;
        }
        const text = readFileSync(file, "utf8");
        const formatted = formatSchema(parseSchema(text).ast);
        if (opts.check) {
          if (formatted !== text) {
            io.err(`${file}: not formatted\n`);
            ok = false;
          }
        } else if (opts.write) {
          if (formatted !== text) writeFileSync(file, formatted);
        } else {
          io.out(formatted);
        }
      }
      process.exitCode = ok ? 0 : 1;
    });

  schema
    .command("compile")
    .description(
      "print the single schema a file and its imports compile to (partials spliced), as a server accepts it",
    )
    .argument("<file>", "the root schema file (.zed)")
    .option("-o, --out <file>", "write the compiled schema to this file instead of printing it")
    .action((file: string, opts: { out?: string }) => {
      const composed = check(file, io);
      if (composed?.text === undefined) {
        process.exitCode = 1;
        return;
      }
      if (opts.out !== undefined) writeFileSync(opts.out, composed.text);
      else io.out(composed.text);
      process.exitCode = 0;
    });
}
