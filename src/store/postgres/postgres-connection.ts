/**
 * The PostgreSQL pool as the engine's parts share it: one statement on any connection, a
 * transaction on one connection, the tenant lock that orders revisions, and the commit of a
 * revision (with its NOTIFY). Every driver failure leaves here as a TrellisError.
 */
import pg from "pg";
import type { Clock, Revision } from "../../core/index.js";
import { tracing } from "../../core/tracing.js";
import { datastoreClosed, tenantNotFound } from "../argument-checks.js";
import { tracedQuery } from "../traced-query.js";
import { isConnectionFailure, wrapPostgresError } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-migrations.js";

export interface PostgresDatastoreOptions {
  readonly clock: Clock;
  readonly poolSize: number;
  /** The schema (namespace) of the tables; a lowercase identifier. */
  readonly schema: string;
  readonly connectTimeoutMs: number;
  /** The time limit of one statement of an ordinary call (see `OpenDatastoreOptions`). */
  readonly queryTimeoutMs: number;
  /** The time limit of one statement of bulk work (see `OpenDatastoreOptions`). */
  readonly bulkQueryTimeoutMs: number;
  readonly watchPollIntervalMs: number;
  readonly exportPageSize: number;
}

/**
 * How long the client waits for the answer to a statement limited to `limitMs` on the server:
 * a little longer, so that a slow statement ends with the server's own cancellation
 * (DEADLINE_EXCEEDED) and only a server that does not answer at all ends here (UNAVAILABLE).
 */
export function answerTimeout(limitMs: number): number {
  return limitMs + Math.min(1000, limitMs);
}

/** Idle connections are probed after this long, so a vanished server is noticed while idle. */
const KEEPALIVE_AFTER_MS = 10_000;

/**
 * One transaction's connection. Its statements run under the transaction's time limit; it is
 * valid only inside the function given to `transaction`.
 */
export interface PostgresTx {
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<Row>>;
}

export interface TransactionOptions {
  /**
   * Bulk work (imports, deletes by filter, schema guards, gc, large writes): its statements get
   * `bulkQueryTimeoutMs` instead of `queryTimeoutMs`.
   */
  readonly bulk?: boolean;
}

/** The NOTIFY channel; payloads name the schema, so deployments sharing a database ignore each other. */
export const CHANNEL = "trellis_changes";

/** A tenant locked for a write: its key and the head revision under the lock. */
export interface LockedTenant {
  pk: number;
  head: Revision;
}

/** Positional parameters, numbered as they are added. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A prepared statement's name: a digest of its text (FNV-1a, 2 × 32 bits). */
function statementName(sql: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `trellis_${a.toString(36)}_${b.toString(36)}`;
}

export class PostgresConnection {
  readonly clock: Clock;
  readonly options: PostgresDatastoreOptions;
  readonly connectionString: string;
  /** The quoted schema name, to prefix table names with. */
  readonly s: string;
  readonly #pool: pg.Pool;
  #closed = false;

  private constructor(pool: pg.Pool, connectionString: string, options: PostgresDatastoreOptions) {
    this.#pool = pool;
    this.connectionString = connectionString;
    this.options = options;
    this.clock = options.clock;
    this.s = `"${options.schema}"`;
  }

