/**
 * `trellis schema read|write|diff|apply`: the schema commands that involve a server, added to
 * the `schema` command beside validate, format and compile. Files are composed where they are
 * (`use import`), so a server only ever receives the compiled text. `diff` and `apply` say what
 * a change adds, removes and changes, and how many stored relationships each removal would
 * orphan; `apply` writes only what orphans nothing, after `--yes` or a confirmation.
 */
import type { Command } from "commander";
import { SchemaError, TrellisError } from "../core/errors.js";
import { orphanFilters } from "../engine/schema-change.js";
import { compileSchemaText } from "../schema/compiler.js";
import { diffSchemas, type SchemaDifferenceKind } from "../schema/schema-diff.js";
import { composeSchemaFile } from "../schema/schema-files.js";
import type { CompiledSchema } from "../schema/types.js";
import type { TrellisClient } from "../sdk/trellis-client.js";
import type { CliEnvironment } from "./cli-environment.js";
import { EXIT } from "./exit-codes.js";
import { endpointGiven, globalFlags, localAction, remoteAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

const REMOTE_HELP =
  "\nGlobal flags: --endpoint, --token, --insecure, --certificate-path, --json (see trellis --help).\n";

/** A schema file with its imports, compiled; a SchemaError listing every problem otherwise. */
export function loadSchemaFile(path: string): { text: string; schema: CompiledSchema } {
  const composed = composeSchemaFile(path);
  if (composed.text === undefined || composed.schema === undefined) {
    if (composed.diagnostics.length === 0) throw new UsageError(`${path}: cannot read it`);
    throw new SchemaError(composed.diagnostics);
  }
  return { text: composed.text, schema: composed.schema };
}

/** The server's schema, compiled; undefined when it has none yet. */
async function serverSchema(
  client: TrellisClient,
): Promise<{ text: string; schema: CompiledSchema } | undefined> {
  try {
    const { schema } = await client.readSchema({ consistency: "fully_consistent" });
    return { text: schema, schema: compileSchemaText(schema) };
  } catch (err) {
    if (err instanceof TrellisError && err.code === "NOT_FOUND") return undefined;
    throw err;
  }
}

export interface SchemaChange {
  readonly kind: SchemaDifferenceKind;
  /** `document`, `document#viewer` or a caveat name. */
  readonly target: string;
  readonly description: string;
  /** Stored relationships the change would leave without a meaning; absent: not counted. */
  readonly orphans?: number;
}

export interface SchemaChanges {
  readonly changes: readonly SchemaChange[];
  /** Relationships the whole change would orphan; undefined when not counted (no server). */
  readonly orphans: number | undefined;
}

/**
 * The differences from `before` to `after`; with a client, each removal carries how many of
 * the server's relationships it would orphan (read fully consistent, so exact at that moment).
 */
export async function schemaChanges(
  before: CompiledSchema | undefined,
  after: CompiledSchema,
  client?: TrellisClient,
): Promise<SchemaChanges> {
  const diffs = diffSchemas(before, after);
  if (client === undefined) return { changes: diffs, orphans: undefined };
  if (before === undefined) return { changes: diffs, orphans: 0 };
  const counts = new Map<string, number>();
  for (const filter of orphanFilters(before, after)) {
    const target =
      filter.relation === undefined
        ? filter.resourceType
        : `${filter.resourceType}#${filter.relation}`;
    let n = 0;
    for await (const _ of client.readRelationships(filter, {
      consistency: "fully_consistent",
      deadlineMs: Number.POSITIVE_INFINITY,
    })) {
      n++;
    }
    counts.set(target, (counts.get(target) ?? 0) + n);
  }
  const changes = diffs.map((d) => {
    const removal =
      d.kind === "DEFINITION_REMOVED" || d.kind === "MEMBER_REMOVED" || d.kind === "MEMBER_CHANGED";
    return removal && counts.has(d.target) ? { ...d, orphans: counts.get(d.target)! } : d;
  });
  return { changes, orphans: [...counts.values()].reduce((a, b) => a + b, 0) };
}

const SYMBOL: Readonly<Record<SchemaDifferenceKind, string>> = {
  DEFINITION_ADDED: "+",
  DEFINITION_REMOVED: "-",
  MEMBER_ADDED: "+",
  MEMBER_REMOVED: "-",
  MEMBER_CHANGED: "~",
  CAVEAT_ADDED: "+",
  CAVEAT_REMOVED: "-",
  CAVEAT_CHANGED: "~",
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** One line a change, then a summary. */
export function renderChanges({ changes, orphans: total }: SchemaChanges): string {
  if (changes.length === 0) return "no changes\n";
  const lines = changes.map((c) => {
    const orphans =
      c.orphans === undefined || c.orphans === 0
        ? ""
        : `  (would orphan ${plural(c.orphans, "relationship")})`;
    return `${SYMBOL[c.kind]} ${c.target}  ${c.description}${orphans}`;
  });
  const summary =
    total === undefined
      ? plural(changes.length, "change")
      : `${plural(changes.length, "change")}; ${total === 0 ? "nothing orphaned" : `${plural(total, "relationship")} would be orphaned`}`;
  return `${lines.join("\n")}\n${summary}\n`;
}

function changesJson(diff: SchemaChanges, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ changes: diff.changes, orphans: diff.orphans ?? null, ...extra })}\n`;
}

async function readStdin(environment: CliEnvironment): Promise<string | undefined> {
  if (environment.stdinLines === undefined) return undefined;
  const lines: string[] = [];
  for await (const line of environment.stdinLines()) lines.push(line);
  return `${lines.join("\n")}\n`;
}

export function registerRemoteSchemaCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const schema = program.commands.find((c) => c.name() === "schema");
  if (schema === undefined) throw new Error("the schema command is registered first");
  schema.description(
    "check, format and compile schemas; read, write, diff and apply them on a server",
  );

  schema
    .command("read")
    .description("print the server's schema")
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(environment, async ({ client, json }) => {
        const { schema: text, zookie } = await client.readSchema({
          consistency: "fully_consistent",
        });
        io.out(
          json
            ? `${JSON.stringify({ schema: text, zookie })}\n`
            : text.endsWith("\n")
              ? text
              : `${text}\n`,
        );
        return undefined;
      }),
    );

  schema
    .command("write")
    .description(
      "write a schema file (with what it imports) to the server, or the schema on stdin; prints the zookie",
    )
    .argument("[file]", "the root schema file (.zed); stdin when absent")
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(environment, async ({ client, json }, file: string | undefined) => {
        let text: string;
        if (file !== undefined) {
          text = loadSchemaFile(file).text;
        } else {
          const piped = await readStdin(environment);
          if (piped === undefined) throw new UsageError("give a schema file, or pipe one on stdin");
          text = piped;
        }
        const { zookie } = await client.writeSchema(text);
        io.out(json ? `${JSON.stringify({ zookie })}\n` : `${zookie}\n`);
        return undefined;
      }),
    );

  schema
    .command("diff")
    .description(
      "what changes from OLD to NEW (two files), or from the server's schema to NEW (one file), with the relationships each removal would orphan (counted on the server)",
    )
    .argument("<old-or-new>", "OLD schema file, or NEW when it is the only one")
    .argument("[new]", "NEW schema file")
    .addHelpText(
      "after",
      `
