/** The loop of `export` every engine shares: keyset pages in stable order, none held between. */
import type { Relationship } from "../core/index.js";
import { type IdentityKey, rowIdentityKey, rowToRelationship, type TupleRow } from "./tuple-row.js";

/**
 * Yields the rows `readPage` returns, page by page: each page is read after the last row of
 * the one before (`undefined` for the first) and holds at most `pageSize` rows; a shorter page
 * is the last. Nothing is held between pages, so a consumer may stop at any point.
 */
export async function* exportPages(
  pageSize: number,
  readPage: (after: IdentityKey | undefined) => Promise<readonly TupleRow[]>,
): AsyncGenerator<Relationship> {
  let after: IdentityKey | undefined;
  for (;;) {
    const rows = await readPage(after);
    for (const row of rows) yield rowToRelationship(row);
    if (rows.length < pageSize) return;
    after = rowIdentityKey(rows[rows.length - 1]!);
  }
}
