/**
 * The part of better-sqlite3 the engine uses, declared structurally (as Kysely does), so the
 * engine's code depends on this small surface and the driver is named in one place only
 * (`open-sqlite-database.ts`).
 */

/** A value SQLite binds or returns for the column types used here. */
export type SqliteValue = string | number | bigint | null;

/** Positional values, or one object of named values (`@name` in the SQL). */
export type SqliteBinding = SqliteValue | Readonly<Record<string, SqliteValue>>;

export interface SqliteRunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

export interface SqliteStatement<Row = unknown> {
  run(...params: SqliteBinding[]): SqliteRunResult;
  get(...params: SqliteBinding[]): Row | undefined;
  all(...params: SqliteBinding[]): Row[];
}

/** A function wrapped in BEGIN/COMMIT, rolled back when it throws. */
export interface SqliteTransaction<T> {
  (): T;
  /** BEGIN IMMEDIATE: takes the write lock first, so a writer never fails halfway on a lock. */
  immediate(): T;
  /** BEGIN DEFERRED: a read snapshot starts at the first read. */
  deferred(): T;
}

export interface SqliteDatabase {
  readonly open: boolean;
  prepare<Row = unknown>(sql: string): SqliteStatement<Row>;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<T>(fn: () => T): SqliteTransaction<T>;
  close(): unknown;
}

/** The driver's error: `code` is the extended result code name, e.g. `SQLITE_BUSY`. */
export interface SqliteDriverError extends Error {
  readonly code: string;
}
