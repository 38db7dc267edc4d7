/** Writes of relation tuples: mutations with preconditions, deletion by filter, bulk import. */
import type { Relationship, Revision, TenantId } from "../core/index.js";
import type { Mutation, Precondition, RelationshipFilter } from "../core/relationship-filter.js";

export type {
  Mutation,
  MutationOp,
  Precondition,
  PreconditionOp,
} from "../core/relationship-filter.js";

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

/**
 * Atomic writes of tuples, each committed as one new revision of the tenant (a bulk import:
 * one per batch). The common rules of `Datastore` (datastore.ts) apply. Which rows a write
 * inserts and ends, and which errors it raises, is decided by the engine-independent write
 * planner (`write-planner.ts`); the engines only read what it needs and carry out its plan.
 */
export interface RelationshipWriter {
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
}
