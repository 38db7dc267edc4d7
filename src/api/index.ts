/**
 * `api/` owns the gRPC server — the trellis.v1 handlers, the request pipeline (caller, deadline,
 * logging, metrics), error mapping, health and reflection; it may import every layer below it,
 * `src/gen/` and `@grpc/*` (only it and `sdk/` may).
 */
export { TENANT_HEADER } from "./caller.js";
export { REQUEST_ID_KEY } from "./errors.js";
export { isLoopbackHost, parseListenAddress } from "./listen-address.js";
export { IMPORTED_AT_KEY, IMPORTED_COUNT_KEY } from "./relationship-service.js";
export {
  DEFAULT_SHUTDOWN_GRACE_MS,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "./server.js";
export { DEFAULT_SERVER_LIMITS, resolveServerLimits, type ServerLimits } from "./server-limits.js";
