/**
 * The `Datastore` contract: what every engine guarantees to the layers above, composed of one
 * small interface per concern (tenants, credentials, relationship reads and writes, schema,
 * changelog, shared secrets, maintenance), each in its own file with its types. A layer that needs one concern
 * may take that interface alone. The conformance suite in `conformance/` is the executable
 * form of these files; a change here ships with its conformance test.
 */
import type { Changelog } from "./changelog.js";
import type { CredentialStore } from "./credential-store.js";
import type { RelationshipReader } from "./relationship-reader.js";
import type { RelationshipWriter } from "./relationship-writer.js";
import type { SchemaStore } from "./schema-store.js";
import type { SecretStore } from "./secret-store.js";
import type { StoreMaintenance } from "./store-maintenance.js";
import type { TenantStore } from "./tenant-store.js";

export type * from "./changelog.js";
export type * from "./credential-store.js";
export type * from "./relationship-reader.js";
export type * from "./relationship-writer.js";
export type * from "./schema-store.js";
export type * from "./secret-store.js";
export type * from "./store-maintenance.js";
export type * from "./tenant-store.js";

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
 * Persistent, multi-tenant storage of relation tuples, schemas and their history: every
 * concern's interface, implemented by each engine.
 *
 * Common rules, for every method of every concern unless its documentation says otherwise:
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
export interface Datastore
  extends TenantStore,
    CredentialStore,
    RelationshipReader,
    RelationshipWriter,
    SchemaStore,
    Changelog,
    SecretStore,
    StoreMaintenance {
  readonly capabilities: DatastoreCapabilities;
}
