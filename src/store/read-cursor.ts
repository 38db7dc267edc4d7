/**
 * The opaque page cursor of `readByFilter`: the identity of the last relationship returned
 * (keyset pagination, so a page costs the same wherever it starts) plus a fingerprint of the
 * filter, so a cursor replayed against another filter is refused instead of silently skipping.
 * Format: base64url of the JSON array `["r1", fingerprint, ...identity]`. A decoded cursor's
 * identity is checked like a tuple's, so a forged one cannot carry what no tuple holds (NUL).
 */
import {
  ELLIPSIS,
  invalidArgument,
  isValidIdentifier,
  isValidObjectId,
  isValidTypeName,
  type Relationship,
  WILDCARD_ID,
} from "../core/index.js";
import { decodeBase64Url, encodeBase64Url } from "./base64url.js";
import { FILTER_COLUMNS, type NormalizedFilter, normalizeFilter } from "./relationship-filter.js";
import type { RelationshipFilter, RelationshipPage } from "./relationship-reader.js";
import {
  type IdentityKey,
  identityKey,
  rowIdentityKey,
  rowToRelationship,
  type TupleRow,
} from "./tuple-row.js";

const VERSION = "r1";

function fingerprint(filter: NormalizedFilter): string {
  const text = JSON.stringify([
    filter.resourceType,
    filter.resourceId ?? null,
    filter.relation ?? null,
    filter.subjectType ?? null,
    filter.subjectId ?? null,
    filter.subjectRelation ?? null,
  ]);
  // FNV-1a: a cheap, stable 32-bit digest; this guards against mistakes, not forgery.
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

export function encodeCursor(filter: NormalizedFilter, key: IdentityKey): string {
  return encodeBase64Url(JSON.stringify([VERSION, fingerprint(filter), ...key]));
}

/**
 * The `readByFilter` cursor that resumes right after `rel` under `filter`: lets a caller that
 * streams a page item by item hand out a resume point for every item, not only page ends.
 */
export function cursorAfter(filter: RelationshipFilter, rel: Relationship): string {
  return encodeCursor(normalizeFilter(filter), identityKey(rel));
}

/**
 * The `readByFilter` page of `rows`, read in stable order with one row more than `limit`: that
 * extra row, when there is one, only says that a cursor is due.
 */
export function pageOfRows(
  filter: NormalizedFilter,
  rows: readonly TupleRow[],
  limit: number,
): RelationshipPage {
  const relationships = rows.slice(0, limit).map(rowToRelationship);
  if (rows.length <= limit) return { relationships };
  return { relationships, cursor: encodeCursor(filter, rowIdentityKey(rows[limit - 1]!)) };
}

/** The identity after which the next page starts; INVALID_ARGUMENT for a cursor not ours. */
export function decodeCursor(filter: NormalizedFilter, cursor: string): IdentityKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeBase64Url(cursor));
  } catch {
    throw invalidArgument("malformed cursor", "cursor");
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 8 ||
    parsed[0] !== VERSION ||
    !parsed.every((part) => typeof part === "string")
  ) {
    throw invalidArgument("malformed cursor", "cursor");
  }
  if (parsed[1] !== fingerprint(filter)) {
    throw invalidArgument("the cursor belongs to a different filter", "cursor");
  }
  const key = parsed.slice(2) as IdentityKey;
  if (!isIdentity(key)) throw invalidArgument("malformed cursor", "cursor");
  return key;
}

/** True when every part of `key` is a name or id a stored tuple can have. */
function isIdentity([type, id, relation, subjectType, subjectId, subjectRelation]: IdentityKey) {
  return (
    isValidTypeName(type) &&
    isValidObjectId(id) &&
    isValidIdentifier(relation) &&
    isValidTypeName(subjectType) &&
    (subjectId === WILDCARD_ID || isValidObjectId(subjectId)) &&
    (subjectRelation === ELLIPSIS || isValidIdentifier(subjectRelation))
  );
}

/**
 * The part of the keyset comparison an index can use: the filter fixes a leading run of the
 * stable-order columns by equality, so only the columns after that run are compared, e.g.
 * `(resource_id, relation, …) > (…)` under a `resource_type` filter. (A row-value comparison
 * that repeats an equality column is not used as an index range by SQLite.) An empty list means
 * the filter fixes the whole identity: nothing follows the cursor.
 */
export function keysetTail(
  filter: NormalizedFilter | undefined,
  after: IdentityKey,
): { columns: string[]; values: string[] } {
  let fixed = 0;
  if (filter !== undefined) {
    while (fixed < FILTER_COLUMNS.length && filter[FILTER_COLUMNS[fixed]![0]] !== undefined)
      fixed++;
  }
  return {
    columns: FILTER_COLUMNS.slice(fixed).map(([, column]) => column),
    values: after.slice(fixed),
  };
}
