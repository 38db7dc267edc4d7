/**
 * A tenant's revisions and the changes between them: the head, a shared recent revision, the
 * ordered changelog and a wait for the next commit. Followers (the engine's in-memory index,
 * Watch) mirror the store from here.
 */
import type { Relationship, Revision, TenantId } from "../core/index.js";

/** A tuple written (created or replaced) or deleted at `revision`. */
export interface RelationshipChange {
  readonly revision: Revision;
  /** When the revision committed (the store's clock), millisecond precision. */
  readonly committedAt: Date;
  readonly op: "TOUCH" | "DELETE";
  /** For TOUCH, the tuple as written (caveat and expiration included); for DELETE, as it was. */
  readonly relationship: Relationship;
}

/** A schema written at `revision`; `text` is the whole new schema. */
export interface SchemaChange {
  readonly revision: Revision;
  /** When the revision committed (the store's clock), millisecond precision. */
  readonly committedAt: Date;
  readonly op: "SCHEMA";
  readonly text: string;
}

/**
 * One entry of a tenant's changelog. Schema writes are part of it so that a follower that
 * mirrors the store from the changelog (an in-memory index) learns when to recompile the
 * schema, and so that every revision with a change appears in the log.
 */
export type ChangeEvent = RelationshipChange | SchemaChange;

export interface WaitForChangesOptions {
  /** Resolves the wait early (with the head as it is) when aborted. */
  readonly signal?: AbortSignal;
  /** Resolves the wait (with the head as it is) after this many milliseconds. Default: none. */
  readonly timeoutMs?: number;
}

/** Revisions and the changelog of a tenant. The common rules of `Datastore` (datastore.ts) apply. */
export interface Changelog {
  /** The newest committed revision of the tenant; 0 before its first write. */
  headRevision(tenant: TenantId): Promise<Revision>;

  /**
   * A recent revision that callers in the same time window share, so that their cache keys
   * agree: time is cut into windows of `maxStalenessMs` (by the injected clock) and the answer
   * is the head as it was at the start of the current window. It was head at most
   * `maxStalenessMs` ago, is never newer than head, and never below the oldest readable
   * revision. `maxStalenessMs` 0 returns head.
   */
  optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision>;

  /**
   * The changes with revision greater than `afterRevision`, ordered by revision and, within a
   * revision, in the order of the write (mutations in order, imported tuples in input order,
   * tuples deleted by filter in stable order). A TOUCH that replaced a tuple is one TOUCH entry.
   * Never splits a revision: the result stops at the first revision boundary at or after
   * `limit` entries, so it can exceed `limit` when one revision alone is larger. Resume with
   * the last entry's revision. FAILED_PRECONDITION when `afterRevision` is below the oldest
   * readable revision (that history is gone); INVALID_ARGUMENT when it is newer than head.
   */
  changesSince(tenant: TenantId, afterRevision: Revision, limit: number): Promise<ChangeEvent[]>;

  /**
   * Resolves with the head revision once it is greater than `afterRevision`, or with the head
   * as it is when the timeout passes or the signal aborts. Writes through this instance wake
   * it at once; writes by other processes are seen through LISTEN/NOTIFY when
   * `capabilities.listenNotify`, and otherwise (and as a fallback) by polling the head.
   * Rejects with UNAVAILABLE when the datastore closes meanwhile.
   */
  waitForChanges(
    tenant: TenantId,
    afterRevision: Revision,
    options?: WaitForChangesOptions,
  ): Promise<Revision>;
}
