/**
 * Selecting and changing relationships: the filter every read, delete, precondition and schema
 * guard uses, and the mutations and preconditions of a write. Declared once, here, for every
 * layer and face.
 */
import type { Relationship } from "./relationship.js";

/** Selects relationships by their fields; every given field must match, absent ones any. */
export interface RelationshipFilter {
  /** Required. */
  readonly resourceType: string;
  readonly resourceId?: string;
  readonly relation?: string;
  /** Required when `subjectId` or `subjectRelation` is given. */
  readonly subjectType?: string;
  /** `*` selects wildcard tuples (`user:*`) only, not every subject. */
  readonly subjectId?: string;
  /**
   * `undefined` matches any subject relation. `null` matches only subjects without a relation
   * (the object itself, printed `...` by SpiceDB); `"..."` is accepted as a synonym of `null`.
   * A string matches that relation exactly (`group:eng#member`).
   */
  readonly subjectRelation?: string | null;
}

/**
 * CREATE fails (FAILED_PRECONDITION) if the tuple exists; TOUCH creates or replaces it (caveat
 * and expiration included); DELETE removes it and is a no-op when it is absent. An expired
 * tuple counts as absent for all three.
 */
export type MutationOp = "CREATE" | "TOUCH" | "DELETE";

export interface Mutation {
  readonly op: MutationOp;
  readonly relationship: Relationship;
}

/** MUST_MATCH holds when at least one live tuple matches the filter; MUST_NOT_MATCH when none. */
export type PreconditionOp = "MUST_MATCH" | "MUST_NOT_MATCH";

export interface Precondition {
  readonly op: PreconditionOp;
  readonly filter: RelationshipFilter;
}
