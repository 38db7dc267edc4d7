/**
 * `openDatastore`: the one way to get a `Datastore` from a URL. Options are documented on their
 * fields, defaulted in `DATASTORE_DEFAULTS` and checked here, before anything is opened.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Clock, systemClock } from "../core/index.js";
import type { Datastore } from "./datastore.js";
import { MemoryDatastore } from "./memory/memory-datastore.js";
import { PostgresDatastore } from "./postgres/postgres-datastore.js";
import { openSqliteDatabase } from "./sqlite/open-sqlite-database.js";
import { SqliteDatastore } from "./sqlite/sqlite-datastore.js";

export interface OpenDatastoreOptions {
  /**
   * The source of "now": expiration of tuples, commit times (gc, optimizedRevision). Default:
   * the system clock. Every process sharing a PostgreSQL store should have a synchronised clock.
   */
  readonly clock?: Clock;
  /**
   * SQLite only. `NORMAL` (default): in WAL mode a power loss may undo the last commits but
   * never corrupts the file; a process crash loses nothing. `FULL`: every commit is fsynced,
   * at some cost in write latency.
   */
  readonly synchronous?: "NORMAL" | "FULL";
  /**
   * SQLite only. Milliseconds a statement waits for another connection's lock before it fails
   * with SQLITE_BUSY. Default 5000.
   */
  readonly busyTimeoutMs?: number;
  /**
   * SQLite only. How many times a call that still failed with SQLITE_BUSY is retried (with a
   * short backoff) before it fails with UNAVAILABLE. Default 3.
   */
  readonly busyRetries?: number;
  /** PostgreSQL only. Most connections the pool opens. Default 10. */
  readonly poolSize?: number;
  /**
   * PostgreSQL only. The schema (namespace) that holds the tables; created if missing, so that
   * several Trellis deployments (or test runs) can share one database. Default `public`.
   */
  readonly postgresSchema?: string;
  /**
   * PostgreSQL only. Milliseconds to wait for a new connection, or for a free one when all
   * `poolSize` are busy; past it the call fails with UNAVAILABLE. Default 5000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * PostgreSQL only. The time limit of one statement of an ordinary call (reads, writes of up
   * to 1000 mutations, keys, secrets, the changelog). The server cancels a statement past it
   * (the call fails with DEADLINE_EXCEEDED); a server that does not answer at all is given up
   * a little later (up to a second) and the call fails with UNAVAILABLE, so a call never hangs
   * on a vanished server. Sent as the `statement_timeout` connection parameter, which a
   * connection pooler in between must pass on (PgBouncer: `ignore_startup_parameters`).
   * Default 5000.
   */
  readonly queryTimeoutMs?: number;
  /**
   * PostgreSQL only. The same limit for bulk work: an import batch, a deleteByFilter, the
   * guards of a schema write, a write of more than 1000 mutations, gc's deletions. Default
   * 60 000.
   */
  readonly bulkQueryTimeoutMs?: number;
  /**
   * How often `waitForChanges` polls the head revision as a fallback for writes it is not told
   * about (other processes on a SQLite file; a lost LISTEN connection). Default 1000 ms.
   */
  readonly watchPollIntervalMs?: number;
  /** Relationships per page that `export` reads. Default 1000. */
  readonly exportPageSize?: number;
}

export const DATASTORE_DEFAULTS = {
  synchronous: "NORMAL",
  busyTimeoutMs: 5000,
  busyRetries: 3,
  poolSize: 10,
  postgresSchema: "public",
  connectTimeoutMs: 5000,
  queryTimeoutMs: 5000,
  bulkQueryTimeoutMs: 60_000,
  watchPollIntervalMs: 1000,
  exportPageSize: 1000,
} as const;

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
}

type Resolved = Required<OpenDatastoreOptions>;

