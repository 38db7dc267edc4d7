/**
 * `trellis relationship create|touch|delete|read|bulk-delete|migrate`, zed's verbs over the
 * SDK's RelationshipService calls. Writes print the zookie of the write (pass it to
 * `--consistency-at-least`); with no arguments and a pipe on stdin, create, touch and delete
 * read one tuple a line. `migrate` moves a relation's relationships to another in atomic
 * batches, so a rename needs no downtime and an interrupted run resumes where it stopped.
 */
import { type Command, Option } from "commander";
import { invalidArgument, TrellisError } from "../core/errors.js";
import { formatRelationship, type Relationship } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import { compileSchemaText } from "../schema/compiler.js";
import { filterOf as checkFilter } from "../sdk/request-inputs.js";
import type { RelationshipFilter, WriteItem } from "../sdk/trellis-api.js";
import type { TrellisClient } from "../sdk/trellis-client.js";
import type { CliEnvironment } from "./cli-environment.js";
import {
  asUsage,
  filterFromWords,
  positiveInteger,
  type RelationshipFlags,
  relationshipFromWords,
  relationshipJson,
  typeAndRelation,
} from "./cli-inputs.js";
import {
  addConsistencyFlags,
  type ConsistencyFlags,
  consistencyFromFlags,
} from "./consistency-flags.js";
import { EXIT } from "./exit-codes.js";
import { ProgressBar } from "./progress-bar.js";
import { type RemoteRun, remoteAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

const REMOTE_HELP =
  "\nGlobal flags: --endpoint, --token, --insecure, --certificate-path, --json (see trellis --help).\n";

/** The most updates one Write may carry on a server with default limits. */
const MAX_UPDATES_PER_WRITE = 1000;

type Op = "CREATE" | "TOUCH" | "DELETE";

interface WriteFlags extends RelationshipFlags {
  readonly batchSize: string;
}

/** Reads tuples from stdin, one a line (blank lines and `//` comments skipped). */
async function* stdinRelationships(
  environment: CliEnvironment,
  flags: RelationshipFlags,
): AsyncGenerator<Relationship> {
  const lines = environment.stdinLines;
  if (lines === undefined) {
    throw new UsageError(
      "expected <resource:id> <relation> <subject:id>, or tuples on stdin (one a line)",
    );
  }
  let n = 0;
  for await (const raw of lines()) {
    n++;
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) continue;
    try {
      yield relationshipFromWords([line], flags);
    } catch (err) {
      // Content, not the command line: refused as INVALID_ARGUMENT (exit 3).
      if (err instanceof UsageError) throw invalidArgument(`stdin line ${n}: ${err.message}`);
      throw err;
    }
  }
}

