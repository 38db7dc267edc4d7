/**
 * The package's main entry (`trellis`): the embedded `Trellis` and the vocabulary it shares
 * with the gRPC client (`trellis/client`). It sits above every layer and may import `core/`,
 * `schema/`, `store/`, `engine/` and the gRPC-free part of `sdk/`; importing it never loads
 * gRPC.
 */

export type { Clock } from "./core/clock.js";
export {
  MaxDepthExceededError,
  PreconditionFailedError,
  SchemaError,
  TrellisError,
  type TrellisErrorCode,
} from "./core/errors.js";
export {
  type CaveatContext,
  type CaveatRef,
  formatObjectRef,
  formatRelationship,
  formatSubjectRef,
  type ObjectRef,
  parseObjectRef,
  parseRelationship,
  parseSubjectRef,
  type Relationship,
  type SubjectRef,
} from "./core/relationship.js";
export type { Consistency, Revision, TenantId, Zookie } from "./core/revision.js";
export { ENGINE_DEFAULTS, Engine, type EngineOptions } from "./engine/engine.js";
export type { CacheStats, ResultCacheOptions } from "./engine/result-cache.js";
export { compileSchemaFile } from "./schema/schema-files.js";
export type * from "./sdk/trellis-api.js";
export type { Datastore } from "./store/datastore.js";
export { DATASTORE_DEFAULTS, type OpenDatastoreOptions, openDatastore } from "./store/open.js";
export { type PresetName, TRELLIS_DEFAULTS, Trellis, type TrellisOptions } from "./trellis.js";
