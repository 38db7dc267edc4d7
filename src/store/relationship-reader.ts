/** Snapshot reads of relation tuples: the check path's point reads, filtered pages, export. */
import type { Relationship, Revision, SubjectRef, TenantId } from "../core/index.js";

import type { RelationshipFilter } from "../core/relationship-filter.js";

export type { RelationshipFilter };

/** The forward read of the check path: the tuples `type:id#relation@*`. */
export interface ResourceRelationQuery {
  readonly type: string;
  readonly id: string;
  readonly relation: string;
}

/** The reverse read of ListObjects: the tuples `resourceType:*#relation@subject`. */
export interface SubjectRelationQuery {
  readonly resourceType: string;
  readonly relation: string;
  /** Matched exactly: `user:alice` does not match `user:*` nor `user:alice#member`. */
  readonly subject: SubjectRef;
}

export interface PageOptions {
  /** A cursor returned by the previous page of the same filter at the same revision. */
  readonly cursor?: string;
  /** At most this many relationships per page; a positive integer. */
  readonly limit: number;
}

export interface RelationshipPage {
  readonly relationships: readonly Relationship[];
  /** Present when more relationships may follow; pass it back to resume after the last one. */
  readonly cursor?: string;
}

/**
 * Reads of live tuples at a revision. The common rules of `Datastore` (datastore.ts) apply:
 * every read is a snapshot at its revision, a revision newer than head is INVALID_ARGUMENT,
 * one garbage-collected FAILED_PRECONDITION, and expired tuples are left out.
 */
export interface RelationshipReader {
  /**
   * The forward read: every live tuple `type:id#relation@…` at `revision`, in stable order
   * (by subject). An empty array when there are none.
   */
  readByResource(
    tenant: TenantId,
    revision: Revision,
    query: ResourceRelationQuery,
  ): Promise<Relationship[]>;

  /**
   * The reverse read: every live tuple `resourceType:…#relation@subject` at `revision` whose
   * subject is exactly `query.subject`, ordered by resource id. Wildcard tuples (`user:*`) are
   * returned only for a wildcard subject.
   */
  readBySubject(
    tenant: TenantId,
    revision: Revision,
    query: SubjectRelationQuery,
  ): Promise<Relationship[]>;

  /**
   * One page of the live tuples matching `filter` at `revision`, in stable order. The cursor is
   * opaque, valid only for the same filter, and resumes exactly after the last relationship
   * returned; it is absent on the last page. A malformed cursor is INVALID_ARGUMENT.
   */
  readByFilter(
    tenant: TenantId,
    revision: Revision,
    filter: RelationshipFilter,
    page: PageOptions,
  ): Promise<RelationshipPage>;

  /**
   * Every live tuple at `revision`, in stable order, read page by page (bounded memory). The
   * revision is checked when iteration starts and on every page; a revision garbage-collected
   * during a long export fails the iteration with FAILED_PRECONDITION. No resource is held
   * between pages, so abandoning the iteration early needs no cleanup.
   */
  export(tenant: TenantId, revision: Revision): AsyncIterable<Relationship>;
}
