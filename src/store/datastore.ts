/**
 * The `Datastore` contract: what every engine guarantees to the layers above. The conformance
 * suite in `conformance/` is the executable form of this file; a change here ships with its
 * conformance test.
 */
import type { Relationship, Revision, SubjectRef, TenantId } from "../core/index.js";

/**
 * Selects relationships by their fields; every given field must match, absent fields match
 * anything. Used by `readByFilter`, `deleteByFilter`, write preconditions and schema guards.
 */
export interface RelationshipFilter {
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
 * CREATE fails if the tuple exists; TOUCH creates or replaces it (caveat and expiration
 * included); DELETE removes it and is a no-op when it is absent. An expired tuple counts as
 * absent for all three.
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

export interface DeleteByFilterOptions {
  /**
   * The most tuples one call may delete; a positive integer. When more match, the call is
   * refused (FAILED_PRECONDITION, nothing deleted) unless `allowPartial`. Default: no limit.
   */
  readonly limit?: number;
  /** With `limit`: delete the first `limit` matches in stable order and report `partial`. */
  readonly allowPartial?: boolean;
  /**
   * Evaluated at head in the deletion's transaction, before it, as `write` does: one that
   * does not hold fails the call (`PreconditionFailedError`) and nothing is deleted.
   */
  readonly preconditions?: readonly Precondition[];
}

export interface DeleteByFilterResult {
  readonly revision: Revision;
  readonly deleted: number;
  /** True when matches remain because `limit` stopped the deletion. */
  readonly partial: boolean;
}

export interface BulkImportProgress {
  /** 1-based number of the batch just committed. */
  readonly batch: number;
  /** Relationships imported so far by this call. */
  readonly imported: number;
  /** The revision the batch committed as. */
  readonly revision: Revision;
}

export interface BulkImportOptions {
  /** Relationships per transaction (and per revision). Default 10 000; at most 100 000. */
  readonly batchSize?: number;
  /** Called after each committed batch; an exception thrown here stops the import. */
  readonly onProgress?: (progress: BulkImportProgress) => void;
}

export interface BulkImportResult {
  /** The revision of the last committed batch; the head revision when nothing was imported. */
  readonly revision: Revision;
  readonly imported: number;
}

export interface WriteSchemaOptions {
  /**
   * Refuse the write (FAILED_PRECONDITION naming each matching filter and its count) when any
   * of these filters matches a live tuple at head. The schema layer passes the relations and
   * subject types a new schema removes, so that no tuple is orphaned.
   */
  readonly refuseIfAnyMatch?: readonly RelationshipFilter[];
}

export interface StoredSchema {
  readonly text: string;
  /** The revision the schema was written at. */
  readonly revision: Revision;
}

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

/** What one `gc` call removed, summed over all tenants. */
export interface GcResult {
  /** Tenants whose oldest readable revision moved forward. */
  readonly tenants: number;
  /** Tuple rows removed: deleted or replaced before the window, or expired before it. */
  readonly relationships: number;
  /** Revision rows (commit times) removed. */
  readonly revisions: number;
  /** Schema versions superseded before the window. */
  readonly schemas: number;
}

/**
 * A stored API key. The store keeps the hash of the key's secret, never the secret; it knows
 * nothing of what scopes mean.
 */
export interface ApiKeyRecord {
  /** 16 lowercase letters and digits; unique across tenants. */
  readonly id: string;
  readonly tenant: TenantId;
  /** Lowercase hex SHA-256 of the secret. */
  readonly secretHash: string;
  readonly scopes: readonly string[];
  /** At most 200 characters, for people. */
  readonly description: string;
  readonly createdAt: Date;
  /** Absent: the key does not expire. */
  readonly expiresAt?: Date;
  /** Absent while the key is not revoked. */
  readonly revokedAt?: Date;
}

/**
 * What an engine can do; shared code branches on these flags, never on engine names.
 */
export interface DatastoreCapabilities {
  /** Several processes may write the same store at once (PostgreSQL); SQLite has one writer. */
  readonly concurrentWriters: boolean;
  /** Writes by other processes wake `waitForChanges` at once; otherwise a poll sees them. */
  readonly listenNotify: boolean;
}

/**
 * Persistent, multi-tenant storage of relation tuples, schemas and their history.
 *
 * Common rules, for every method unless its documentation says otherwise:
 * - Every method is async and acts on one tenant, named by its first argument; an unknown
 *   tenant is NOT_FOUND. Tenants share nothing: tuples, schema, revisions and changelog.
 * - A revision is a per-tenant integer, bumped by every successful write (tuples or schema);
 *   0 is the fresh tenant. Reads are snapshots at a revision: they see exactly the writes at
 *   or before it. A revision newer than head is INVALID_ARGUMENT; one below the tenant's
 *   oldest readable revision (see `gc`) is FAILED_PRECONDITION ("revision N has been
 *   garbage-collected").
 * - Reads exclude tuples whose expiration is at or before now (the injected clock), whatever
 *   the revision. Relationships come back with their caveat (name and JSON context) and
 *   expiration (a `Date`, millisecond precision) as written.
 * - Bad arguments are INVALID_ARGUMENT naming the field. Driver failures never escape raw:
 *   connection problems are UNAVAILABLE, anything else INTERNAL, with `cause` set. A closed
 *   datastore answers UNAVAILABLE.
 * - Stable order means by resource type, resource id, relation, subject type, subject id,
 *   subject relation (no relation first), comparing strings by their UTF-8 bytes.
 */
export interface Datastore {
  readonly capabilities: DatastoreCapabilities;

