/**
 * gRPC statuses as HTTP statuses and JSON bodies, per error dialect (see `ErrorDialect`). The
 * failure itself is already mapped once, by `errors.ts`, to a gRPC code and message; this only
 * spells that status for HTTP.
 */
import { status } from "@grpc/grpc-js";
import { statusName } from "../errors.js";
import type { ErrorDialect } from "./json-route.js";

/**
 * trellis.v1 over HTTP: the statuses of `google.rpc.Code`'s documentation, except
 * FAILED_PRECONDITION, which is 412 (an unknown type, a write precondition that did not hold, a
 * zookie past the garbage-collection window: the request is well formed, the state refuses it).
 */
export const TRELLIS_HTTP_STATUS = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 412,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
} as const satisfies Record<status, number>;

/**
 * SpiceDB's routes: what its gateway (grpc-gateway v2, `runtime.HTTPStatusFromCode`) answers.
 * It differs from the above in FAILED_PRECONDITION, which grpc-gateway deliberately keeps at 400.
 */
export const GATEWAY_HTTP_STATUS = {
  ...TRELLIS_HTTP_STATUS,
  [status.FAILED_PRECONDITION]: 400,
} as const satisfies Record<status, number>;

/** A request body (or one message of a streamed body) over the receive limit. */
export const PAYLOAD_TOO_LARGE = 413;

export function httpStatusOf(dialect: ErrorDialect, code: status): number {
  const table = dialect === "trellis" ? TRELLIS_HTTP_STATUS : GATEWAY_HTTP_STATUS;
  return table[code] ?? 500;
}

/** The JSON body of a failed call (and the `error` member of a stream's last line). */
export function errorBody(dialect: ErrorDialect, code: status, message: string): object {
  return dialect === "trellis"
    ? { code: statusName(code), message }
    : { code, message, details: [] };
}
