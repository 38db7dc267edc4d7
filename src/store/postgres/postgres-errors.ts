/**
 * Maps `pg` failures to TrellisError codes, worded by us: a caller never sees the driver's
 * or the server's text (which may name hosts, users or rows), only what went wrong and what to
 * do; the driver's error stays as `cause`, for the server's log.
 */
import { TrellisError } from "../../core/index.js";

/** Node socket errors meaning the server cannot be reached. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "EAI_AGAIN",
]);

/**
 * The driver's own failures, which carry no code: the connection was lost or never made, a
 * statement got no answer in time (`query_timeout`), or the protocol lost its place after one.
 * The connection is unusable after any of them.
 */
const BROKEN_CONNECTION = new RegExp(
  [
    "Connection terminated",
    "timeout exceeded when trying to connect",
    "timeout expired",
    "Client has encountered a connection error",
    "Client was closed and is not queryable",
    "Connection ended",
    "Query read timeout",
    "Received unexpected \\w+ message from backend",
  ].join("|"),
  "i",
);

function codeOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** SQLSTATE 23505: a unique index refused the row. */
export function isUniqueViolation(err: unknown): boolean {
  return codeOf(err) === "23505";
}

/** True when the connection itself is unusable (the client must not go back to the pool). */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof TrellisError) return err.code === "UNAVAILABLE";
  const code = codeOf(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    // 08: connection exception; 57P01-57P03: the server is shutting down, crashed or starting.
    if (code.startsWith("08") || code.startsWith("57P")) return true;
  }
  return err instanceof Error && BROKEN_CONNECTION.test(err.message);
}

/**
 * The TrellisError for a failure of `action` (a method name): UNAVAILABLE when the server
 * cannot be reached or cannot take the work now (retry later), DEADLINE_EXCEEDED when a
 * statement ran out of its time on the server, ABORTED for a conflict with a concurrent
 * transaction (retry the call), INVALID_ARGUMENT for a value the server cannot store, and
 * INTERNAL for anything else.
 */
export function wrapPostgresError(err: unknown, action: string): TrellisError {
  if (err instanceof TrellisError) return err;
  const code = codeOf(err);
  if (isConnectionFailure(err)) {
    return new TrellisError(
      "UNAVAILABLE",
      `the PostgreSQL store cannot be reached (${action}); retry later`,
      { cause: err },
    );
  }
  // 53: insufficient resources (too many connections, out of memory, disk full).
  if (code?.startsWith("53")) {
    return new TrellisError(
      "UNAVAILABLE",
      `the PostgreSQL store is out of resources (${action}); retry later`,
      { cause: err },
    );
  }
  // 57014: the statement was cancelled, by its statement_timeout or by an operator.
  if (code === "57014") {
    return new TrellisError(
      "DEADLINE_EXCEEDED",
      `the PostgreSQL store did not finish ${action} in the time allowed`,
      { cause: err },
    );
  }
  // Serialization failures and deadlocks: the caller may retry the whole call.
  if (code === "40001" || code === "40P01") {
    return new TrellisError(
      "ABORTED",
      `${action} conflicted with a concurrent transaction and was rolled back; retry it`,
      { cause: err },
    );
  }
  // 22021 and 22P05: a character the database cannot store (NUL, or one outside its encoding).
  // The store's argument checks refuse these first; this keeps a missed one a caller's error.
  if (code === "22021" || code === "22P05") {
    return new TrellisError(
      "INVALID_ARGUMENT",
      `${action}: a value holds a character the store cannot keep (such as NUL)`,
      { cause: err },
    );
  }
  return new TrellisError("INTERNAL", `the PostgreSQL store failed ${action}`, { cause: err });
}
