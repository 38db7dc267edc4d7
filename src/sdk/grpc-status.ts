/**
 * The one place where gRPC statuses become `TrellisError`s on the client side: the status's
 * name is the error's code, so `err.code === "FAILED_PRECONDITION"` reads the same in-process
 * and over the network. The original status (numeric code, details, trailing metadata with the
 * server's request id) stays on `err.cause`.
 */
import { type ServiceError, status } from "@grpc/grpc-js";
import { TrellisError, type TrellisErrorCode } from "../core/errors.js";

/**
 * Every non-OK status has a code; a status added to grpc-js does not compile until mapped.
 * Three statuses Trellis servers never send fold into the nearest code: UNKNOWN and DATA_LOSS
 * into INTERNAL, OUT_OF_RANGE into INVALID_ARGUMENT.
 */
const TRELLIS_CODE = {
  [status.CANCELLED]: "CANCELLED",
  [status.UNKNOWN]: "INTERNAL",
  [status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [status.NOT_FOUND]: "NOT_FOUND",
  [status.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [status.PERMISSION_DENIED]: "PERMISSION_DENIED",
  [status.RESOURCE_EXHAUSTED]: "RESOURCE_EXHAUSTED",
  [status.FAILED_PRECONDITION]: "FAILED_PRECONDITION",
  [status.ABORTED]: "ABORTED",
  [status.OUT_OF_RANGE]: "INVALID_ARGUMENT",
  [status.UNIMPLEMENTED]: "UNIMPLEMENTED",
  [status.INTERNAL]: "INTERNAL",
  [status.UNAVAILABLE]: "UNAVAILABLE",
  [status.DATA_LOSS]: "INTERNAL",
  [status.UNAUTHENTICATED]: "UNAUTHENTICATED",
} as const satisfies Record<Exclude<status, status.OK>, TrellisErrorCode>;

/** The Trellis code of a numeric gRPC status; INTERNAL for one this table does not know. */
export function trellisCodeOf(code: number): TrellisErrorCode {
  return (TRELLIS_CODE as Partial<Record<number, TrellisErrorCode>>)[code] ?? "INTERNAL";
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === "number" &&
    typeof (err as Partial<ServiceError>).details === "string"
  );
}

/** A failed call's error as a `TrellisError`; anything that is not a gRPC status is rethrown. */
export function errorFromGrpc(err: unknown): TrellisError {
  if (err instanceof TrellisError) return err;
  if (!isServiceError(err)) throw err;
  const message = err.details !== "" ? err.details : err.message;
  return new TrellisError(trellisCodeOf(err.code), message, { cause: err });
}
