/**
 * Maps better-sqlite3 failures to TrellisError codes, worded by us: a caller never sees the
 * driver's text, only what went wrong; the driver's error stays as `cause`, for the server's
 * log.
 */
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

/** Failures of the file or its locks, which may pass (UNAVAILABLE), each in our words. */
const UNAVAILABLE: readonly (readonly [prefix: string, reason: string])[] = [
  ["SQLITE_BUSY", "the database file is locked by another connection"],
  ["SQLITE_LOCKED", "the database file is locked by another connection"],
  ["SQLITE_CANTOPEN", "the database file cannot be opened"],
  ["SQLITE_IOERR", "the database file cannot be read or written"],
  ["SQLITE_FULL", "the disk holding the database file is full"],
  ["SQLITE_READONLY", "the database file is read-only"],
  ["SQLITE_PROTOCOL", "the database file's lock protocol failed"],
];

/**
 * The TrellisError for a failure of `action` (a method name, or what was being opened):
 * UNAVAILABLE for a locked, missing, unreadable, full or read-only file, INTERNAL otherwise.
 */
export function wrapSqliteError(err: unknown, action: string): TrellisError {
  if (err instanceof TrellisError) return err;
  if (isDriverError(err)) {
    const reason = UNAVAILABLE.find(([prefix]) => err.code.startsWith(prefix))?.[1];
    if (reason !== undefined) {
      return new TrellisError("UNAVAILABLE", `${reason} (${action}); retry later`, {
        cause: err,
      });
    }
  }
  return new TrellisError("INTERNAL", `the SQLite store failed ${action}`, { cause: err });
}
