/**
 * `store/memory/` is the in-memory engine: the `Datastore` contract in plain JavaScript
 * structures, for browsers as well as Node. It imports only `core/` and the engine-independent
 * modules of `store/`, none of which uses a Node-only API (`.dependency-cruiser.cjs` enforces
 * it); this file is its entry point for code that must not load `store/open.ts`.
 */
export { MemoryDatastore, type MemoryDatastoreOptions } from "./memory-datastore.js";
export { MemoryStorage } from "./memory-storage.js";
