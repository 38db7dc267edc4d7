/**
 * The write planner: every decision of a write, made once for every engine and without I/O.
 * An engine reads what a plan needs (the live rows of the written tuples, whether each
 * precondition's filter matches, how many tuples a delete matches), asks the planner, and
 * carries out the plan in its transaction; the planner never touches a database.
 *
 * The changelog follows from the row marks a plan makes: an inserted row is a TOUCH entry at
 * its `seq`; an ended row with a `seq` is a DELETE entry at that position (the row as it
 * was); an ended row without one was replaced, and the TOUCH of its replacement stands for it.
 */
import { type Relationship, type Revision, relationshipKey } from "../core/index.js";
import type { ImportBatch } from "./import-batches.js";
import { checkImportRepeats, repeatedLine } from "./import-batches.js";
import type { NormalizedFilter } from "./relationship-filter.js";
import type { DeleteByFilterOptions, Mutation } from "./relationship-writer.js";
import type { CheckedPrecondition } from "./validate-write.js";
import {
  createOfExisting,
  deleteLimitExceeded,
  preconditionFailed,
  schemaWouldOrphan,
} from "./write-errors.js";

/** The live (not ended) row a tuple has at head, as the engine found it. */
export interface LiveRow<Id> {
  /** The engine's row id, handed back in `RowEnd`. */
  readonly id: Id;
  /** Epoch milliseconds; null when the tuple never expires. */
  readonly expiresAt: number | null;
  /** The revision that created the row; bulk import tells a repeated line by it. */
  readonly createdRev?: Revision;
  /** The row's position in that revision (its changelog seq). */
  readonly createdSeq?: number;
}

/** A row to end at the write's revision. */
export interface RowEnd<Id> {
  readonly id: Id;
  /** The DELETE entry's position in the changelog; null for a row replaced by an insert. */
  readonly seq: number | null;
}

/** A row to insert at the write's revision: the TOUCH entry at `seq`. */
export interface RowInsert {
  readonly relationship: Relationship;
  readonly seq: number;
}

/**
 * What a write does to the rows: end `ends` first (the live index allows one live row per
 * tuple), then insert `inserts`, both in changelog order.
 */
export interface WritePlan<Id> {
  readonly ends: readonly RowEnd<Id>[];
  readonly inserts: readonly RowInsert[];
}

/** A live row counts as present at `now` until its expiration (an expired row is absent). */
export function isPresent(row: LiveRow<unknown> | undefined, now: number): boolean {
  return row !== undefined && (row.expiresAt === null || row.expiresAt > now);
}

/**
 * Throws `PreconditionFailedError` for the first precondition that does not hold, given
 * whether each one's filter matched a present tuple at head (`matched[i]` for
 * `preconditions[i]`).
 */
export function checkPreconditions(
  preconditions: readonly CheckedPrecondition[],
  matched: readonly boolean[],
): void {
  preconditions.forEach((precondition, i) => {
    if (matched[i] !== (precondition.op === "MUST_MATCH")) {
      throw preconditionFailed(precondition, i);
    }
  });
}

/**
 * Plans a checked write (see `validateWrite`): `live.get(i)` is the live row of
 * `mutations[i]`'s tuple, if it has one. CREATE of a present tuple throws
 * `PreconditionFailedError` naming `mutations[i]`; CREATE and TOUCH end the live row (present
 * or expired) and insert the new one; DELETE ends a present row and ignores an absent or
 * expired one. A mutation's seq is its index.
 */
export function planWrite<Id>(
  mutations: readonly Mutation[],
  live: ReadonlyMap<number, LiveRow<Id>>,
  now: number,
): WritePlan<Id> {
  const ends: RowEnd<Id>[] = [];
  const inserts: RowInsert[] = [];
  mutations.forEach((mutation, seq) => {
    const row = live.get(seq);
    const present = isPresent(row, now);
    if (mutation.op === "DELETE") {
      if (present) ends.push({ id: row!.id, seq });
      return;
    }
    if (mutation.op === "CREATE" && present) {
      throw createOfExisting(mutation.relationship, `mutations[${seq}]`);
    }
    if (row !== undefined) ends.push({ id: row.id, seq: null });
    inserts.push({ relationship: mutation.relationship, seq });
  });
  return { ends, inserts };
}

