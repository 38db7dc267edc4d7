/**
 * The stable order of tuples (datastore.ts) as a comparator, for engines that order rows
 * themselves rather than in SQL: by resource type, resource id, relation, subject type, subject
 * id, subject relation (`...`, "no relation", as stored), comparing strings by their UTF-8
 * bytes, as SQLite's BINARY and PostgreSQL's "C" collations do.
 */
import type { IdentityKey, TupleRow } from "./tuple-row.js";

/**
 * Compares two strings by their UTF-8 bytes without encoding them. UTF-8 byte order is code
 * point order; UTF-16 code-unit order (JavaScript's `<`) agrees with it except where one unit
 * is a surrogate (U+D800–U+DFFF, half of a code point above U+FFFF) and the other is
 * U+E000–U+FFFF, so only that case is corrected.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) return codePointRank(x) - codePointRank(y);
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Units from U+D800 up, ranked in code point order: U+E000–U+FFFF below every surrogate. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

// The comparisons below name each column rather than loop over `FILTER_COLUMNS`: a property
// read by a varying name is several times slower, and these run in every sort and search.

/** Orders two rows by their identity in stable order; 0 for two rows of the same tuple. */
export function compareRows(a: TupleRow, b: TupleRow): number {
  return (
    compareUtf8(a.resource_type, b.resource_type) ||
    compareUtf8(a.resource_id, b.resource_id) ||
    compareUtf8(a.relation, b.relation) ||
    compareUtf8(a.subject_type, b.subject_type) ||
    compareUtf8(a.subject_id, b.subject_id) ||
    compareUtf8(a.subject_relation, b.subject_relation)
  );
}

/** Orders a row against an identity (a cursor's key) in stable order. */
export function compareRowToKey(row: TupleRow, key: IdentityKey): number {
  return (
    compareUtf8(row.resource_type, key[0]) ||
    compareUtf8(row.resource_id, key[1]) ||
    compareUtf8(row.relation, key[2]) ||
    compareUtf8(row.subject_type, key[3]) ||
    compareUtf8(row.subject_id, key[4]) ||
    compareUtf8(row.subject_relation, key[5])
  );
}

/**
 * Orders a row against the first `values.length` columns of the stable order after the
 * resource type (resource id, relation, subject type, subject id, subject relation): negative
 * when the row comes before every row that starts with `values`, positive after them all.
 */
export function compareRowToPrefix(row: TupleRow, values: readonly string[]): number {
  const n = values.length;
  if (n === 0) return 0;
  let order = compareUtf8(row.resource_id, values[0]!);
  if (order !== 0 || n === 1) return order;
  order = compareUtf8(row.relation, values[1]!);
  if (order !== 0 || n === 2) return order;
  order = compareUtf8(row.subject_type, values[2]!);
  if (order !== 0 || n === 3) return order;
  order = compareUtf8(row.subject_id, values[3]!);
  if (order !== 0 || n === 4) return order;
  return compareUtf8(row.subject_relation, values[4]!);
}