  /** Creates an empty tenant at revision 0; ALREADY_EXISTS when the id is taken. */
  createTenant(id: TenantId): Promise<void>;

  /** Every tenant id, sorted. */
  listTenants(): Promise<TenantId[]>;

  /**
   * Stores a new API key of an existing tenant (NOT_FOUND otherwise); ALREADY_EXISTS when the
   * id is taken. Key records are not versioned: they are outside revisions and the changelog.
   */
  createApiKey(record: ApiKeyRecord): Promise<void>;

  /** The key with this id, revoked and expired ones included; undefined when there is none. */
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;

  /** The keys of a tenant, newest first (ties by id); NOT_FOUND for an unknown tenant. */
  listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]>;

  /**
   * Marks the key revoked at `at` and returns it; a key revoked before keeps its first
   * revocation time. Undefined when there is no such key.
   */
  revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined>;

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
   * Applies every mutation and returns the new revision, or applies nothing and leaves the
   * revision unchanged. Preconditions are evaluated at head inside the same transaction, before
   * the mutations. Errors: an empty write, an invalid tuple or the same tuple twice
   * (INVALID_ARGUMENT, field `mutations[i]…`); a precondition that does not hold or a CREATE of
   * an existing tuple (`PreconditionFailedError`, FAILED_PRECONDITION, naming it). A write
   * whose mutations change nothing (DELETEs of absent tuples) still gets a new revision.
   */
  write(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions?: readonly Precondition[],
  ): Promise<Revision>;

  /**
   * Deletes the live tuples matching `filter` at head, atomically, as one new revision (even
   * when nothing matched). With `limit`, see `DeleteByFilterOptions`.
   */
  deleteByFilter(
    tenant: TenantId,
    filter: RelationshipFilter,
    options?: DeleteByFilterOptions,
  ): Promise<DeleteByFilterResult>;

  /**
   * Streams relationships in as CREATEs, one transaction and one revision per batch, without
   * holding more than one batch in memory. A failing batch (an invalid tuple or one repeated
   * inside the batch: INVALID_ARGUMENT; a tuple that already exists: FAILED_PRECONDITION) is
   * rolled back whole and the error names the batch and the 1-based line (position in
   * `source`); earlier batches stay committed. An error thrown by `source` itself propagates and
   * the incomplete batch is not written.
   */
  bulkImport(
    tenant: TenantId,
    source: AsyncIterable<Relationship> | Iterable<Relationship>,
    options?: BulkImportOptions,
  ): Promise<BulkImportResult>;

  /**
   * Every live tuple at `revision`, in stable order, read page by page (bounded memory). The
   * revision is checked when iteration starts and on every page; a revision garbage-collected
   * during a long export fails the iteration with FAILED_PRECONDITION. No resource is held
   * between pages, so abandoning the iteration early needs no cleanup.
   */
  export(tenant: TenantId, revision: Revision): AsyncIterable<Relationship>;

  /**
   * Stores a new schema version and returns its revision; see `WriteSchemaOptions` for the
   * guard against orphaned tuples. The text is stored as given; parsing is the schema layer's.
   */
  writeSchema(tenant: TenantId, text: string, options?: WriteSchemaOptions): Promise<Revision>;

  /** The newest schema written at or before `revision`; `undefined` when there is none. */
  readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined>;

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

  /**
   * Removes history older than `olderThanMs` (by commit time, injected clock), for every
   * tenant: the newest revision committed before the window becomes the tenant's oldest
   * readable revision G; tuple rows deleted or replaced at or before G, rows created at or
   * before G that have expired, revision rows below G and schema versions superseded at or
   * before G are removed. Every revision that was head within the window stays readable, and
   * `changesSince(G)` stays complete.
   */
  gc(olderThanMs: number): Promise<GcResult>;

  /**
   * Closes connections and files. Pending `waitForChanges` calls reject with UNAVAILABLE;
   * later calls to any method reject with UNAVAILABLE. Closing twice is a no-op.
   */
  close(): Promise<void>;
}