async function writeCommand(
  op: Op,
  run: RemoteRun,
  words: readonly string[],
  flags: WriteFlags,
): Promise<undefined> {
  const { client, json, environment } = run;
  const batchSize = positiveInteger(flags.batchSize, "--batch-size", MAX_UPDATES_PER_WRITE);
  let zookie: Zookie | undefined;
  let written = 0;
  const send = async (batch: readonly Relationship[]) => {
    const items: WriteItem[] = batch.map((relationship) => ({ op, relationship }));
    zookie = (await client.writeRelationships(items)).zookie;
    written += batch.length;
  };
  if (words.length > 0) {
    await send([relationshipFromWords(words, flags)]);
  } else {
    let batch: Relationship[] = [];
    for await (const rel of stdinRelationships(environment, flags)) {
      batch.push(rel);
      if (batch.length === batchSize) {
        await send(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await send(batch);
  }
  if (json) environment.io.out(`${JSON.stringify({ zookie: zookie ?? null, written })}\n`);
  else if (zookie !== undefined) environment.io.out(`${zookie}\n`);
  return undefined;
}

/** The filter of read and bulk-delete: zed's words, `--subject-filter` standing for the third. */
function filterOf(
  resource: string,
  relation: string | undefined,
  subject: string | undefined,
  subjectFilter: string | undefined,
): RelationshipFilter {
  if (subject !== undefined && subjectFilter !== undefined) {
    throw new UsageError("give the subject filter as the third argument or --subject-filter");
  }
  const filter = filterFromWords(resource, relation, subject ?? subjectFilter);
  // Checked here, so that a malformed filter is a usage error and not the server's refusal.
  return asUsage(() => checkFilter(filter));
}

/** How many relationships match, counted by reading them at one snapshot. */
async function countMatching(client: TrellisClient, filter: RelationshipFilter): Promise<number> {
  let n = 0;
  for await (const _ of client.readRelationships(filter, {
    consistency: "fully_consistent",
    deadlineMs: Number.POSITIVE_INFINITY,
  })) {
    n++;
  }
  return n;
}

export interface MigrateOptions {
  readonly from: { readonly type: string; readonly relation: string };
  readonly to: { readonly type: string; readonly relation: string };
  /** Relationships per atomic write (each is a TOUCH and a DELETE). */
  readonly batchSize: number;
  readonly onBatch?: (moved: number) => void;
}

/**
 * Moves every relationship of `from` to `to` (same resource id, subject, caveat and
 * expiration), in atomic batches: one write TOUCHes the copies and DELETEs the originals, so
 * at every snapshot each relationship is on exactly one of the two relations, and a run that
 * stops part-way leaves whole batches moved; running it again moves the rest (the TOUCH makes a
 * repeated copy harmless). Returns how many moved and the zookie of the last batch.
 */
export async function migrateRelationships(
  client: TrellisClient,
  options: MigrateOptions,
): Promise<{ moved: number; zookie: Zookie | undefined }> {
  const filter: RelationshipFilter = {
    resourceType: options.from.type,
    relation: options.from.relation,
  };
  let moved = 0;
  let zookie: Zookie | undefined;
  let previous: string | undefined;
  for (;;) {
    const batch: Relationship[] = [];
    for await (const rel of client.readRelationships(filter, {
      consistency: zookie === undefined ? "fully_consistent" : { atLeastAsFresh: zookie },
      limit: options.batchSize,
    })) {
      batch.push(rel);
    }
    if (batch.length === 0) return { moved, zookie };
    const first = formatRelationship(batch[0]!);
    if (first === previous) {
      throw new Error(`relationship migrate: ${first} was moved but is still there`);
    }
    previous = first;
    const items: WriteItem[] = [
      ...batch.map(
        (rel): WriteItem => ({
          op: "TOUCH",
          relationship: {
            ...rel,
            resource: { type: options.to.type, id: rel.resource.id },
            relation: options.to.relation,
          },
        }),
      ),
      ...batch.map((rel): WriteItem => ({ op: "DELETE", relationship: rel })),
    ];
    zookie = (await client.writeRelationships(items)).zookie;
    moved += batch.length;
    options.onBatch?.(batch.length);
  }
}

/** Checks, against the server's schema, that both ends are relations of existing types. */
async function checkMigrationEnds(
  client: TrellisClient,
  from: { type: string; relation: string },
  to: { type: string; relation: string },
): Promise<void> {
  const { schema } = await client.readSchema({ consistency: "fully_consistent" });
  const compiled = compileSchemaText(schema);
  for (const [flag, end] of [
    ["--from", from],
    ["--to", to],
  ] as const) {
    const member = compiled.definitions.get(end.type)?.members.get(end.relation);
    if (member === undefined) {
      throw new UsageError(
        `${flag} ${end.type}#${end.relation}: the server's schema has no such relation`,
      );
    }
    if (member.kind !== "relation") {
      throw new UsageError(`${flag} ${end.type}#${end.relation} is a permission, not a relation`);
    }
  }
}

function addWriteCommand(
  parent: Command,
  environment: CliEnvironment,
  op: Op,
  name: string,
  description: string,
): void {
  const command = parent
    .command(name)
    .description(description)
    .argument("[resource]", "resource:id, or a whole tuple resource:id#relation@subject:id")
    .argument("[relation]", "the relation")
    .argument("[subject]", "subject:id or subject:id#relation (a userset)")
    .addOption(
      new Option("-b, --batch-size <n>", "tuples per write when reading stdin").default("100"),
    );
  if (op !== "DELETE") {
    command
      .addOption(
        new Option("--caveat <name:context>", `a caveat, e.g. 'ip_allowed:{"cidr":"10.0.0.0/8"}'`),
      )
      .addOption(
        new Option("--expiration-time <time>", "when it stops existing, RFC 3339 (use expiration)"),
      );
  }
  command.addHelpText("after", REMOTE_HELP).action(
    remoteAction(
      environment,
      async (
        run,
        resource: string | undefined,
        relation: string | undefined,
        subject: string | undefined,
        flags: WriteFlags,
      ) => {
        const words = [resource, relation, subject].filter((w): w is string => w !== undefined);
        return writeCommand(op, run, words, flags);
      },
    ),
  );
}

export function registerRelationshipCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const relationship = program
    .command("relationship")
    .description("read and write relationships on a server (zed's verbs)");

  addWriteCommand(
    relationship,
    environment,
    "CREATE",
    "create",
    "create a relationship; fails if it exists (or tuples from stdin, one a line)",
  );
  addWriteCommand(
    relationship,
    environment,
    "TOUCH",
    "touch",
    "create or replace a relationship: running it again is harmless",
  );
  addWriteCommand(
    relationship,
    environment,
    "DELETE",
    "delete",
    "delete a relationship (nothing happens when it is absent)",
  );

  addConsistencyFlags(
    relationship
      .command("read")
      .description("print the relationships matching a filter, one tuple a line")
      .argument("<resource>", "resource_type or resource_type:id")
      .argument("[relation]", "only this relation")
      .argument("[subject]", "only these subjects: subject_type[:id][#relation]")
      .option("--subject-filter <subject>", "the subject filter, instead of the third argument")
      .option("--limit <n>", "at most this many"),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          resource: string,
          relation: string | undefined,
          subject: string | undefined,
          flags: ConsistencyFlags & { subjectFilter?: string; limit?: string },
        ) => {
          const filter = filterOf(resource, relation, subject, flags.subjectFilter);
          const consistency = consistencyFromFlags(flags);
          const limit =
            flags.limit === undefined ? undefined : positiveInteger(flags.limit, "--limit");
          for await (const rel of client.readRelationships(filter, {
            consistency,
            deadlineMs: Number.POSITIVE_INFINITY,
            ...(limit !== undefined ? { limit } : {}),
          })) {
            io.out(
              json ? `${JSON.stringify(relationshipJson(rel))}\n` : `${formatRelationship(rel)}\n`,
            );
          }
          return undefined;
        },
      ),
    );

  relationship
    .command("bulk-delete")
    .description(
      "delete every relationship matching a filter; more than --optional-limit needs --force (then in batches)",
    )
    .argument("<resource>", "resource_type or resource_type:id")
    .argument("[relation]", "only this relation")
    .argument("[subject]", "only these subjects: subject_type[:id][#relation]")
    .option("--subject-filter <subject>", "the subject filter, instead of the third argument")
    .option("--force", "delete all matches, in batches of --optional-limit")
    .addOption(
      new Option(
        "--optional-limit <n>",
        "relationships per deletion (the server's limit: 1000)",
      ).default("1000"),
    )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          resource: string,
          relation: string | undefined,
          subject: string | undefined,
          flags: { subjectFilter?: string; force?: boolean; optionalLimit: string },
        ) => {
          const filter = filterOf(resource, relation, subject, flags.subjectFilter);
          const limit = positiveInteger(flags.optionalLimit, "--optional-limit");
          let deleted = 0;
          let zookie: Zookie | undefined;
          const progress = new ProgressBar(environment, "deleting");
          try {
            for (;;) {
              const result = await client
                .deleteRelationships(filter, { limit, allowPartial: flags.force === true })
                .catch((err: unknown) => {
                  if (
                    flags.force !== true &&
                    err instanceof TrellisError &&
                    err.code === "FAILED_PRECONDITION"
                  ) {
                    throw new UsageError(
                      `more than ${limit} relationships match; --force deletes them all, ${limit} at a time`,
                    );
                  }
                  throw err;
                });
              deleted += result.deleted;
              zookie = result.zookie;
              progress.advance(result.deleted);
              if (!result.partial) break;
            }
          } finally {
            progress.finish();
          }
          if (json) io.out(`${JSON.stringify({ deleted, zookie })}\n`);
          else io.out(`deleted ${deleted} relationship${deleted === 1 ? "" : "s"}\n${zookie}\n`);
          return undefined;
        },
      ),
    );

  relationship
    .command("migrate")
    .description(
      "move every relationship of one relation to another (rename without downtime): atomic batches, resumable by running it again",
    )
    .requiredOption("--from <type#relation>", "the relation to empty, e.g. document#viewer")
    .requiredOption("--to <type#relation>", "the relation to fill, e.g. document#reader")
    .addOption(
      new Option("--batch-size <n>", "relationships per atomic write (at most 500)").default("500"),
    )
    .option("--dry-run", "count what would move; change nothing")
    .addHelpText(
      "after",
      `
Each batch is one write that touches the copies and deletes the originals, so every snapshot
has each relationship on exactly one of the two relations: give the schema a permission that
reads both (view = viewer + reader) before migrating, then drop the old relation
(trellis schema apply). Stopped part-way, it resumes when run again.
${REMOTE_HELP}`,
    )
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          flags: { from: string; to: string; batchSize: string; dryRun?: boolean },
        ) => {
          const from = typeAndRelation(flags.from, "--from");
          const to = typeAndRelation(flags.to, "--to");
          if (from.type === to.type && from.relation === to.relation) {
            throw new UsageError("--from and --to name the same relation");
          }
          const batchSize = positiveInteger(
            flags.batchSize,
            "--batch-size",
            MAX_UPDATES_PER_WRITE / 2,
          );
          await checkMigrationEnds(client, from, to);
          const total = await countMatching(client, {
            resourceType: from.type,
            relation: from.relation,
          });
          if (flags.dryRun === true) {
            if (json) io.out(`${JSON.stringify({ toMove: total, dryRun: true })}\n`);
            else io.out(`${total} relationship${total === 1 ? "" : "s"} would move\n`);
            return EXIT.OK;
          }
          const progress = new ProgressBar(environment, "migrating", total);
          let result: { moved: number; zookie: Zookie | undefined };
          try {
            result = await migrateRelationships(client, {
              from,
              to,
              batchSize,
              onBatch: (n) => progress.advance(n),
            });
          } finally {
            progress.finish();
          }
          if (json) {
            io.out(`${JSON.stringify({ moved: result.moved, zookie: result.zookie ?? null })}\n`);
          } else {
            io.out(
              `moved ${result.moved} relationship${result.moved === 1 ? "" : "s"} from ${flags.from} to ${flags.to}\n`,
            );
            if (result.zookie !== undefined) io.out(`${result.zookie}\n`);
          }
          return EXIT.OK;
        },
      ),
    );
}
