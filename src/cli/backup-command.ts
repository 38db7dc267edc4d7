/**
 * `trellis backup create|restore FILE`: a tenant's schema and every relationship, at one
 * snapshot, in a JSON-lines file — a first line `{"trellisBackup":1,"schema":…,"zookie":…}`,
 * then one `{"relationship":"<tuple>"}` a line — that `restore` (and `import`) load back.
 * `create` writes beside the file and renames at the end, so a file that exists is whole.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { type Command, Option } from "commander";
import { TrellisError } from "../core/errors.js";
import { formatRelationship, type Relationship } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import type { CliEnvironment } from "./cli-environment.js";
import { positiveInteger } from "./cli-inputs.js";
import { TouchBatches } from "./import-command.js";
import { ProgressBar } from "./progress-bar.js";
import {
  BACKUP_FORMAT,
  countLines,
  fileLines,
  parseRelationshipLine,
} from "./relationship-lines.js";
import { remoteAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

const REMOTE_HELP =
  "\nGlobal flags: --endpoint, --token, --insecure, --certificate-path, --json (see trellis --help).\n";

/** Relationships per Import message (each one atomic write on the server). */
const IMPORT_BATCH = 1000;

export function registerBackupCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const backup = program
    .command("backup")
    .description("save a server's schema and relationships to a file, and restore them");

  backup
    .command("create")
    .description("write the schema and every relationship, at one snapshot, to a new file")
    .argument("<file>", "the backup file to create (JSON lines)")
    .option("--force", "replace the file if it exists")
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async ({ client, json }, file: string, flags: { force?: boolean }) => {
          if (existsSync(file) && flags.force !== true) {
            throw new UsageError(`${file} exists; --force replaces it`);
          }
          const { schema, zookie } = await client.readSchema({ consistency: "fully_consistent" });
          const partial = `${file}.partial`;
          const fd = openSync(partial, "w");
          const progress = new ProgressBar(environment, "backing up");
          let count = 0;
          try {
            writeSync(
              fd,
              `${JSON.stringify({
                trellisBackup: BACKUP_FORMAT,
                schema,
                zookie,
                createdAt: new Date().toISOString(),
              })}\n`,
            );
            for await (const batch of client.exportRelationships({
              consistency: { atExactSnapshot: zookie },
              deadlineMs: Number.POSITIVE_INFINITY,
            })) {
              if (batch.relationships.length === 0) continue;
              writeSync(
                fd,
                batch.relationships
                  .map((r) => `${JSON.stringify({ relationship: formatRelationship(r) })}\n`)
                  .join(""),
              );
              count += batch.relationships.length;
              progress.advance(batch.relationships.length);
            }
            closeSync(fd);
            renameSync(partial, file);
          } catch (err) {
            try {
              closeSync(fd);
            } catch {
              // closed already
            }
            rmSync(partial, { force: true });
            throw err;
          } finally {
            progress.finish();
          }
          io.out(
            json
              ? `${JSON.stringify({ file, relationships: count, zookie })}\n`
              : `backed up the schema and ${count} relationship${count === 1 ? "" : "s"} to ${file}\n${zookie}\n`,
          );
          return undefined;
        },
      ),
    );

  backup
    .command("restore")
    .description("write a backup's schema and relationships to a server")
    .argument("<file>", "a file made by backup create")
    .addOption(
      new Option(
        "--conflict-strategy <strategy>",
        "a relationship that exists already: fail (the batch, and the restore) or touch (replace it)",
      )
        .choices(["fail", "touch"])
        .default("fail"),
    )
    .addOption(
      new Option("--batch-size <n>", "relationships per atomic batch (at most 1000)").default(
        `${IMPORT_BATCH}`,
      ),
    )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          file: string,
          flags: { conflictStrategy: "fail" | "touch"; batchSize: string },
        ) => {
          const size = positiveInteger(flags.batchSize, "--batch-size", IMPORT_BATCH);
          let lines: AsyncGenerator<{ line: string; n: number }>;
          try {
            lines = fileLines(file, undefined);
            // Opens the file: a missing one is a usage error, before anything is written.
            const first = await lines.next();
            if (first.done === true) throw new TrellisError("INVALID_ARGUMENT", `${file} is empty`);
            const header = parseRelationshipLine(first.value.line, `${file}:1`);
            if (header?.kind !== "schema" || header.header.trellisBackup !== BACKUP_FORMAT) {
              throw new TrellisError(
                "INVALID_ARGUMENT",
                `${file}: not a Trellis backup (its first line has no "trellisBackup":${BACKUP_FORMAT} and schema)`,
              );
            }
            await client.writeSchema(header.schema);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") {
              throw new UsageError(`${file}: cannot read it (${code})`);
            }
            throw err;
          }
          const total = await countLines(file);
          const progress = new ProgressBar(
            environment,
            "restoring",
            total === undefined ? undefined : total - 1,
          );
          let restored = 0;
          let zookie: Zookie | undefined;
          try {
            if (flags.conflictStrategy === "touch") {
              const batches = new TouchBatches(client, size, (n) => progress.advance(n));
              for await (const { line, n } of lines) {
                const parsed = parseRelationshipLine(line, `${file}:${n}`);
                if (parsed?.kind === "relationship") await batches.add(parsed.relationship);
              }
              await batches.flush();
              restored = batches.written;
              zookie = batches.zookie;
            } else {
              async function* batchesOf(): AsyncGenerator<Relationship[]> {
                let batch: Relationship[] = [];
                for await (const { line, n } of lines) {
                  const parsed = parseRelationshipLine(line, `${file}:${n}`);
                  if (parsed?.kind !== "relationship") continue;
                  batch.push(parsed.relationship);
                  if (batch.length === size) {
                    yield batch;
                    batch = [];
                  }
                }
                if (batch.length > 0) yield batch;
              }
              const result = await client.importRelationships(batchesOf(), {
                deadlineMs: Number.POSITIVE_INFINITY,
                onBatch: (n) => progress.advance(n),
              });
              restored = result.imported;
              zookie = result.zookie;
            }
          } finally {
            progress.finish();
          }
          io.out(
            json
              ? `${JSON.stringify({ file, relationships: restored, zookie: zookie ?? null })}\n`
              : `restored the schema and ${restored} relationship${restored === 1 ? "" : "s"} from ${file}\n${zookie ?? ""}\n`,
          );
          return undefined;
        },
      ),
    );
}
