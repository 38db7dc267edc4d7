/** Maps better-sqlite3 failures to TrellisError codes so that no raw driver error escapes. */
import { TrellisError } from "../../core/index.js";
import type { SqliteDriverError } from "./sqlite-driver.js";

function isDriverError(err: unknown): err is SqliteDriverError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_");
}

/** Another connection holds the lock longer than the busy timeout. */
export function isBusy(err: unknown): boolean {
  return (
    isDriverError(err) &&
    (err.code.startsWith("SQLITE_BUSY") || err.code.startsWith("SQLITE_LOCKED"))
  );
}

export function isUniqueViolation(err: unknown): boolean {
  return (
    isDriverError(err) &&
    (err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}

/** Failures of the file or its locks, which may pass: UNAVAILABLE. */
const UNAVAILABLE_PREFIXES = [
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_CANTOPEN",
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_READONLY",
  "SQLITE_PROTOCOL",
];

export function wrapSqliteError(err: unknown, action: string): TrellisError {
  if (err instanceof TrellisError) return err;
  if (isDriverError(err) && UNAVAILABLE_PREFIXES.some((p) => err.code.startsWith(p))) {
    return new TrellisError("UNAVAILABLE", `sqlite: ${action} failed: ${err.message}`, {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TrellisError("INTERNAL", `sqlite: ${action} failed: ${message}`, { cause: err });
}
