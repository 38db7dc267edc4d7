/**
 * The engine-independent half of `changesSince`: merging tuple and schema changes and cutting
 * the result at a revision boundary.
 */
import type { ChangeEvent } from "./datastore.js";
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

export interface AssembledChanges {
  readonly events: ChangeEvent[];
  /**
   * Set when the tuple query stopped inside the last revision kept: the caller appends that
   * revision's changes after this row (same rev, greater seq), in seq order.
   */
  readonly completeAfter?: ChangeRow;
}

export function rowToChange(row: ChangeRow): ChangeEvent {
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
  const events: ChangeEvent[] = [];
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
