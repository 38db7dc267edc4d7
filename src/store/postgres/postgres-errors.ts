/** Maps `pg` failures to TrellisError codes so that no raw driver error escapes. */
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

function codeOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** SQLSTATE 23505: a unique index refused the row. */
export function isUniqueViolation(err: unknown): boolean {
  return codeOf(err) === "23505";
}

/** True when the connection itself is unusable (the client should not go back to the pool). */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof TrellisError) return err.code === "UNAVAILABLE";
  const code = codeOf(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    // 08: connection exception; 57P0x: the server is shutting down or restarting.
    if (code.startsWith("08") || code.startsWith("57P")) return true;
  }
  const message = err instanceof Error ? err.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(
    message,
  );
}

export function wrapPostgresError(err: unknown, action: string): TrellisError {
  if (err instanceof TrellisError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isConnectionFailure(err)) {
    return new TrellisError("UNAVAILABLE", `postgres: ${action} failed: ${message}`, {
      cause: err,
    });
  }
  const code = codeOf(err);
  // Serialization failures and deadlocks: the caller may retry the whole call.
  if (code === "40001" || code === "40P01") {
    return new TrellisError("ABORTED", `postgres: ${action} failed: ${message}`, { cause: err });
  }
  return new TrellisError("INTERNAL", `postgres: ${action} failed: ${message}`, { cause: err });
}
