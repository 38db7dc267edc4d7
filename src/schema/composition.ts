/**
 * Composable schemas across files (`use import` with `import "relative/path.zed"`), as SpiceDB
 * and zed define them: a root file and every file it imports, directly or not, compiled as one
 * schema. Resolution happens where the files are (the CLI, a program through
 * `compileSchemaFile`); a server only ever receives the single compiled text.
 *
 * - A path is relative to the file that imports it, and may never leave the root file's folder
 *   (after symbolic links are followed); absolute paths are refused.
 * - A file imported along several paths (a diamond) is read once; a file that imports itself,
 *   directly or not, is an error at the import that closes the cycle.
 * - Every definition, caveat and partial of every file joins the schema, imported files' first
 *   (in import order, depth first); two with the same name are an error, wherever they are.
 * - A `use` applies to its own file's syntax (keywords, `partial`, `import`); the features of
 *   the compiled schema are those of all files together.
 * Errors carry the file, line and column. The limits of `schema-limits.ts` apply to the whole:
 * all the files' text together, and at most `MAX_IMPORTED_FILES` files.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { SchemaDiagnostic } from "../core/errors.js";
import { utf8Length } from "../core/utf8-length.js";
import type { SchemaAst, TopLevelNode, UseNode } from "./ast.js";
import { compileSchema } from "./compiler.js";
import { formatSchema } from "./formatter.js";
import { parseSchema } from "./parser.js";
import { MAX_IMPORTED_FILES, MAX_SCHEMA_BYTES } from "./schema-limits.js";
import type { CompiledSchema } from "./types.js";

/** Where schema files come from: the file system, or anything that acts like it in a test. */
export interface SchemaFiles {
  /** The text of the file at an absolute path, or undefined when there is no such file. */
  read(path: string): string | undefined;
  /** The absolute path with symbolic links resolved; the path itself where there are none. */
  realPath(path: string): string;
}

export interface ComposedSchema {
  /** The compiled schema; present when there are no diagnostics. */
  readonly schema?: CompiledSchema;
  /** The single schema text the files compile to (partials spliced, no imports). */
  readonly text?: string;
  /** Every problem, each with its file (as the caller named the root, or relative to it). */
  readonly diagnostics: readonly SchemaDiagnostic[];
  /** The files read, root first, as displayed in diagnostics. */
  readonly files: readonly string[];
}

interface LoadedFile {
  readonly display: string;
  /** Offsets of this file's positions start here (see `ParseOptions.offsetBase`). */
  readonly base: number;
  readonly length: number;
}

/**
 * Reads `rootPath` and everything it imports, and compiles them as one schema. `rootText`,
 * when given, is the root's text (a validation file's inline schema): `rootPath` then only
 * names it and places its imports.
 */
export function composeSchema(
  rootPath: string,
  files: SchemaFiles,
  rootText?: string,
): ComposedSchema {
  return new Composer(rootPath, files).run(rootText);
}

class Composer {
  readonly #rootPath: string;
  readonly #files: SchemaFiles;
  readonly #diagnostics: SchemaDiagnostic[] = [];
  /** Files by real path, in the order they were read. */
  readonly #loaded = new Map<string, LoadedFile>();
  readonly #items: TopLevelNode[] = [];
  readonly #uses = new Map<string, UseNode>();
  #rootFolder = "";
  #offset = 0;
  #bytes = 0;
  #tooLarge = false;

  constructor(rootPath: string, files: SchemaFiles) {
    this.#rootPath = rootPath;
    this.#files = files;
  }

