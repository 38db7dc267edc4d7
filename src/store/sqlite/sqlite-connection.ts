/**
 * One SQLite database as the engine's parts share it: statements prepared once, calls with the
 * bounded busy retry, deferred (read) and immediate (write) transactions, and the tenant row
 * every call starts from. better-sqlite3 is synchronous, so a transaction runs to completion
 * inside one call and two calls of this process never interleave.
 */
import type { Clock, Revision } from "../../core/index.js";
import { tracing } from "../../core/tracing.js";
import { checkReadable, datastoreClosed, tenantNotFound } from "../argument-checks.js";
import { tracedQuery } from "../traced-query.js";
import type {
  SqliteDatabase,
  SqliteStatement,
  SqliteTransaction,
  SqliteValue,
} from "./sqlite-driver.js";
import { isBusy, wrapSqliteError } from "./sqlite-errors.js";
import { migrateSqlite } from "./sqlite-migrations.js";

export interface SqliteDatastoreOptions {
  readonly clock: Clock;
  readonly synchronous: "NORMAL" | "FULL";
  readonly busyRetries: number;
  readonly watchPollIntervalMs: number;
  readonly exportPageSize: number;
}

/** A tenant's row: its key in every other table, head and oldest readable revision. */
export interface TenantRow {
  pk: number;
  head_rev: number;
  gc_rev: number;
}

/** Named statement parameters (`@name`). */
export type Params = Record<string, SqliteValue>;

export class SqliteConnection {
  readonly clock: Clock;
  readonly options: SqliteDatastoreOptions;
  readonly #db: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement<unknown>>();
  readonly #shapes = new Map<string, SqliteStatement<unknown>>();
  readonly #tenantPks = new Map<string, number>();
  /** One transaction wrapper reused for every call (making one per call costs more). */
  readonly #transaction: SqliteTransaction<unknown>;
  #body: (() => unknown) | undefined;
  #closed = false;

  /** Takes ownership of `db`: configures it, migrates it and closes it on `close()`. */
  constructor(db: SqliteDatabase, options: SqliteDatastoreOptions) {
    this.#db = db;
    this.options = options;
    this.clock = options.clock;
    try {
      // Takes effect only on a new file: 32 KiB pages make the B-trees shallower, which speeds
      // the random index inserts of big imports by about a third.
      db.pragma("page_size = 32768");
      // WAL lets readers (in other processes too) proceed while one writer commits.
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous}`);
      // A larger page cache keeps the indexes of big imports in memory (filled only as pages
      // are read): at 3M relationships, 256 MiB imports about 35% faster than 64 MiB.
      db.pragma("cache_size = -262144");
      db.pragma("temp_store = MEMORY");
      migrateSqlite(db, this.clock.now());
    } catch (err) {
      db.close();
      throw wrapSqliteError(err, "opening the database");
    }
    this.#transaction = db.transaction(() => this.#body!());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A statement prepared once per SQL text. */
  stmt<Row>(sql: string): SqliteStatement<Row> {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt as SqliteStatement<Row>;
  }

  /** A statement cached under a short key, so hot reads neither build nor hash their SQL. */
  shaped<Row>(key: string, build: () => string): SqliteStatement<Row> {
    let stmt = this.#shapes.get(key);
    if (stmt === undefined) {
      stmt = this.#db.prepare(build());
      this.#shapes.set(key, stmt);
    }
    return stmt as SqliteStatement<Row>;
  }

  /**
   * Runs `fn` with the bounded busy retry: the driver already waited the busy timeout inside
   * the call, so a retry only helps against a writer that holds the lock a little longer.
   */
  run<T>(action: string, fn: () => T): Promise<T> {
    if (!tracing.enabled) return this.#run(action, fn);
    return tracedQuery("sqlite", action, () => this.#run(action, fn));
  }

  async #run<T>(action: string, fn: () => T): Promise<T> {
    if (this.#closed) throw datastoreClosed();
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (err) {
        if (isBusy(err) && attempt < this.options.busyRetries && !this.#closed) {
          await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
          continue;
        }
        throw wrapSqliteError(err, action);
      }
    }
  }

  /** Reads inside one deferred transaction, so every statement sees the same snapshot. */
  read<T>(action: string, fn: () => T): Promise<T> {
    return this.run(action, () => {
      this.#body = fn;
      return this.#transaction.deferred() as T;
    });
  }

  /** Writes inside BEGIN IMMEDIATE: the lock is taken before the first read of the head. */
  write<T>(action: string, fn: () => T): Promise<T> {
    return this.run(action, () => {
      this.#body = fn;
      return this.#transaction.immediate() as T;
    });
  }

  /** The tenant's row; NOT_FOUND for an unknown tenant. */
  tenant(tenant: string): TenantRow {
    const row = this.stmt<TenantRow>("SELECT pk, head_rev, gc_rev FROM tenants WHERE id = ?").get(
      tenant,
    );
    if (row === undefined) throw tenantNotFound(tenant);
    return row;
  }

  /** The tenant's row id; tenants are never removed, so it is cached for good. */
  tenantPk(tenant: string): number {
    let pk = this.#tenantPks.get(tenant);
    if (pk === undefined) {
      pk = this.tenant(tenant).pk;
      this.#tenantPks.set(tenant, pk);
    }
    return pk;
  }

  /** The tenant's row, after checking that `revision` is readable. */
  readableTenant(tenant: string, revision: Revision): TenantRow {
    const row = this.tenant(tenant);
    checkReadable(revision, row.head_rev, row.gc_rev);
    return row;
  }

  /** Records the commit time of `revision` and makes it the tenant's head. */
  commitRevision(tenant: TenantRow, revision: Revision): void {
    this.stmt("INSERT INTO revisions (tenant, rev, committed_at) VALUES (?, ?, ?)").run(
      tenant.pk,
      revision,
      this.clock.now(),
    );
    this.stmt("UPDATE tenants SET head_rev = ? WHERE pk = ?").run(revision, tenant.pk);
  }

  /** Closes the database; later calls answer UNAVAILABLE. Closing twice is a no-op. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#shapes.clear();
    try {
      this.#db.close();
    } catch (err) {
      throw wrapSqliteError(err, "close");
    }
  }
}