function resolveOptions(options: OpenDatastoreOptions): Resolved {
  if (options === null || typeof options !== "object") {
    throw new TypeError("options must be an object");
  }
  const resolved: Resolved = { clock: systemClock, ...DATASTORE_DEFAULTS };
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(name in resolved)) throw new TypeError(`unknown option ${name}`);
    (resolved as Record<string, unknown>)[name] = value;
  }
  if (typeof resolved.clock?.now !== "function") {
    throw new TypeError("option clock must have a now() method");
  }
  if (resolved.synchronous !== "NORMAL" && resolved.synchronous !== "FULL") {
    throw new TypeError(
      `option synchronous must be "NORMAL" or "FULL", got ${String(resolved.synchronous)}`,
    );
  }
  checkInteger("busyTimeoutMs", resolved.busyTimeoutMs, 0, 600_000);
  checkInteger("busyRetries", resolved.busyRetries, 0, 100);
  checkInteger("poolSize", resolved.poolSize, 1, 1000);
  checkInteger("connectTimeoutMs", resolved.connectTimeoutMs, 1, 600_000);
  checkInteger("queryTimeoutMs", resolved.queryTimeoutMs, 1, 3_600_000);
  checkInteger("bulkQueryTimeoutMs", resolved.bulkQueryTimeoutMs, 1, 3_600_000);
  checkInteger("watchPollIntervalMs", resolved.watchPollIntervalMs, 1, 3_600_000);
  checkInteger("exportPageSize", resolved.exportPageSize, 1, 100_000);
  if (
    typeof resolved.postgresSchema !== "string" ||
    !/^[a-z_][a-z0-9_]{0,62}$/.test(resolved.postgresSchema)
  ) {
    throw new TypeError(
      `option postgresSchema must be a lowercase SQL identifier (letters, digits, _), got ${String(resolved.postgresSchema)}`,
    );
  }
  return resolved;
}

/**
 * Opens a datastore and applies its migrations. URLs:
 * - `sqlite:./data/trellis.db` (a file, its directory created if missing), `sqlite::memory:`
 *   (private to this datastore; for tests);
 * - `postgres://user@host:5432/db` or `postgresql://…` (anything `pg` accepts);
 * - `memory:` (plain JavaScript structures, gone at close; every call opens a fresh, empty
 *   store; of the options only `clock` and `exportPageSize` apply). In a browser, import
 *   `MemoryDatastore` from `store/memory/` instead: this module needs Node.
 *
 * Throws TypeError for an unknown scheme or a bad option (naming it); UNAVAILABLE when the
 * database cannot be reached or opened; FAILED_PRECONDITION when it was migrated by a newer
 * release.
 */
export async function openDatastore(
  url: string,
  options: OpenDatastoreOptions = {},
): Promise<Datastore> {
  if (typeof url !== "string") throw new TypeError("the datastore URL must be a string");
  const resolved = resolveOptions(options);
  if (url.startsWith("sqlite:")) {
    let path = url.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
    if (path === "") throw new TypeError(`the datastore URL "${url}" names no file`);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = openSqliteDatabase(path, resolved.busyTimeoutMs);
    return new SqliteDatastore(db, resolved);
  }
  if (url.startsWith("memory:")) {
    if (url !== "memory:") {
      throw new TypeError(
        `the datastore URL "${url}" names something: memory: takes nothing after the colon (every open is a fresh, empty store)`,
      );
    }
    return new MemoryDatastore({
      clock: resolved.clock,
      exportPageSize: resolved.exportPageSize,
    });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return PostgresDatastore.open(url, {
      clock: resolved.clock,
      poolSize: resolved.poolSize,
      schema: resolved.postgresSchema,
      connectTimeoutMs: resolved.connectTimeoutMs,
      queryTimeoutMs: resolved.queryTimeoutMs,
      bulkQueryTimeoutMs: resolved.bulkQueryTimeoutMs,
      watchPollIntervalMs: resolved.watchPollIntervalMs,
      exportPageSize: resolved.exportPageSize,
    });
  }
  throw new TypeError(
    `unsupported datastore URL "${url}": expected sqlite:PATH, sqlite::memory:, postgres://… or memory:`,
  );
}
