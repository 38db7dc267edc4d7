/**
 * The engine-independent half of `changesSince`: merging tuple and schema changes and cutting
 * the result at a revision boundary.
 */
import { bug } from "../core/errors.js";
import type { ChangeEvent } from "./changelog.js";
import { rowToRelationship, type TupleRow } from "./tuple-row.js";

/** One tuple change as the engines select it: the row's tuple plus its (rev, seq) position. */
export interface ChangeRow extends TupleRow {
  /** Numbers; `pg` returns int8 as strings, hence the conversions below. */
  rev: number | string;
  seq: number | string;
  op: "TOUCH" | "DELETE";
}

export interface SchemaRow {
  rev: number | string;
  text: string;
}

/** A revision's commit time as the engines store it: epoch milliseconds. */
export interface CommitTimeRow {
  rev: number | string;
  committed_at: number | string;
}

/** A change before its commit time is attached (see `withCommitTimes`). */
export type UntimedChange = DistributiveOmit<ChangeEvent, "committedAt">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface AssembledChanges {
  readonly events: UntimedChange[];
  /**
   * Set when the tuple query stopped inside the last revision kept: the caller appends that
   * revision's changes after this row (same rev, greater seq), in seq order.
   */
  readonly completeAfter?: ChangeRow;
}

export function rowToChange(row: ChangeRow): UntimedChange {
  return { revision: Number(row.rev), op: row.op, relationship: rowToRelationship(row) };
}

/**
 * Merges tuple changes and schema changes (never at the same revision), both in revision order
 * and each cut at `limit` rows, and cuts the result at the first revision boundary at or after
 * `limit` entries.
 */
export function assembleChanges(
  rows: readonly ChangeRow[],
  schemas: readonly SchemaRow[],
  limit: number,
): AssembledChanges {
  const events: UntimedChange[] = [];
  let i = 0;
  let j = 0;
  while (i < rows.length || j < schemas.length) {
    if (
      j >= schemas.length ||
      (i < rows.length && Number(rows[i]!.rev) < Number(schemas[j]!.rev))
    ) {
      events.push(rowToChange(rows[i++]!));
    } else {
      const schema = schemas[j++]!;
      events.push({ revision: Number(schema.rev), op: "SCHEMA", text: schema.text });
    }
  }
  if (events.length < limit) return { events };
  const boundary = events[limit - 1]!.revision;
  const kept = events.filter((event) => event.revision <= boundary);
  const lastRow = rows[rows.length - 1];
  // A query cut at `limit` is complete for every revision below its last row's revision.
  if (rows.length === limit && lastRow !== undefined && Number(lastRow.rev) === boundary) {
    return { events: kept, completeAfter: lastRow };
  }
  return { events: kept };
}

/**
 * The revision range whose commit times `withCommitTimes` needs; undefined for no events.
 */
export function revisionSpan(
  events: readonly UntimedChange[],
): { first: number; last: number } | undefined {
  if (events.length === 0) return undefined;
  return { first: events[0]!.revision, last: events[events.length - 1]!.revision };
}

/**
 * Attaches each event's commit time. Every revision in the changelog has a revision row (both
 * are written in one transaction and garbage-collected together), so a missing one is a bug.
 */
export function withCommitTimes(
  events: readonly UntimedChange[],
  times: readonly CommitTimeRow[],
): ChangeEvent[] {
  const byRevision = new Map<number, Date>();
  for (const row of times) byRevision.set(Number(row.rev), new Date(Number(row.committed_at)));
  return events.map((event) => {
    const committedAt = byRevision.get(event.revision);
    if (committedAt === undefined) bug(`revision ${event.revision} has no commit time`);
    return { ...event, committedAt } as ChangeEvent;
  });
}
