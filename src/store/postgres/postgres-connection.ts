/**
 * The PostgreSQL pool as the engine's parts share it: one statement on any connection, a
 * transaction on one connection, the tenant lock that orders revisions, and the commit of a
 * revision (with its NOTIFY). Every driver failure leaves here as a TrellisError.
 */
import pg from "pg";
import type { Clock, Revision } from "../../core/index.js";
import { datastoreClosed, tenantNotFound } from "../argument-checks.js";
import { isConnectionFailure, wrapPostgresError } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-migrations.js";

export interface PostgresDatastoreOptions {
  readonly clock: Clock;
  readonly poolSize: number;
  /** The schema (namespace) of the tables; a lowercase identifier. */
  readonly schema: string;
  readonly connectTimeoutMs: number;
  readonly watchPollIntervalMs: number;
  readonly exportPageSize: number;
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
    const pool = new pg.Pool({
      connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: "trellis",
    });
    // An idle client losing its connection must not crash the process; the next query on the
    // pool reconnects or fails with UNAVAILABLE.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client, `"${options.schema}"`, options.schema, options.clock.now());
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw wrapPostgresError(err, "opening the database");
    }
    return new PostgresConnection(pool, connectionString, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one statement on the pool. `prepared` statements are parsed and planned once per
   * connection (named after a digest of their text), which is most of a point read's cost.
   */
  async query<Row extends pg.QueryResultRow>(
    action: string,
    sql: string,
    values: unknown[] = [],
    prepared = false,
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

  /** Runs `fn` in a READ COMMITTED transaction on one pooled client. */
  async transaction<T>(action: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw datastoreClosed();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw wrapPostgresError(err, action);
    }
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(client);
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
  async lockTenant(client: pg.PoolClient, tenant: string): Promise<LockedTenant> {
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
    client: pg.PoolClient,
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
