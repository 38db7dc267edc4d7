/** Versioned schema text: every write is a new revision, every read a snapshot. */
import type { Revision, TenantId } from "../core/index.js";
import type { RelationshipFilter } from "./relationship-reader.js";

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

/**
 * A tenant's schema versions. The text is stored as given (any string without NUL, else
 * INVALID_ARGUMENT); parsing is the schema layer's.
 * The common rules of `Datastore` (datastore.ts) apply.
 */
export interface SchemaStore {
  /**
   * Stores a new schema version and returns its revision; see `WriteSchemaOptions` for the
   * guard against orphaned tuples.
   */
  writeSchema(tenant: TenantId, text: string, options?: WriteSchemaOptions): Promise<Revision>;

  /** The newest schema written at or before `revision`; `undefined` when there is none. */
  readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined>;
}
