/**
 * Validation files on disk: `parseValidationFile` reads `schemaFile:` relative to the
 * validation file, and the files a schema imports relative to the file that imports them
 * (within the folder of the schema file, or of the validation file for an inline schema).
 * Everything else about the format — reading its text, answering it, rewriting its
 * `validation:` block — is `validation-document.ts`, which needs no file system.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { invalidArgument, SchemaError } from "../core/errors.js";
import { composeSchema } from "../schema/composition.js";
import { parseSchema } from "../schema/parser.js";
import { fileSystemSchemaFiles } from "../schema/schema-files.js";
import {
  parseValidationText,
  type ValidationFile,
  type ValidationSchemaFiles,
} from "./validation-document.js";

export * from "./validation-document.js";

/**
 * Reads a validation file; INVALID_ARGUMENT naming the line when it is malformed, a
 * `SchemaError` (its diagnostics naming files) when the schema's imports do not compile.
 * `path` places `schemaFile:` and the schema's imports.
 */
export function parseValidationFile(text: string, path?: string): ValidationFile {
  return parseValidationText(text, fileSystemSchemaSource(path ?? "validation.yaml"));
}

/** The schema files of a validation file at `here`, read from the file system. */
function fileSystemSchemaSource(here: string): ValidationSchemaFiles {
  return {
    composeInline(inline) {
      const composed = composeSchema(here, fileSystemSchemaFiles, inline);
      if (composed.text === undefined) throw new SchemaError(composed.diagnostics);
      return composed.text;
    },
    readSchemaFile(reference) {
      const target = isAbsolute(reference) ? reference : resolve(dirname(here), reference);
      const text = fileSystemSchemaFiles.read(target);
      if (text === undefined) {
        throw invalidArgument(`cannot read schemaFile ${reference} (${target})`);
      }
      if (parseSchema(text).ast.imports.length === 0) return text;
      const composed = composeSchema(target, fileSystemSchemaFiles);
      if (composed.text === undefined) throw new SchemaError(composed.diagnostics);
      return composed.text;
    },
  };
}
