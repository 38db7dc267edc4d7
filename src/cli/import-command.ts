/**
 * `trellis import FILE`: loads a validation file (`.yaml`, `.yml`: its schema and
 * relationships, as zed's import does) or a JSON-lines file (relationships, and a schema line
 * such as a backup's) into a server. Relationships are TOUCHed in batches, so importing the same
 * file again is harmless and an interrupted import can simply be run again.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import type { Relationship } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import { parseValidationFile } from "../engine/validation-file.js";
import type { TrellisClient } from "../sdk/trellis-client.js";
import type { CliEnvironment } from "./cli-environment.js";
import { positiveInteger } from "./cli-inputs.js";
import { ProgressBar } from "./progress-bar.js";
import { countLines, fileLines, parseRelationshipLine } from "./relationship-lines.js";
import { remoteAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

/** The most updates one Write may carry on a server with default limits. */
const MAX_UPDATES_PER_WRITE = 1000;

export interface ImportSummary {
  schemaWritten: boolean;
  relationships: number;
  zookie: Zookie | undefined;
}

/** TOUCHes relationships in batches; `onBatch` counts them. */
export class TouchBatches {
  readonly #client: TrellisClient;
  readonly #size: number;
  readonly #onBatch: (n: number) => void;
  #pending: Relationship[] = [];
  written = 0;
  zookie: Zookie | undefined;

  constructor(client: TrellisClient, size: number, onBatch: (n: number) => void) {
    this.#client = client;
    this.#size = size;
    this.#onBatch = onBatch;
  }

  async add(relationship: Relationship): Promise<void> {
    this.#pending.push(relationship);
    if (this.#pending.length >= this.#size) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const { zookie } = await this.#client.writeRelationships(
      batch.map((relationship) => ({ op: "TOUCH" as const, relationship })),
    );
    this.zookie = zookie;
    this.written += batch.length;
    this.#onBatch(batch.length);
  }
}

function isValidationFile(path: string): boolean {
  return /\.(ya?ml|zaml)$/i.test(path);
}

export function registerImportCommand(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  program
    .command("import")
    .description(
      "load a validation file (.yaml: schema and relationships) or JSON lines (- for stdin) into a server; relationships are touched, so running it again is harmless",
    )
    .argument("<file>", "a validation file (.yaml, .yml) or a JSON-lines file, - for stdin")
    .option("--no-schema", "leave the server's schema as it is")
    .option("--no-relationships", "load only the schema")
    .addOption(
      new Option("--batch-size <n>", "relationships per write (at most 1000)").default("1000"),
    )
    .addHelpText(
      "after",
      `
JSON lines: each line a tuple string ("document:1#viewer@user:a"), an object with a
"relationship" tuple (what relationship read --json and backup create write), or an object with
a "schema" text.

Global flags: --endpoint, --token, --insecure, --certificate-path, --json (see trellis --help).
`,
    )
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          file: string,
          flags: { schema: boolean; relationships: boolean; batchSize: string },
        ) => {
          const size = positiveInteger(flags.batchSize, "--batch-size", MAX_UPDATES_PER_WRITE);
          const summary: ImportSummary = {
            schemaWritten: false,
            relationships: 0,
            zookie: undefined,
          };
          const progress = new ProgressBar(environment, "importing");
          const batches = new TouchBatches(client, size, (n) => progress.advance(n));
          try {
            if (file !== "-" && isValidationFile(file)) {
              let text: string;
              try {
                text = readFileSync(file, "utf8");
              } catch (err) {
                throw new UsageError(
                  `${file}: cannot read it (${(err as NodeJS.ErrnoException).code})`,
                );
              }
              const parsed = parseValidationFile(text, file);
              if (flags.schema) {
                summary.zookie = (await client.writeSchema(parsed.schema)).zookie;
                summary.schemaWritten = true;
              }
              if (flags.relationships) {
                progress.total = parsed.relationships.length;
                for (const { relationship } of parsed.relationships)
                  await batches.add(relationship);
              }
            } else {
              progress.total = await countLines(file).catch(() => undefined);
              for await (const { line, n } of fileLines(file, environment.stdinLines)) {
                const parsed = parseRelationshipLine(line, `${file}:${n}`);
                if (parsed === undefined) continue;
                if (parsed.kind === "schema") {
                  if (flags.schema) {
                    await batches.flush();
                    summary.zookie = (await client.writeSchema(parsed.schema)).zookie;
                    summary.schemaWritten = true;
                  }
                  progress.advance(1);
                } else if (flags.relationships) {
                  await batches.add(parsed.relationship);
                }
              }
            }
            await batches.flush();
          } finally {
            progress.finish();
          }
          summary.relationships = batches.written;
          summary.zookie = batches.zookie ?? summary.zookie;
          if (json) io.out(`${JSON.stringify({ ...summary, zookie: summary.zookie ?? null })}\n`);
          else {
            io.out(
              `imported ${summary.schemaWritten ? "the schema and " : ""}${summary.relationships} relationship${summary.relationships === 1 ? "" : "s"}\n`,
            );
            if (summary.zookie !== undefined) io.out(`${summary.zookie}\n`);
          }
          return undefined;
        },
      ),
    );
}
