/**
 * `sdk/` owns the gRPC client SDK (`trellis/client`) and the vocabulary it shares with the
 * embedded `Trellis` (`TrellisApi` and its types, the reading of string and object inputs). It
 * imports only `core/`, `src/gen/` and `@grpc/grpc-js`; `trellis-api.ts` and
 * `request-inputs.ts` stay free of gRPC so the embedded entry point can use them.
 */
export {
  MaxDepthExceededError,
  PreconditionFailedError,
  SchemaError,
  TrellisError,
  type TrellisErrorCode,
} from "../core/errors.js";
export {
  type CaveatContext,
  type CaveatRef,
  formatRelationship,
  type ObjectRef,
  parseRelationship,
  type Relationship,
  type SubjectRef,
} from "../core/relationship.js";
export type { Consistency, Zookie } from "../core/revision.js";
export type { ApiKeyInfo, CreateApiKeyInput, CreatedApiKey } from "./admin-api.js";
export {
  type CallOptions,
  CLIENT_DEFAULTS,
  type ClientTlsOptions,
  type RetryEvent,
  type TrellisClientOptions,
} from "./client-options.js";
export { trellisCodeOf } from "./grpc-status.js";
export { RETRY_DEFAULTS, type RetryOptions } from "./retry-policy.js";
export type * from "./trellis-api.js";
export { TrellisClient } from "./trellis-client.js";
