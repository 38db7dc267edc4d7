/**
 * `store/` owns persistence: the `Datastore` interface, its SQLite and PostgreSQL engines and
 * the conformance suite both must pass. It imports only `core/` and `schema/`.
 */

export { API_KEY_ID } from "./api-key-records.js";
export type * from "./datastore.js";
export { DATASTORE_DEFAULTS, type OpenDatastoreOptions, openDatastore } from "./open.js";
export { cursorAfter } from "./read-cursor.js";
