/**
 * The one vocabulary of both entry points: the embedded `Trellis` (package `trellis`) and the
 * gRPC `TrellisClient` (package `trellis/client`) implement `TrellisApi`, so code written
 * against one runs against the other. Types only; nothing here speaks gRPC.
 */
import type { TrellisError } from "../core/errors.js";
import type {
  CheckTrace,
  ExpandedSubject,
  ExpandTree,
  PermissionAnswer,
  Permissionship,
} from "../core/permission.js";
import type { CaveatContext, ObjectRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { MutationOp, Precondition, RelationshipFilter } from "../core/relationship-filter.js";
import type { Consistency, Zookie } from "../core/revision.js";
import type { SchemaDifference, SchemaDifferenceKind } from "../core/schema-difference.js";

// The shared vocabulary, declared once in core.
export type {
  CheckTrace,
  ExpandedSubject,
  ExpandTree,
  MutationOp,
  PermissionAnswer,
  Permissionship,
  Precondition,
  RelationshipFilter,
  SchemaDifference,
  SchemaDifferenceKind,
};

/** An object: `"document:readme"` or `{ type: "document", id: "readme" }`. */
export type ObjectInput = string | ObjectRef;

/**
 * A subject: `"user:alice"`, a userset `"group:eng#member"`, or the object form
 * `{ type, id, relation? }`.
 */
export type SubjectInput = string | SubjectRef;

/**
 * A relationship: the tuple string form
 * (`document:1#viewer@user:bob[caveat:{"k":1}][expiration:2030-01-01T00:00:00Z]`) or the object.
 */
export type RelationshipInput = string | Relationship;

/** One change of a write: a tuple string (a TOUCH), or an operation on a relationship. */
export type WriteItem =
  | string
  | { readonly op: MutationOp; readonly relationship: RelationshipInput };

/** How fresh a read must be; `minimize_latency` when absent (schema reads: fully consistent). */
export interface ConsistencyOptions {
  readonly consistency?: Consistency;
}

export interface WriteOptions {
  /** Conditions that must all hold when the write applies, or nothing is written. */
  readonly preconditions?: readonly Precondition[];
}

export interface DeleteOptions {
  /**
   * The most tuples this call deletes; when more match, nothing is deleted
   * (FAILED_PRECONDITION) unless `allowPartial`. Embedded default: no limit; a server caps one
   * call at its own limit (1000 by default) and refuses a larger one.
   */
  readonly limit?: number;
  /** With `limit`: delete the first `limit` matches in stable order and report `partial`. */
  readonly allowPartial?: boolean;
  /** Checked at head in the deletion's transaction: if one fails, nothing is deleted. */
  readonly preconditions?: readonly Precondition[];
}

export interface ReadOptions extends ConsistencyOptions {
  /** At most this many relationships. Default: all. */
  readonly limit?: number;
}

export interface CheckOptions extends ConsistencyOptions {
  /** Values for caveat parameters; a relationship's own context wins for the same parameter. */
  readonly context?: CaveatContext;
  /** Return the tree of sub-problems the check visited, in `trace`. */
  readonly trace?: boolean;
}

export interface CheckResult extends PermissionAnswer {
  /** The snapshot the answer was computed at. */
  readonly zookie: Zookie;
  /** With `trace: true`. */
  readonly trace?: CheckTrace;
}

/** One check of a batch. */
export interface CheckBulkItem {
  readonly resource: ObjectInput;
  readonly permission: string;
  readonly subject: SubjectInput;
  readonly context?: CaveatContext;
}

/** A batch item: an object, or the string `resource#permission@subject`. */
export type CheckBulkItemInput = string | CheckBulkItem;

/** One answer of a batch: the answer, or the error of that item alone. */
export type CheckBulkResult = PermissionAnswer | { readonly error: TrellisError };

export interface CheckBulkResponse {
  /** One per item, in order. */
  readonly results: readonly CheckBulkResult[];
  /** The snapshot every answer was computed at. */
  readonly zookie: Zookie;
}

export interface ListOptions extends ConsistencyOptions {
  /** Values for caveat parameters. */
  readonly context?: CaveatContext;
}

/** An object of ListObjects, with how it is reached. */
export interface ListedObject extends PermissionAnswer {
  /** `type:id`. */
  readonly object: string;
}

/** A subject of ListSubjects, with how it is reached. */
export interface ListedSubject extends PermissionAnswer {
  /** `type:id`, `type:id#relation`, or `type:*` for every subject of the type. */
  readonly subject: string;
  /** For `type:*`: the subjects (`type:id`) the wildcard does not reach. Otherwise empty. */
  readonly excluded: readonly string[];
}

export interface ExpandResult {
  readonly tree: ExpandTree;
  readonly zookie: Zookie;
}

export interface WatchOptions {
  /** Stream the changes after this zookie. Default: from now. */
  readonly after?: Zookie | string;
  /** Stops the watch; the iterator then fails with CANCELLED. Breaking out of it also stops it. */
  readonly signal?: AbortSignal;
}

/** A relationship written (created or replaced: TOUCH) or deleted. */
export interface RelationshipChange {
  readonly op: "TOUCH" | "DELETE";
  readonly relationship: Relationship;
}

/** The changes of one write. */
export interface WatchEvent {
  /** The snapshot after these changes: pass it as `after` to resume exactly here. */
  readonly zookie: Zookie;
  readonly changes: readonly RelationshipChange[];
  /** The write changed the schema. */
  readonly schemaChanged: boolean;
  /** When the write committed, by the store's clock. */
  readonly committedAt: Date;
}

export interface WriteResult {
  /** The snapshot that contains the write; read `{ atLeastAsFresh: zookie }` to see it. */
  readonly zookie: Zookie;
}

export interface DeleteResult {
  readonly zookie: Zookie;
  readonly deleted: number;
  /** Matches remain because `limit` stopped the deletion. */
  readonly partial: boolean;
}

export interface ReadSchemaResult {
  /** The schema text as written. */
  readonly schema: string;
  readonly zookie: Zookie;
}

/** One problem in a schema, and where (1-based line and column). */
export interface SchemaProblem {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/** A schema checked without writing it. */
export interface SchemaValidation {
  /** Every problem found; empty when the schema is valid. */
  readonly problems: readonly SchemaProblem[];
  /** The schema in canonical form, when it is valid. */
  readonly formatted?: string;
}

/** What writing a schema would change against the current one. */
export interface SchemaDiffResult {
  readonly differences: readonly SchemaDifference[];
  /** The proposed schema's problems; when there are any, nothing is compared. */
  readonly problems: readonly SchemaProblem[];
}

/** One batch of an export: relationships in stable order, all at one snapshot. */
export interface ExportBatch {
  /** The snapshot exported (the same on every batch). */
  readonly zookie: Zookie;
  readonly relationships: readonly Relationship[];
}

export interface ImportResult {
  /** The snapshot containing everything imported. */
  readonly zookie: Zookie;
  /** How many relationships were created. */
  readonly imported: number;
}

export interface ImportOptions {
  /** Told after each batch is written (embedded) or sent (over the network), with its size. */
  readonly onBatch?: (size: number) => void;
}

/**
 * Everything an application asks Trellis, the same in-process and over the network. Methods
 * reject with `TrellisError` (its `code` is a gRPC status name); streamed answers are async
 * iterators, and breaking out of one stops the work behind it.
 *
 * It covers every RPC of trellis.v1's PermissionService, RelationshipService and SchemaService
 * (`test/sdk/rpc-coverage.test.ts` keeps it so). AdminService (API keys, tenants) is left out:
 * it manages the callers of a server, which an embedded instance does not have; `TrellisClient`
 * offers it beside this interface (`admin-api.ts`).
 */
export interface TrellisApi {
  /**
   * The zookie of the write (schema, relationships or delete) that completed last through this
   * instance; `undefined` before the first. Read with `{ atLeastAsFresh: lastZookie }` to see
   * your own writes. With concurrent writes, use the zookie each write returns instead.
   */
  readonly lastZookie: Zookie | undefined;

  /** Replaces the schema; refused (FAILED_PRECONDITION) when it would orphan relationships. */
  writeSchema(schema: string): Promise<WriteResult>;

  /** The schema text; fully consistent unless asked otherwise. NOT_FOUND before the first. */
  readSchema(options?: ConsistencyOptions): Promise<ReadSchemaResult>;

  /** Parses and compiles a schema without writing it: every problem, with its position. */
  validateSchema(schema: string): Promise<SchemaValidation>;

  /** What writing `schema` would change, compared with the current schema. */
  diffSchema(schema: string): Promise<SchemaDiffResult>;

  /** Applies every item atomically if every precondition holds, or nothing. */
  writeRelationships(items: readonly WriteItem[], options?: WriteOptions): Promise<WriteResult>;

  /** Deletes the relationships matching `filter`, atomically. */
  deleteRelationships(filter: RelationshipFilter, options?: DeleteOptions): Promise<DeleteResult>;

  /** The relationships matching `filter` at one snapshot, in a stable order. */
  readRelationships(
    filter: RelationshipFilter,
    options?: ReadOptions,
  ): AsyncIterableIterator<Relationship>;

  /**
   * Creates relationships in bulk (CREATE: one that exists fails its batch). Each batch is one
   * atomic write; batches before a failing one stay written.
   */
  importRelationships(
    batches: Iterable<readonly RelationshipInput[]> | AsyncIterable<readonly RelationshipInput[]>,
    options?: ImportOptions,
  ): Promise<ImportResult>;

  /** Every relationship at one snapshot, in batches, in a stable order. */
  exportRelationships(options?: ConsistencyOptions): AsyncIterableIterator<ExportBatch>;

  /** May `subject` do `permission` (or have the relation) on `resource`? */
  check(
    resource: ObjectInput,
    permission: string,
    subject: SubjectInput,
    options?: CheckOptions,
  ): Promise<CheckResult>;

  /** Many checks at one snapshot; an item's malformed input is that item's error alone. */
  checkBulk(
    items: readonly CheckBulkItemInput[],
    options?: ConsistencyOptions,
  ): Promise<CheckBulkResponse>;

  /** The userset tree of `permission` on `resource`. */
  expand(
    resource: ObjectInput,
    permission: string,
    options?: ConsistencyOptions,
  ): Promise<ExpandResult>;

  /**
   * The objects (`type:id`) of `resourceType` on which `subject` has `permission`, in id
   * order. Only ALLOWED ones: an object reachable only through a caveat that needs more
   * context is left out; `listObjectsDetailed` reports those too.
   */
  listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options?: ListOptions,
  ): AsyncIterableIterator<string>;

  /** Like `listObjects`, with CONDITIONAL objects and their missing context. */
  listObjectsDetailed(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options?: ListOptions,
  ): AsyncIterableIterator<ListedObject>;

  /**
   * The subjects of `subjectType` that have `permission` on `resource`, in id order, ALLOWED
   * only. `subjectType` may name a relation (`group#member`) to list usersets. `type:*` comes
   * first when every subject of the type has it, except the ones `listSubjectsDetailed`
   * reports as `excluded`.
   */
  listSubjects(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options?: ListOptions,
  ): AsyncIterableIterator<string>;

  /** Like `listSubjects`, with CONDITIONAL subjects and the wildcard's exclusions. */
  listSubjectsDetailed(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options?: ListOptions,
  ): AsyncIterableIterator<ListedSubject>;

  /** The changes after `after`, one event per write, as they happen; it never ends by itself. */
  watch(options?: WatchOptions): AsyncIterableIterator<WatchEvent>;

  /** Releases connections (and, embedded, the datastore). Closing twice is a no-op. */
  close(): Promise<void>;
}
