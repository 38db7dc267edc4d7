/**
 * `engine/` owns evaluation — Check, CheckBulk, Expand, ListObjects, ListSubjects — over an
 * in-memory, multi-version tuple index mirrored from the store, with the result cache,
 * zookies, consistency, and validation files. It imports `core/`, `schema/` and `store/`.
 */
export * from "./engine.js";
export type { TraceNode } from "./evaluator.js";
export type { ExpandNode } from "./expand.js";
export type { CacheStats, ResultCacheOptions } from "./result-cache.js";
export * from "./validation-file.js";
export { ZookieCodec } from "./zookie.js";
