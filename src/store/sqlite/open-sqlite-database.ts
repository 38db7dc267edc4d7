/** The one place that names the better-sqlite3 driver. */
import Database from "better-sqlite3";
import type { SqliteDatabase } from "./sqlite-driver.js";
import { wrapSqliteError } from "./sqlite-errors.js";

/** Opens (creating if needed) the database file, or an in-memory one for `:memory:`. */
export function openSqliteDatabase(path: string, busyTimeoutMs: number): SqliteDatabase {
  try {
    const db: SqliteDatabase = new Database(path, { timeout: busyTimeoutMs });
    return db;
  } catch (err) {
    throw wrapSqliteError(err, `opening ${path}`);
  }
}
