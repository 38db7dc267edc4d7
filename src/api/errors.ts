/**
 * The one place where failures become gRPC statuses. Trellis errors keep their code and
 * message (with the field they name); anything else — a bug, a driver error that escaped, a
 * store that is down — reaches the caller only as a generic message with a request id, and the
 * detail goes to the server log.
 */

import { Metadata, status } from "@grpc/grpc-js";
import { UNAUTHENTICATED_MESSAGE } from "../auth/index.js";
import { TrellisError, type TrellisErrorCode } from "../core/errors.js";
import { boundMessage } from "../core/quote-input.js";

/** Every Trellis code has a gRPC status; a new code does not compile until it is mapped. */
const GRPC_STATUS = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ABORTED: status.ABORTED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  UNAVAILABLE: status.UNAVAILABLE,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
} as const satisfies Record<TrellisErrorCode, status>;

/** Trailing metadata key carrying the request id of every failed call. */
export const REQUEST_ID_KEY = "trellis-request-id";

export interface GrpcFailure {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  /**
   * The error to log with its stack, at error level, when the failure is the server's (a bug,
   * an unknown exception) or its store's; absent for a caller's mistake.
   */
  readonly serverSide?: unknown;
}

const trailers = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * Attaches trailing metadata to an error on its way to `toGrpcFailure` (Import uses it to say
 * how much was committed before a batch failed). Returns the error for `throw`.
 */
export function withTrailers<E extends object>(err: E, values: Record<string, string>): E {
  trailers.set(err, { ...trailers.get(err), ...values });
  return err;
}

/** Maps any thrown value to the status the caller receives. */
export function toGrpcFailure(err: unknown, requestId: string): GrpcFailure {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_KEY, requestId);
  if (typeof err === "object" && err !== null) {
    for (const [key, value] of Object.entries(trailers.get(err) ?? {})) metadata.set(key, value);
  }
  if (!(err instanceof TrellisError)) {
    return {
      code: status.INTERNAL,
      details: `internal error (request id ${requestId})`,
      metadata,
      serverSide: err,
    };
  }
  switch (err.code) {
    case "INTERNAL":
      return {
        code: status.INTERNAL,
        details: `internal error (request id ${requestId})`,
        metadata,
        serverSide: err,
      };
    case "UNAVAILABLE":
      // A store failure carries its driver error as `cause` and may quote it (hosts, file
      // paths): that detail stays in the log. Our own messages ("shutting down") go out.
      if (err.cause === undefined) {
        return { code: status.UNAVAILABLE, details: describe(err), metadata };
      }
      return {
        code: status.UNAVAILABLE,
        details: `the service is unavailable; retry later (request id ${requestId})`,
        metadata,
        serverSide: err,
      };
    case "UNAUTHENTICATED":
      // One message for every reason, so a failed attempt teaches nothing about valid ones.
      return { code: status.UNAUTHENTICATED, details: UNAUTHENTICATED_MESSAGE, metadata };
    default:
      return { code: GRPC_STATUS[err.code], details: describe(err), metadata };
  }
}

/** The status of one CheckBulk item's error (never a server fault: those fail the call). */
export function itemFailure(err: TrellisError): { code: status; message: string } {
  return { code: GRPC_STATUS[err.code], message: describe(err) };
}

/**
 * The message with the field it concerns, so that a caller can find the bad input; bounded,
 * whatever the message quotes, because gRPC sends it as a trailer (and a peer that receives
 * a trailer over its header-list limit never sees the status at all).
 */
function describe(err: TrellisError): string {
  return boundMessage(
    err.field !== undefined && !err.message.includes(err.field)
      ? `${err.field}: ${err.message}`
      : err.message,
  );
}

/** The name of a status code (`DEADLINE_EXCEEDED`), for logs and metric labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}