With one file the server's schema is OLD. With two, relationships are counted only when a
server is named (--endpoint or TRELLIS_ENDPOINT).
${REMOTE_HELP}`,
    )
    .action(
      async (first: string, second: string | undefined, _flags: unknown, command: Command) => {
        const flags = globalFlags(command);
        const against = second === undefined || endpointGiven(flags, environment.env);
        const run = async (client: TrellisClient | undefined) => {
          const after = loadSchemaFile(second ?? first).schema;
          const before =
            second !== undefined
              ? loadSchemaFile(first).schema
              : (await serverSchema(client!))?.schema;
          const changes = await schemaChanges(before, after, client);
          io.out(flags.json === true ? changesJson(changes) : renderChanges(changes));
          return EXIT.OK;
        };
        if (against) {
          await remoteAction(environment, async ({ client }) => run(client))(command);
        } else {
          await localAction(environment, () => run(undefined))(command);
        }
      },
    );

  schema
    .command("apply")
    .description(
      "write a schema file to the server after showing what changes; refused while a removal would orphan relationships",
    )
    .argument("<file>", "the root schema file (.zed)")
    .option("--dry-run", "show the changes; write nothing")
    .option("--yes", "write without asking")
    .addHelpText(
      "after",
      `
Without --yes it asks on a terminal, and refuses (exit 2) where there is no one to ask.
Relationships a removal would orphan must move first (trellis relationship migrate) or go
(trellis relationship bulk-delete).
${REMOTE_HELP}`,
    )
    .action(
      remoteAction(
        environment,
        async ({ client, json }, file: string, flags: { dryRun?: boolean; yes?: boolean }) => {
          if (flags.dryRun === true && flags.yes === true) {
            throw new UsageError("--dry-run and --yes exclude each other");
          }
          const next = loadSchemaFile(file);
          const current = await serverSchema(client);
          const changes = await schemaChanges(current?.schema, next.schema, client);
          const orphans = changes.orphans ?? 0;
          const say = (extra: Record<string, unknown>, text: string) =>
            io.out(json ? changesJson(changes, extra) : `${renderChanges(changes)}${text}`);
          if (current !== undefined && changes.changes.length === 0) {
            say({ applied: false }, "the server's schema is already this one; nothing written\n");
            return EXIT.OK;
          }
          if (orphans > 0) {
            if (json) say({ applied: false }, "");
            else io.out(renderChanges(changes));
            throw new TrellisError(
              "FAILED_PRECONDITION",
              `${plural(orphans, "relationship")} would be orphaned: move them first (trellis relationship migrate) or delete them (trellis relationship bulk-delete)`,
            );
          }
          if (flags.dryRun === true) {
            say({ applied: false, dryRun: true }, "dry run: nothing written\n");
            return EXIT.OK;
          }
          if (flags.yes !== true) {
            if (!json) io.out(renderChanges(changes));
            if (environment.confirm === undefined) {
              throw new UsageError("not a terminal: pass --yes to apply, or --dry-run");
            }
            if (!(await environment.confirm("apply these changes?"))) {
              io.err("not applied\n");
              return EXIT.NEGATIVE;
            }
            const { zookie } = await client.writeSchema(next.text);
            io.out(json ? changesJson(changes, { applied: true, zookie }) : `applied\n${zookie}\n`);
            return EXIT.OK;
          }
          const { zookie } = await client.writeSchema(next.text);
          say({ applied: true, zookie }, `applied\n${zookie}\n`);
          return EXIT.OK;
        },
      ),
    );
}