/** What a `deleteByFilter` ends: the first `limit` present matches in stable order, or all. */
export interface DeleteByFilterPlan {
  /** End at most this many matches; undefined: every match. */
  readonly limit: number | undefined;
  /** True when matches remain after the deletion. */
  readonly partial: boolean;
}

/**
 * How many present matches the engine must count before `planDeleteByFilter`: one more than
 * the limit (enough to know whether the limit stops the deletion), or none without a limit.
 */
export function deleteByFilterCountBound(options: DeleteByFilterOptions): number | undefined {
  return options.limit === undefined ? undefined : options.limit + 1;
}

/**
 * Plans a `deleteByFilter` given the present matches counted up to
 * `deleteByFilterCountBound` (undefined when no count was needed). More matches than the limit
 * throw `PreconditionFailedError` unless `allowPartial`. The ended rows are DELETE entries
 * numbered from 0 in stable order, which is also the order that picks them under a limit.
 */
export function planDeleteByFilter(
  filter: NormalizedFilter,
  options: DeleteByFilterOptions,
  counted: number | undefined,
): DeleteByFilterPlan {
  const limit = options.limit;
  if (limit === undefined || counted === undefined || counted <= limit) {
    return { limit, partial: false };
  }
  if (options.allowPartial !== true) throw deleteLimitExceeded(filter, limit);
  return { limit, partial: true };
}

/**
 * What importing `batch.relationships[index]` (a CREATE) does with the live row its tuple
 * already has: a row this batch inserted earlier (created at `revision`) is a repeated line
 * (INVALID_ARGUMENT naming both lines); a present row is an existing tuple
 * (`PreconditionFailedError` naming the line); an expired row is replaced.
 */
export function planImportConflict<Id>(
  batch: ImportBatch,
  index: number,
  row: LiveRow<Id>,
  revision: Revision,
  now: number,
): RowEnd<Id> {
  const rel = batch.relationships[index]!;
  const line = batch.firstLine + index;
  if (row.createdRev === revision) {
    throw repeatedLine(relationshipKey(rel), line, batch.firstLine + (row.createdSeq ?? 0));
  }
  if (isPresent(row, now)) throw createOfExisting(rel, `line ${line}`);
  return { id: row.id, seq: null };
}

/**
 * Plans one import batch at `revision` whole, given the live rows its tuples have
 * (`live.get(i)` for `batch.relationships[i]`): a line repeating an earlier one of the batch
 * is INVALID_ARGUMENT, an existing tuple FAILED_PRECONDITION (the first line at fault is
 * named), expired rows are replaced, and every tuple is inserted at its position in the batch.
 */
export function planImportBatch<Id>(
  batch: ImportBatch,
  live: ReadonlyMap<number, LiveRow<Id>>,
  revision: Revision,
  now: number,
): WritePlan<Id> {
  checkImportRepeats(batch);
  const ends: RowEnd<Id>[] = [];
  for (const index of [...live.keys()].sort((a, b) => a - b)) {
    ends.push(planImportConflict(batch, index, live.get(index)!, revision, now));
  }
  const inserts = batch.relationships.map((relationship, seq) => ({ relationship, seq }));
  return { ends, inserts };
}

/**
 * Refuses a schema write (FAILED_PRECONDITION naming each filter and its count) when any of
 * its guards (`WriteSchemaOptions.refuseIfAnyMatch`) matches present tuples.
 */
export function checkSchemaGuards(
  matches: readonly { filter: NormalizedFilter; count: number }[],
): void {
  const orphaned = matches.filter((match) => match.count > 0);
  if (orphaned.length > 0) throw schemaWouldOrphan(orphaned);
}