  run(rootText: string | undefined): ComposedSchema {
    const absolute = resolve(this.#rootPath);
    const text = rootText ?? this.#files.read(absolute);
    if (text === undefined) {
      return {
        diagnostics: [
          {
            message: "cannot read the schema file: not found",
            position: { line: 1, column: 1, offset: 0 },
            file: this.#rootPath,
          },
        ],
        files: [],
      };
    }
    const real = rootText === undefined ? this.#files.realPath(absolute) : absolute;
    this.#rootFolder = dirname(real);
    const root = this.#load(real, this.#rootPath, text, []);
    const display = [...this.#loaded.values()].map((f) => f.display);
    if (this.#diagnostics.length > 0 || root === undefined) {
      return { diagnostics: this.#sorted(), files: display };
    }
    const uses = [...this.#uses.values()].filter((u) => u.feature !== "import");
    const merged: SchemaAst = {
      ...root,
      uses,
      imports: [],
      items: this.#items,
    };
    const compiled = compileSchema(merged);
    if (compiled.schema === undefined) {
      this.#diagnostics.push(...compiled.diagnostics.map((d) => this.#locate(d)));
      return { diagnostics: this.#sorted(), files: display };
    }
    return {
      schema: compiled.schema,
      text: formatSchema(compiled.schema.ast),
      diagnostics: [],
      files: display,
    };
  }

  /**
   * Parses one file, then the files it imports (depth first, so their items come first), then
   * adds its own items. `path` holds the real paths of the files importing this one.
   */
  #load(
    real: string,
    display: string,
    text: string,
    path: readonly string[],
  ): SchemaAst | undefined {
    this.#bytes += utf8Length(text);
    if (this.#bytes > MAX_SCHEMA_BYTES && !this.#tooLarge) {
      this.#tooLarge = true;
      this.#diagnostics.push({
        message: `the schema and its imports are over the limit of ${MAX_SCHEMA_BYTES} bytes`,
        position: { line: 1, column: 1, offset: 0 },
        file: display,
      });
    }
    if (this.#tooLarge) return undefined;
    const base = this.#offset;
    this.#offset += text.length + 1;
    this.#loaded.set(real, { display, base, length: text.length });
    const parsed = parseSchema(text, { offsetBase: base });
    for (const d of parsed.diagnostics) this.#diagnostics.push(this.#locate(d));
    for (const use of parsed.ast.uses) {
      if (!this.#uses.has(use.feature)) this.#uses.set(use.feature, use);
    }
    const here = [...path, real];
    for (const imp of parsed.ast.imports) {
      const at = { position: imp.pathSpan.start, file: display };
      if (isAbsolute(imp.path)) {
        this.#error(`import "${imp.path}": use a path relative to the importing file`, at);
        continue;
      }
      const target = resolve(dirname(real), imp.path);
      const targetDisplay = this.#display(target);
      const targetText = this.#inside(target) ? this.#files.read(target) : undefined;
      if (!this.#inside(target)) {
        this.#error(`import "${imp.path}" leaves the folder of the root schema`, at);
        continue;
      }
      if (targetText === undefined) {
        this.#error(`import "${imp.path}": no such file (${targetDisplay})`, at);
        continue;
      }
      const targetReal = this.#files.realPath(target);
      if (!this.#inside(targetReal)) {
        this.#error(`import "${imp.path}" leaves the folder of the root schema (a link)`, at);
        continue;
      }
      if (here.includes(targetReal)) {
        const cycle = [...here.slice(here.indexOf(targetReal)), targetReal].map((p) =>
          this.#display(p),
        );
        this.#error(`import cycle: ${cycle.join(" -> ")}`, at);
        continue;
      }
      if (this.#loaded.has(targetReal)) continue;
      if (this.#loaded.size >= MAX_IMPORTED_FILES) {
        this.#error(`more than ${MAX_IMPORTED_FILES} files imported`, at);
        continue;
      }
      this.#load(targetReal, targetDisplay, targetText, here);
    }
    this.#items.push(...parsed.ast.items);
    return parsed.ast;
  }

  #error(message: string, at: { position: SchemaDiagnostic["position"]; file: string }): void {
    this.#diagnostics.push({ message, position: at.position, file: at.file });
  }

  #inside(path: string): boolean {
    const rel = relative(this.#rootFolder, path);
    return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
  }

  /** A file's name in diagnostics: relative to the root file's folder, as the root was named. */
  #display(path: string): string {
    const rootDisplayFolder = dirname(this.#rootPath);
    const rel = relative(this.#rootFolder, path);
    return rootDisplayFolder === "." ? rel : `${rootDisplayFolder}${sep}${rel}`;
  }

  /**
   * Gives a diagnostic of the merged schema its file, found by its offset, and makes the offset
   * one into that file.
   */
  #locate(d: SchemaDiagnostic): SchemaDiagnostic {
    for (const f of this.#loaded.values()) {
      if (d.position.offset >= f.base && d.position.offset <= f.base + f.length) {
        return {
          ...d,
          position: { ...d.position, offset: d.position.offset - f.base },
          file: f.display,
        };
      }
    }
    return d;
  }

  #sorted(): SchemaDiagnostic[] {
    const order = new Map([...this.#loaded.values()].map((f, i) => [f.display, i]));
    return [...this.#diagnostics].sort(
      (a, b) =>
        (order.get(a.file ?? "") ?? 0) - (order.get(b.file ?? "") ?? 0) ||
        a.position.offset - b.position.offset,
    );
  }
}
