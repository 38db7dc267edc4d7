/** Revisions and zookies: how a caller names a point in a tenant's history. */

/**
 * A tenant's history position: a positive integer, bumped by every write (tuples or schema).
 * Revision 0 is the empty tenant before its first write.
 */
export type Revision = number;

/** An opaque consistency token that encodes a tenant and a revision (made by `engine/`). */
export type Zookie = string & { readonly __zookie: unique symbol };

/** How fresh a read must be (DESIGN.md §4). */
export type Consistency =
  | "minimize_latency"
  | "fully_consistent"
  | { readonly atLeastAsFresh: Zookie | string }
  | { readonly atExactSnapshot: Zookie | string };

/** A tenant (store) id: the isolation boundary of schema and tuples. */
export type TenantId = string;
