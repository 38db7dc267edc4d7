/**
 * `store/` owns persistence: the `Datastore` interface, its SQLite, PostgreSQL and in-memory
 * engines and the conformance suite every engine must pass. It imports only `core/` and
 * `schema/`.
 */

export { API_KEY_ID } from "./api-key-records.js";
export type * from "./datastore.js";
export { MemoryDatastore, type MemoryDatastoreOptions, MemoryStorage } from "./memory/index.js";
export { DATASTORE_DEFAULTS, type OpenDatastoreOptions, openDatastore } from "./open.js";
export { cursorAfter } from "./read-cursor.js";
