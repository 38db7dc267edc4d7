/**
 * `auth/` owns caller authentication: API keys (minted here, stored hashed by `store/`), JWTs
 * (verified with jose, the only importer of jose) and their keys, scopes, the failure limiter,
 * the audit log, and the redaction of credentials from text bound for a log. It imports `core/`
 * and `store/` only; `api/` applies it to calls.
 */
export { ApiKeys, type ApiKeysOptions, type CreatedApiKey, type NewApiKey } from "./api-keys.js";
export type { AuditLog, AuthFailureEvent, AuthThrottledEvent, WriteEvent } from "./audit-log.js";
export { PinoAuditLog } from "./audit-log.js";
export {
  Authenticator,
  type AuthenticatorOptions,
  UNAUTHENTICATED_MESSAGE,
} from "./authenticator.js";
export {
  FailureLimiter,
  type FailureLimiterOptions,
  limitedAddress,
  peerAddress,
} from "./failure-limiter.js";
export type { JwtKeyEvents } from "./jwt-keys.js";
export { type JwtOptions, JwtVerifier } from "./jwt-verifier.js";
export { AuthFailure, type AuthFailureReason, type Principal } from "./principal.js";
export { redactCredentials } from "./redact-credentials.js";
export { ALL_SCOPES, isScope, knownScopes, parseScopes, SCOPES, type Scope } from "./scopes.js";
