/**
 * Cuts a bulk-import source into checked batches without ever holding more than one batch:
 * the memory bound of `bulkImport` lives here.
 */
import {
  invalidArgument,
  type Relationship,
  type Revision,
  relationshipKey,
  TrellisError,
  validateRelationship,
} from "../core/index.js";
import { checkPositiveInteger } from "./argument-checks.js";
import type { BulkImportOptions, BulkImportResult } from "./relationship-writer.js";
import { importBatchFailed } from "./write-errors.js";

export interface ImportBatch {
  /** 1-based batch number. */
  readonly number: number;
  /** 1-based position in the source of the batch's first relationship. */
  readonly firstLine: number;
  readonly relationships: Relationship[];
}

/** Yields batches of `size`; a synchronous source is read without a microtask per item. */
export async function* importBatches(
  source: AsyncIterable<Relationship> | Iterable<Relationship>,
  size: number,
): AsyncGenerator<ImportBatch> {
  let relationships: Relationship[] = [];
  let number = 1;
  let firstLine = 1;
  if (Symbol.iterator in source) {
    for (const rel of source) {
      relationships.push(rel);
      if (relationships.length === size) {
        yield { number, firstLine, relationships };
        number++;
        firstLine += size;
        relationships = [];
      }
    }
  } else {
    for await (const rel of source) {
      relationships.push(rel);
      if (relationships.length === size) {
        yield { number, firstLine, relationships };
        number++;
        firstLine += size;
        relationships = [];
      }
    }
  }
  if (relationships.length > 0) yield { number, firstLine, relationships };
}

/**
 * Throws INVALID_ARGUMENT for the first invalid relationship, naming its line. Repeats are left
 * to the engines' unique index, which finds them for free; `checkImportRepeats` names them.
 */
export function checkImportBatch(batch: ImportBatch): void {
  const { relationships, firstLine } = batch;
  for (let i = 0; i < relationships.length; i++) {
    const line = firstLine + i;
    const rel = relationships[i];
    if (rel === null || typeof rel !== "object") {
      throw invalidArgument(`line ${line}: not a relationship`, `line ${line}`);
    }
    try {
      validateRelationship(rel, `line ${line}`);
    } catch (err) {
      if (err instanceof TrellisError) {
        throw new TrellisError(err.code, `line ${line}: ${err.message}`, {
          cause: err,
          field: err.field,
        });
      }
      throw err;
    }
  }
}

/** Throws INVALID_ARGUMENT naming the first line that repeats an earlier one of the batch. */
export function checkImportRepeats(batch: ImportBatch): void {
  const seen = new Map<string, number>();
  const { relationships, firstLine } = batch;
  for (let i = 0; i < relationships.length; i++) {
    const line = firstLine + i;
    const key = relationshipKey(relationships[i]!);
    const earlier = seen.get(key);
    if (earlier !== undefined) throw repeatedLine(key, line, earlier);
    seen.set(key, line);
  }
}

export function repeatedLine(key: string, line: number, earlier: number): TrellisError {
  return invalidArgument(`line ${line}: ${key} repeats line ${earlier}`, `line ${line}`);
}

/** The default relationships per import transaction; big enough to amortise each commit. */
export const DEFAULT_IMPORT_BATCH = 10_000;
const MAX_IMPORT_BATCH = 100_000;

export function checkImportBatchSize(size: unknown): asserts size is number {
  checkPositiveInteger(size, "batchSize");
  if (size > MAX_IMPORT_BATCH) {
    throw new TrellisError("INVALID_ARGUMENT", `batchSize must be at most ${MAX_IMPORT_BATCH}`, {
      field: "batchSize",
    });
  }
}

/** What `importInBatches` needs of an engine, for one tenant. */
export interface BatchImporter {
  /** The head revision before the import (the result when the source is empty). */
  head(): Promise<Revision>;
  /**
   * Commits one checked batch as one new revision and returns it, or changes nothing and
   * throws (see `RelationshipWriter.bulkImport` for the errors).
   */
  importBatch(batch: ImportBatch): Promise<Revision>;
  /** Called after each commit, before the progress callback: wakes the engine's waiters. */
  committed(revision: Revision): void;
}

/**
 * The loop of `bulkImport` every engine shares: cuts `source` into checked batches, commits
 * each through `importer`, reports progress, and wraps a batch's failure (but UNAVAILABLE and
 * INTERNAL, which are not the batch's fault) with where the batch stood.
 */
export async function importInBatches(
  source: AsyncIterable<Relationship> | Iterable<Relationship>,
  options: BulkImportOptions,
  importer: BatchImporter,
): Promise<BulkImportResult> {
  const batchSize = options.batchSize ?? DEFAULT_IMPORT_BATCH;
  checkImportBatchSize(batchSize);
  let imported = 0;
  let revision = await importer.head();
  for await (const batch of importBatches(source, batchSize)) {
    try {
      checkImportBatch(batch);
      revision = await importer.importBatch(batch);
    } catch (err) {
      if (err instanceof TrellisError && err.code !== "UNAVAILABLE" && err.code !== "INTERNAL") {
        const last = batch.firstLine + batch.relationships.length - 1;
        throw importBatchFailed(err, batch.number, batch.firstLine, last, imported);
      }
      throw err;
    }
    imported += batch.relationships.length;
    importer.committed(revision);
    options.onProgress?.({ batch: batch.number, imported, revision });
  }
  return { revision, imported };
}
