/**
 * A benchmark dataset as files, so that every system under test loads exactly the same data
 * and answers exactly the same queries, each in a process of its own:
 *   schema.zed           the schema
 *   relationships.jsonl  one relationship per line (format: bench/dataset.ts), or
 *   relationships.txt    with the `tuples` format, the tuple string form
 *   checks.jsonl         {"resource":"document:1","permission":"view","subject":"user:2",
 *                         "expected":"ALLOWED","kind":"direct-viewer"} per line
 *   lists.json           the ListObjects users and ListSubjects documents (`listQueries`)
 *   dataset.json         seed, sizes and the dataset's description
 */
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  formatObjectRef,
  formatSubjectRef,
  parseObjectRef,
  parseSubjectRef,
  parseTimestamp,
  type Relationship,
} from "../src/core/relationship.js";
import {
  CHECK_KINDS,
  type CheckKind,
  type CheckMix,
  type CheckQuery,
  describeMix,
  type ListQueries,
} from "./check-mix.js";
import { type DocsDataset, type RelationshipFormat, writeRelationships } from "./dataset.js";

export const DATASET_FILES = {
  schema: "schema.zed",
  relationships: "relationships.jsonl",
  tuples: "relationships.txt",
  checks: "checks.jsonl",
  lists: "lists.json",
  description: "dataset.json",
} as const;

export interface DatasetDescription {
  readonly seed: number;
  readonly scale: string;
  readonly sizes: DocsDataset["sizes"];
  readonly counts: Record<string, number>;
  readonly checkMix: {
    readonly seed: number;
    readonly queries: number;
    readonly allowed: number;
    readonly denied: number;
    readonly composition: Record<string, number>;
  };
}

/** Writes the dataset, its check mix and its list queries into `dir`; returns the description. */
export async function writeDatasetFiles(
  dir: string,
  dataset: DocsDataset,
  scale: string,
  mix: CheckMix,
  lists: ListQueries,
  format: RelationshipFormat = "jsonl",
): Promise<DatasetDescription> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DATASET_FILES.schema), dataset.schema);
  const file = format === "jsonl" ? DATASET_FILES.relationships : DATASET_FILES.tuples;
  await writeRelationships(join(dir, file), dataset.relationships(), format);
  const out = join(dir, DATASET_FILES.checks);
  writeFileSync(out, mix.queries.map((q) => `${formatCheckLine(q)}\n`).join(""));
  writeFileSync(
    join(dir, DATASET_FILES.lists),
    `${JSON.stringify(
      {
        users: lists.users.map((u) => ({ ...u, subject: formatSubjectRef(u.subject) })),
        documents: lists.documents.map((d) => ({ ...d, resource: formatObjectRef(d.resource) })),
      },
      null,
      2,
    )}\n`,
  );
  const description: DatasetDescription = {
    seed: dataset.seed,
    scale,
    sizes: dataset.sizes,
    counts: dataset.describe(),
    checkMix: describeMix(mix),
  };
  writeFileSync(join(dir, DATASET_FILES.description), `${JSON.stringify(description, null, 2)}\n`);
  return description;
}

export function formatCheckLine(q: CheckQuery): string {
  return JSON.stringify({
    resource: formatObjectRef(q.resource),
    permission: q.permission,
    subject: formatSubjectRef(q.subject),
    expected: q.expected,
    kind: q.kind,
  });
}

/** Streams the relationships of a JSON-lines file, parsed and checked by the core parsers. */
export async function* readRelationships(path: string): AsyncGenerator<Relationship> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }) });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line === "") continue;
    const field = `${path}:${n}`;
    const r = JSON.parse(line) as {
      resource: string;
      relation: string;
      subject: string;
      expiration?: string;
    };
    yield {
      resource: parseObjectRef(r.resource, field),
      relation: r.relation,
      subject: parseSubjectRef(r.subject, field),
      ...(r.expiration !== undefined ? { expiration: parseTimestamp(r.expiration, field) } : {}),
    };
  }
}

export function readChecks(dir: string): CheckQuery[] {
  const text = readFileSync(join(dir, DATASET_FILES.checks), "utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const r = JSON.parse(line) as {
        resource: string;
        permission: string;
        subject: string;
        kind: string;
      };
      if (!Object.hasOwn(CHECK_KINDS, r.kind)) throw new Error(`unknown check kind ${r.kind}`);
      const kind = r.kind as CheckKind;
      return {
        resource: parseObjectRef(r.resource),
        permission: r.permission,
        subject: parseSubjectRef(r.subject),
        kind,
        expected: CHECK_KINDS[kind].expected,
      };
    });
}

export function readLists(dir: string): ListQueries {
  const raw = JSON.parse(readFileSync(join(dir, DATASET_FILES.lists), "utf8")) as {
    users: { label: string; subject: string; note: string }[];
    documents: { label: string; resource: string }[];
  };
  return {
    users: raw.users.map((u) => ({ ...u, subject: parseSubjectRef(u.subject) })),
    documents: raw.documents.map((d) => ({ ...d, resource: parseObjectRef(d.resource) })),
  };
}

export function readDescription(dir: string): DatasetDescription {
  return JSON.parse(readFileSync(join(dir, DATASET_FILES.description), "utf8"));
}

export function readSchema(dir: string): string {
  return readFileSync(join(dir, DATASET_FILES.schema), "utf8");
}
