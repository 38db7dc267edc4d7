/**
 * Schema files on disk: the file-system source of `composeSchema`, and `compileSchemaFile`, the
 * helper a program uses to turn a root schema file and its imports into the one text a server
 * accepts (`client.writeSchema(compileSchemaFile("schema/root.zed"))`).
 */
import { readFileSync, realpathSync } from "node:fs";
import { SchemaError } from "../core/errors.js";
import { type ComposedSchema, composeSchema, type SchemaFiles } from "./composition.js";

/** Files as the file system has them. */
export const fileSystemSchemaFiles: SchemaFiles = {
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
      throw err;
    }
  },
  realPath(path) {
    try {
      return realpathSync(path);
    } catch {
      return path;
    }
  },
};

/** Reads and compiles a schema file with everything it imports; never throws on a bad schema. */
export function composeSchemaFile(path: string): ComposedSchema {
  return composeSchema(path, fileSystemSchemaFiles);
}

/**
 * The single schema text a root file and its imports compile to (partials spliced, imports
 * resolved), ready for WriteSchema. Throws `SchemaError` whose diagnostics carry file, line and
 * column.
 */
export function compileSchemaFile(path: string): string {
  const composed = composeSchemaFile(path);
  if (composed.text === undefined) throw new SchemaError(composed.diagnostics);
  return composed.text;
}