  /** Connects and migrates the schema; UNAVAILABLE when the server cannot be reached. */
  static async open(
    connectionString: string,
    options: PostgresDatastoreOptions,
  ): Promise<PostgresConnection> {
    // Migrations run on a connection of their own, without the statement time limits: DDL on
    // a big table, or waiting for another replica's migration, may take longer.
    const migrator = new pg.Client({
      connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: "trellis-migrate",
    });
    migrator.on("error", () => undefined);
    try {
      await migrator.connect();
      await migratePostgres(migrator, `"${options.schema}"`, options.schema, options.clock.now());
    } catch (err) {
      throw wrapPostgresError(err, "opening the database");
    } finally {
      await migrator.end().catch(() => undefined);
    }
    const pool = new pg.Pool({
      connectionString,
      max: options.poolSize,
      // Also bounds the wait for a free connection of a busy pool.
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: "trellis",
      // The server cancels a statement past its limit; the client gives up on a server that
      // does not answer at all a little later and drops the connection.
      statement_timeout: options.queryTimeoutMs,
      query_timeout: answerTimeout(options.queryTimeoutMs),
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    });
    // An idle client losing its connection must not crash the process; the next query on the
    // pool reconnects or fails with UNAVAILABLE.
    pool.on("error", () => undefined);
    // Nor may a checked-out client between two statements of a transaction: its next
    // statement fails instead, and the transaction drops it.
    pool.on("connect", (client) => client.on("error", () => undefined));
    return new PostgresConnection(pool, connectionString, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one statement on the pool. `prepared` statements are parsed and planned once per
   * connection (named after a digest of their text), which is most of a point read's cost.
   */
  query<Row extends pg.QueryResultRow>(
    action: string,
    sql: string,
    values: unknown[] = [],
    prepared = false,
  ): Promise<Row[]> {
    if (!tracing.enabled) return this.#query(action, sql, values, prepared);
    return tracedQuery("postgresql", action, () => this.#query(action, sql, values, prepared));
  }

  async #query<Row extends pg.QueryResultRow>(
    action: string,
    sql: string,
    values: unknown[],
    prepared: boolean,
  ): Promise<Row[]> {
    if (this.#closed) throw datastoreClosed();
    try {
      const query = prepared
        ? { name: statementName(sql), text: sql, values }
        : { text: sql, values };
      return (await this.#pool.query<Row>(query)).rows;
    } catch (err) {
      throw wrapPostgresError(err, action);
    }
  }

  /**
   * Runs `fn` in a READ COMMITTED transaction on one pooled client, under the time limit of
   * ordinary calls or (with `bulk`) of bulk work.
   */
  transaction<T>(
    action: string,
    fn: (tx: PostgresTx) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    if (!tracing.enabled) return this.#transaction(action, fn, options);
    return tracedQuery("postgresql", action, () => this.#transaction(action, fn, options));
  }

  async #transaction<T>(
    action: string,
    fn: (tx: PostgresTx) => Promise<T>,
    options: TransactionOptions,
  ): Promise<T> {
    if (this.#closed) throw datastoreClosed();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw wrapPostgresError(err, action);
    }
    const limit =
      options.bulk === true ? this.options.bulkQueryTimeoutMs : this.options.queryTimeoutMs;
    const tx: PostgresTx = {
      // `query_timeout` per statement is honoured by pg, though its types omit it.
      query: (sql, values) =>
        client.query({ text: sql, values, query_timeout: answerTimeout(limit) } as pg.QueryConfig),
    };
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      if (options.bulk === true) await client.query(`SET LOCAL statement_timeout = ${limit}`);
      const result = await fn(tx);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      if (isConnectionFailure(err)) broken = err as Error;
      else {
        await client.query("ROLLBACK").catch((rollbackErr: Error) => {
          broken = rollbackErr;
        });
      }
      throw wrapPostgresError(err, action);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Locks the tenant's row until the transaction ends: writers of one tenant queue here, so
   * revision N+1 is allocated only after N has committed.
   */
  async lockTenant(client: PostgresTx, tenant: string): Promise<LockedTenant> {
    const { rows } = await client.query<{ pk: number; head_rev: string }>(
      `SELECT pk, head_rev FROM ${this.s}.tenants WHERE id = $1 FOR UPDATE`,
      [tenant],
    );
    const row = rows[0];
    if (row === undefined) throw tenantNotFound(tenant);
    return { pk: row.pk, head: Number(row.head_rev) };
  }

  /** Records the commit time of `revision`, makes it the head and NOTIFYs the other processes. */
  async commitRevision(
    client: PostgresTx,
    tenant: string,
    locked: LockedTenant,
    revision: Revision,
  ): Promise<void> {
    // NOTIFY is delivered at COMMIT, never for a rolled-back write.
    await client.query(
      `WITH r AS (INSERT INTO ${this.s}.revisions (tenant, rev, committed_at) VALUES ($1, $2, $3)),
            u AS (UPDATE ${this.s}.tenants SET head_rev = $2 WHERE pk = $1)
       SELECT pg_notify($4, $5)`,
      [
        locked.pk,
        revision,
        this.clock.now(),
        CHANNEL,
        JSON.stringify([this.options.schema, tenant, revision]),
      ],
    );
  }

  /** Ends the pool; later calls answer UNAVAILABLE. Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pool.end();
    } catch (err) {
      throw wrapPostgresError(err, "close");
    }
  }
}
