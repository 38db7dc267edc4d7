/**
 * The scale-out engine: PostgreSQL through a `pg` Pool, shared by any number of Trellis
 * processes. Revisions are allocated under a row lock on the tenant, so they commit in order;
 * every read is one statement (one snapshot) that also reads the tenant's head and oldest
 * readable revision, so a read can never see a revision whose writes are not all visible.
 */
import pg from "pg";
import type { Clock, Relationship, Revision, TenantId } from "../../core/index.js";
import { TrellisError } from "../../core/index.js";
import {
  type ApiKeyRow,
  apiKeyExists,
  apiKeyValues,
  checkApiKeyId,
  checkDate,
  checkNewApiKey,
  rowToApiKey,
} from "../api-key-records.js";
import {
  checkChangelogReadable,
  checkDuration,
  checkPositiveInteger,
  checkReadable,
  checkRevision,
  checkTenantId,
  datastoreClosed,
  tenantExists,
  tenantNotFound,
} from "../argument-checks.js";
import {
  assembleChanges,
  type ChangeRow,
  type CommitTimeRow,
  revisionSpan,
  rowToChange,
  type SchemaRow,
  withCommitTimes,
} from "../assemble-changes.js";
import { ChangeNotifier } from "../change-notifier.js";
import type {
  ApiKeyRecord,
  BulkImportOptions,
  BulkImportResult,
  ChangeEvent,
  Datastore,
  DatastoreCapabilities,
  DeleteByFilterOptions,
  DeleteByFilterResult,
  GcResult,
  Mutation,
  PageOptions,
  Precondition,
  RelationshipFilter,
  RelationshipPage,
  ResourceRelationQuery,
  StoredSchema,
  SubjectRelationQuery,
  WaitForChangesOptions,
  WriteSchemaOptions,
} from "../datastore.js";
import {
  checkImportBatch,
  checkImportBatchSize,
  checkImportRepeats,
  DEFAULT_IMPORT_BATCH,
  type ImportBatch,
  importBatches,
} from "../import-batches.js";
import { OptimizedRevisionCache } from "../optimized-revision-cache.js";
import { decodeCursor, encodeCursor, keysetTail } from "../read-cursor.js";
import {
  FILTER_COLUMNS,
  type NormalizedFilter,
  normalizeFilter,
  resourceQueryFilter,
  subjectQueryFilter,
} from "../relationship-filter.js";
import {
  IDENTITY_COLUMNS,
  type IdentityKey,
  identityKey,
  rowToRelationship,
  TUPLE_COLUMNS,
  type TupleRow,
  tupleValues,
} from "../tuple-row.js";
import {
  type CheckedPrecondition,
  validatePreconditions,
  validateWrite,
} from "../validate-write.js";
import {
  createOfExisting,
  deleteLimitExceeded,
  importBatchFailed,
  preconditionFailed,
  schemaWouldOrphan,
} from "../write-errors.js";
import { isConnectionFailure, isUniqueViolation, wrapPostgresError } from "./postgres-errors.js";
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
const CHANNEL = "trellis_changes";

interface LockedTenant {
  pk: number;
  head: Revision;
}

interface SnapshotRow {
  head_rev: string;
  gc_rev: string;
}

/** Positional parameters, numbered as they are added. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function filterSql(filter: NormalizedFilter | undefined, params: Params): string {
  const terms: string[] = [];
  if (filter !== undefined) {
    for (const [field, column] of FILTER_COLUMNS) {
      const value = filter[field];
      if (value !== undefined) terms.push(`${column} = ${params.add(value)}`);
    }
  }
  return terms.length === 0 ? "" : ` AND ${terms.join(" AND ")}`;
}

const STABLE_ORDER = `ORDER BY ${IDENTITY_COLUMNS}`;
const OUTER_STABLE_ORDER = `ORDER BY ${IDENTITY_COLUMNS.split(", ")
  .map((column) => `r.${column}`)
  .join(", ")}`;

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

/** The columns of `TUPLE_COLUMNS` as parallel arrays, for `unnest`. */
function tupleArrays(rels: readonly Relationship[]): unknown[][] {
  const arrays: unknown[][] = [[], [], [], [], [], [], [], [], []];
  for (const rel of rels) {
    const values = tupleValues(rel);
    for (let i = 0; i < values.length; i++) arrays[i]!.push(values[i]);
  }
  return arrays;
}

export class PostgresDatastore implements Datastore {
  readonly capabilities: DatastoreCapabilities = { concurrentWriters: true, listenNotify: true };

  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  readonly #options: PostgresDatastoreOptions;
  readonly #clock: Clock;
  readonly #s: string;
  readonly #notifier: ChangeNotifier;
  readonly #optimized: OptimizedRevisionCache;
  #listener: Promise<pg.Client> | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, connectionString: string, options: PostgresDatastoreOptions) {
    this.#pool = pool;
    this.#connectionString = connectionString;
    this.#options = options;
    this.#clock = options.clock;
    this.#s = `"${options.schema}"`;
    this.#notifier = new ChangeNotifier({
      readHead: (tenant) => this.headRevision(tenant),
      pollIntervalMs: options.watchPollIntervalMs,
      prepare: () => this.#listen().then(() => undefined),
    });
    this.#optimized = new OptimizedRevisionCache(this.#clock, {
      head: (tenant) => this.headRevision(tenant),
      headAt: (tenant, instant) => this.#headAt(tenant, instant),
    });
  }

  /** Connects, migrates the schema and returns the datastore; UNAVAILABLE when unreachable. */
  static async open(
    connectionString: string,
    options: PostgresDatastoreOptions,
  ): Promise<PostgresDatastore> {
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
    return new PostgresDatastore(pool, connectionString, options);
  }

  // ---- plumbing -------------------------------------------------------------------------

  /**
   * Runs one statement on the pool. `prepared` statements are parsed and planned once per
   * connection (named after a digest of their text), which is most of a point read's cost.
   */
  async #query<Row extends pg.QueryResultRow>(
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
  async #transaction<T>(action: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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
  async #lockTenant(client: pg.PoolClient, tenant: string): Promise<LockedTenant> {
    const { rows } = await client.query<{ pk: number; head_rev: string }>(
      `SELECT pk, head_rev FROM ${this.#s}.tenants WHERE id = $1 FOR UPDATE`,
      [tenant],
    );
    const row = rows[0];
    if (row === undefined) throw tenantNotFound(tenant);
    return { pk: row.pk, head: Number(row.head_rev) };
  }

  async #commitRevision(
    client: pg.PoolClient,
    tenant: string,
    locked: LockedTenant,
    revision: Revision,
  ): Promise<void> {
    // NOTIFY is delivered at COMMIT, never for a rolled-back write.
    await client.query(
      `WITH r AS (INSERT INTO ${this.#s}.revisions (tenant, rev, committed_at) VALUES ($1, $2, $3)),
            u AS (UPDATE ${this.#s}.tenants SET head_rev = $2 WHERE pk = $1)
       SELECT pg_notify($4, $5)`,
      [
        locked.pk,
        revision,
        this.#clock.now(),
        CHANNEL,
        JSON.stringify([this.#options.schema, tenant, revision]),
      ],
    );
  }

  #afterCommit(tenant: string, revision: Revision): Revision {
    this.#notifier.notify(tenant, revision);
    return revision;
  }

  /**
   * One snapshot statement: the tenant row (head, oldest readable) joined laterally with the
   * rows `inner` selects. `inner` may use `t.pk`, `$1` (tenant id), `$2` (revision) and `$3`
   * (now); `params` already holds those three.
   */
  async #snapshot<Row extends pg.QueryResultRow>(
    action: string,
    tenant: string,
    params: Params,
    inner: string,
    outerOrder: string,
  ): Promise<{ head: Revision; oldest: Revision; rows: Row[] }> {
    const sql = `SELECT t.head_rev, t.gc_rev, r.* FROM ${this.#s}.tenants t
      LEFT JOIN LATERAL (${inner}) r ON true
      WHERE t.id = $1 ${outerOrder}`;
    const rows = await this.#query<SnapshotRow & Row>(action, sql, params.values, true);
    const first = rows[0];
    if (first === undefined) throw tenantNotFound(tenant);
    return {
      head: Number(first.head_rev),
      oldest: Number(first.gc_rev),
      rows: rows.filter((row) => row.resource_type !== null),
    };
  }

  #snapshotParams(tenant: string, revision: Revision): Params {
    const params = new Params();
    params.add(tenant);
    params.add(revision);
    params.add(this.#clock.now());
    return params;
  }

  /**
   * A snapshot read at $2: the live part (live index) and the ended-later part (history). With
   * `limit` (a parameter placeholder), each part is ordered and cut on its own before the union
   * is: left to the planner, a page near the start of a big type became a sequential scan and
   * a sort of the whole type.
   */
  #visibleSql(where: string, limit?: string): string {
    const notExpired = "(expires_at IS NULL OR expires_at > $3)";
    const live = `SELECT ${TUPLE_COLUMNS} FROM ${this.#s}.relationships
        WHERE tenant = t.pk${where} AND deleted_rev IS NULL AND created_rev <= $2 AND ${notExpired}`;
    const ended = `SELECT ${TUPLE_COLUMNS} FROM ${this.#s}.relationships
        WHERE tenant = t.pk${where} AND deleted_rev > $2 AND created_rev <= $2 AND ${notExpired}`;
    if (limit === undefined) return `${live} UNION ALL ${ended}`;
    const cut = `${STABLE_ORDER} LIMIT ${limit}`;
    return `(${live} ${cut}) UNION ALL (${ended} ${cut}) ${cut}`;
  }

  // ---- tenants and revisions --------------------------------------------------------------

  async createTenant(id: TenantId): Promise<void> {
    checkTenantId(id, "id");
    try {
      await this.#query(
        "createTenant",
        `INSERT INTO ${this.#s}.tenants (id, created_at) VALUES ($1, $2)`,
        [id, this.#clock.now()],
      );
    } catch (err) {
      if (err instanceof TrellisError && isUniqueViolation(err.cause)) throw tenantExists(id);
      throw err;
    }
  }

  async listTenants(): Promise<TenantId[]> {
    const rows = await this.#query<{ id: string }>(
      "listTenants",
      `SELECT id FROM ${this.#s}.tenants ORDER BY id`,
    );
    return rows.map((row) => row.id);
  }

  // ---- API keys ---------------------------------------------------------------------------

  async createApiKey(record: ApiKeyRecord): Promise<void> {
    checkTenantId(record.tenant);
    checkNewApiKey(record);
    let rows: { id: string }[];
    try {
      rows = await this.#query<{ id: string }>(
        "createApiKey",
        `INSERT INTO ${this.#s}.api_keys (id, tenant, secret_hash, scopes, description, created_at, expires_at)
         SELECT $1, t.pk, $3, $4, $5, $6, $7 FROM ${this.#s}.tenants t WHERE t.id = $2
         RETURNING id`,
        [record.id, record.tenant, ...apiKeyValues(record)],
      );
    } catch (err) {
      if (err instanceof TrellisError && isUniqueViolation(err.cause))
        throw apiKeyExists(record.id);
      throw err;
    }
    if (rows.length === 0) throw tenantNotFound(record.tenant);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    const rows = await this.#query<ApiKeyRow>(
      "getApiKey",
      `${this.#apiKeySelect} WHERE k.id = $1`,
      [id],
      true,
    );
    return rows[0] === undefined ? undefined : rowToApiKey(rows[0]);
  }

  async listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]> {
    checkTenantId(tenant);
    const rows = await this.#query<ApiKeyRow>(
      "listApiKeys",
      `${this.#apiKeySelect} WHERE t.id = $1 ORDER BY k.created_at DESC, k.id`,
      [tenant],
    );
    // Tenants are never deleted, so an empty answer needs only this second look.
    if (rows.length === 0) await this.headRevision(tenant);
    return rows.map(rowToApiKey);
  }

  async revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    checkDate(at, "at");
    const rows = await this.#query<ApiKeyRow>(
      "revokeApiKey",
      `WITH revoked AS (
         UPDATE ${this.#s}.api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
         RETURNING *)
       SELECT k.id, t.id AS tenant_id, k.secret_hash, k.scopes, k.description, k.created_at, k.expires_at, k.revoked_at
       FROM revoked k JOIN ${this.#s}.tenants t ON t.pk = k.tenant`,
      [id, at.getTime()],
    );
    return rows[0] === undefined ? undefined : rowToApiKey(rows[0]);
  }

  get #apiKeySelect(): string {
    return `SELECT k.id, t.id AS tenant_id, k.secret_hash, k.scopes, k.description, k.created_at, k.expires_at, k.revoked_at
      FROM ${this.#s}.api_keys k JOIN ${this.#s}.tenants t ON t.pk = k.tenant`;
  }

  async headRevision(tenant: TenantId): Promise<Revision> {
    checkTenantId(tenant);
    const rows = await this.#query<{ head_rev: string }>(
      "headRevision",
      `SELECT head_rev FROM ${this.#s}.tenants WHERE id = $1`,
      [tenant],
      true,
    );
    if (rows[0] === undefined) throw tenantNotFound(tenant);
    return Number(rows[0].head_rev);
  }

  async optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision> {
    checkTenantId(tenant);
    checkDuration(maxStalenessMs, "maxStalenessMs");
    if (this.#closed) throw datastoreClosed();
    return this.#optimized.get(tenant, maxStalenessMs);
  }

  async #headAt(tenant: string, instant: number): Promise<Revision> {
    const rows = await this.#query<{ gc_rev: string; rev: string | null }>(
      "optimizedRevision",
      `SELECT t.gc_rev, (SELECT rev FROM ${this.#s}.revisions
          WHERE tenant = t.pk AND committed_at <= $2 ORDER BY rev DESC LIMIT 1) AS rev
       FROM ${this.#s}.tenants t WHERE t.id = $1`,
      [tenant, instant],
    );
    const row = rows[0];
    if (row === undefined) throw tenantNotFound(tenant);
    return Math.max(Number(row.rev ?? 0), Number(row.gc_rev));
  }

  // ---- snapshot reads ---------------------------------------------------------------------

  async readByResource(
    tenant: TenantId,
    revision: Revision,
    query: ResourceRelationQuery,
  ): Promise<Relationship[]> {
    checkTenantId(tenant);
    checkRevision(revision);
    const filter = resourceQueryFilter(query);
    const params = this.#snapshotParams(tenant, revision);
    const inner = this.#visibleSql(filterSql(filter, params));
    const { head, oldest, rows } = await this.#snapshot<TupleRow>(
      "readByResource",
      tenant,
      params,
      inner,
      "ORDER BY r.subject_type, r.subject_id, r.subject_relation",
    );
    checkReadable(revision, head, oldest);
    return rows.map(rowToRelationship);
  }

  async readBySubject(
    tenant: TenantId,
    revision: Revision,
    query: SubjectRelationQuery,
  ): Promise<Relationship[]> {
    checkTenantId(tenant);
    checkRevision(revision);
    const filter = subjectQueryFilter(query);
    const params = this.#snapshotParams(tenant, revision);
    // One scan of the reverse index covers live and ended rows alike.
    const inner = `SELECT ${TUPLE_COLUMNS} FROM ${this.#s}.relationships
      WHERE tenant = t.pk${filterSql(filter, params)} AND created_rev <= $2
        AND (deleted_rev IS NULL OR deleted_rev > $2) AND (expires_at IS NULL OR expires_at > $3)`;
    const { head, oldest, rows } = await this.#snapshot<TupleRow>(
      "readBySubject",
      tenant,
      params,
      inner,
      "ORDER BY r.resource_id",
    );
    checkReadable(revision, head, oldest);
    return rows.map(rowToRelationship);
  }

  async readByFilter(
    tenant: TenantId,
    revision: Revision,
    filter: RelationshipFilter,
    page: PageOptions,
  ): Promise<RelationshipPage> {
    checkTenantId(tenant);
    checkRevision(revision);
    const normalized = normalizeFilter(filter);
    checkPositiveInteger(page?.limit, "limit");
    const after = page.cursor === undefined ? undefined : decodeCursor(normalized, page.cursor);
    const rows = await this.#page(
      "readByFilter",
      tenant,
      revision,
      normalized,
      after,
      page.limit + 1,
    );
    const relationships = rows.slice(0, page.limit).map(rowToRelationship);
    if (rows.length <= page.limit) return { relationships };
    const last = relationships[relationships.length - 1]!;
    return { relationships, cursor: encodeCursor(normalized, identityKey(last)) };
  }

  /** Keyset page in stable order (a merge of the two index scans, cut at `limit`). */
  async #page(
    action: string,
    tenant: string,
    revision: Revision,
    filter: NormalizedFilter | undefined,
    after: IdentityKey | undefined,
    limit: number,
  ): Promise<TupleRow[]> {
    const params = this.#snapshotParams(tenant, revision);
    let where = filterSql(filter, params);
    if (after !== undefined) {
      const { columns, values } = keysetTail(filter, after);
      where +=
        columns.length === 0
          ? " AND false"
          : ` AND (${columns.join(", ")}) > (${values.map((part) => params.add(part)).join(", ")})`;
    }
    const inner = this.#visibleSql(where, params.add(limit));
    const { head, oldest, rows } = await this.#snapshot<TupleRow>(
      action,
      tenant,
      params,
      inner,
      OUTER_STABLE_ORDER,
    );
    checkReadable(revision, head, oldest);
    return rows;
  }

  async *export(tenant: TenantId, revision: Revision): AsyncIterable<Relationship> {
    checkTenantId(tenant);
    checkRevision(revision);
    const pageSize = this.#options.exportPageSize;
    let after: IdentityKey | undefined;
    for (;;) {
      const rows = await this.#page("export", tenant, revision, undefined, after, pageSize);
      for (const row of rows) yield rowToRelationship(row);
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = [
        last.resource_type,
        last.resource_id,
        last.relation,
        last.subject_type,
        last.subject_id,
        last.subject_relation,
      ];
    }
  }

  // ---- writes -----------------------------------------------------------------------------

  /** How many live, unexpired tuples match, counting at most `limit` (null: all). */
  async #countPresent(
    client: pg.PoolClient,
    tenantPk: number,
    filter: NormalizedFilter,
    now: number,
    limit: number | null,
  ): Promise<number> {
    const params = new Params();
    params.add(tenantPk);
    params.add(now);
    const sql = `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${this.#s}.relationships
      WHERE tenant = $1${filterSql(filter, params)} AND deleted_rev IS NULL
        AND (expires_at IS NULL OR expires_at > $2) LIMIT ${params.add(limit)}) AS matches`;
    const { rows } = await client.query<{ n: number }>(sql, params.values);
    return rows[0]!.n;
  }

  async #checkPreconditions(
    client: pg.PoolClient,
    tenantPk: number,
    preconditions: CheckedPrecondition[],
    now: number,
  ): Promise<void> {
    for (const [i, precondition] of preconditions.entries()) {
      const found = (await this.#countPresent(client, tenantPk, precondition.filter, now, 1)) > 0;
      if (found !== (precondition.op === "MUST_MATCH")) throw preconditionFailed(precondition, i);
    }
  }

  /** The live rows of the given tuples, by index into `rels`. */
  async #findLive(
    client: pg.PoolClient,
    tenantPk: number,
    rels: readonly Relationship[],
  ): Promise<Map<number, { id: string; expiresAt: number | null }>> {
    const keys: string[][] = [[], [], [], [], [], []];
    for (const rel of rels) {
      const key = identityKey(rel);
      for (let i = 0; i < key.length; i++) keys[i]!.push(key[i]!);
    }
    const { rows } = await client.query<{ id: string; expires_at: string | null; ord: string }>(
      `SELECT r.id, r.expires_at, m.ord
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         WITH ORDINALITY AS m(rt, rid, rel, st, sid, srel, ord)
       JOIN ${this.#s}.relationships r ON r.tenant = $1 AND r.resource_type = m.rt
         AND r.resource_id = m.rid AND r.relation = m.rel AND r.subject_type = m.st
         AND r.subject_id = m.sid AND r.subject_relation = m.srel AND r.deleted_rev IS NULL`,
      [tenantPk, ...keys],
    );
    const found = new Map<number, { id: string; expiresAt: number | null }>();
    for (const row of rows) {
      found.set(Number(row.ord) - 1, {
        id: row.id,
        expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      });
    }
    return found;
  }

  /** Ends rows at `revision`; a null seq marks a replaced row (no DELETE in the changelog). */
  async #end(
    client: pg.PoolClient,
    revision: Revision,
    ids: readonly string[],
    seqs: readonly (number | null)[],
  ): Promise<void> {
    if (ids.length === 0) return;
    await client.query(
      `UPDATE ${this.#s}.relationships r SET deleted_rev = $1, deleted_seq = e.seq
       FROM unnest($2::bigint[], $3::int[]) AS e(id, seq) WHERE r.id = e.id`,
      [revision, ids, seqs],
    );
  }

  /** Inserts rows created at `revision` with the given changelog positions, in one statement. */
  async #insert(
    client: pg.PoolClient,
    tenantPk: number,
    revision: Revision,
    rels: readonly Relationship[],
    seqs: readonly number[],
  ): Promise<void> {
    if (rels.length === 0) return;
    await client.query(
      `INSERT INTO ${this.#s}.relationships (tenant, ${TUPLE_COLUMNS}, created_rev, created_seq)
       SELECT $1, rt, rid, rel, st, sid, srel, cn, cc, ea, $2, seq
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::text[], $11::bigint[], $12::int[])
         AS u(rt, rid, rel, st, sid, srel, cn, cc, ea, seq)`,
      [tenantPk, revision, ...tupleArrays(rels), seqs],
    );
  }

  async write(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
  ): Promise<Revision> {
    checkTenantId(tenant);
    const checked = validateWrite(mutations, preconditions);
    const revision = await this.#transaction("write", async (client) => {
      const locked = await this.#lockTenant(client, tenant);
      const now = this.#clock.now();
      const rev = locked.head + 1;
      await this.#checkPreconditions(client, locked.pk, checked, now);
      const live = await this.#findLive(
        client,
        locked.pk,
        mutations.map((m) => m.relationship),
      );
      const endIds: string[] = [];
      const endSeqs: (number | null)[] = [];
      const inserts: Relationship[] = [];
      const insertSeqs: number[] = [];
      mutations.forEach((mutation, seq) => {
        const row = live.get(seq);
        const present = row !== undefined && (row.expiresAt === null || row.expiresAt > now);
        if (mutation.op === "DELETE") {
          if (present) {
            endIds.push(row.id);
            endSeqs.push(seq);
          }
          return;
        }
        if (mutation.op === "CREATE" && present) {
          throw createOfExisting(mutation.relationship, `mutations[${seq}]`);
        }
        if (row !== undefined) {
          endIds.push(row.id);
          endSeqs.push(null);
        }
        inserts.push(mutation.relationship);
        insertSeqs.push(seq);
      });
      await this.#end(client, rev, endIds, endSeqs);
      await this.#insert(client, locked.pk, rev, inserts, insertSeqs);
      await this.#commitRevision(client, tenant, locked, rev);
      return rev;
    });
    return this.#afterCommit(tenant, revision);
  }

  async deleteByFilter(
    tenant: TenantId,
    filter: RelationshipFilter,
    options: DeleteByFilterOptions = {},
  ): Promise<DeleteByFilterResult> {
    checkTenantId(tenant);
    const normalized = normalizeFilter(filter);
    const limit = options.limit;
    if (limit !== undefined) checkPositiveInteger(limit, "limit");
    const preconditions = validatePreconditions(options.preconditions);
    const result = await this.#transaction("deleteByFilter", async (client) => {
      const locked = await this.#lockTenant(client, tenant);
      const now = this.#clock.now();
      const rev = locked.head + 1;
      await this.#checkPreconditions(client, locked.pk, preconditions, now);
      let partial = false;
      if (
        limit !== undefined &&
        (await this.#countPresent(client, locked.pk, normalized, now, limit + 1)) > limit
      ) {
        if (options.allowPartial !== true) throw deleteLimitExceeded(normalized, limit);
        partial = true;
      }
      const params = new Params();
      params.add(locked.pk);
      params.add(now);
      params.add(rev);
      // One statement numbers the victims in stable order (their changelog order) and ends them.
      const sql = `WITH victims AS (
          SELECT id, row_number() OVER (${STABLE_ORDER}) - 1 AS seq FROM ${this.#s}.relationships
          WHERE tenant = $1${filterSql(normalized, params)} AND deleted_rev IS NULL
            AND (expires_at IS NULL OR expires_at > $2)
          ${STABLE_ORDER} LIMIT ${params.add(limit ?? null)})
        UPDATE ${this.#s}.relationships r SET deleted_rev = $3, deleted_seq = v.seq
        FROM victims v WHERE r.id = v.id`;
      const updated = await client.query(sql, params.values);
      await this.#commitRevision(client, tenant, locked, rev);
      return { revision: rev, deleted: updated.rowCount ?? 0, partial };
    });
    this.#afterCommit(tenant, result.revision);
    return result;
  }

  async bulkImport(
    tenant: TenantId,
    source: AsyncIterable<Relationship> | Iterable<Relationship>,
    options: BulkImportOptions = {},
  ): Promise<BulkImportResult> {
    checkTenantId(tenant);
    const batchSize = options.batchSize ?? DEFAULT_IMPORT_BATCH;
    checkImportBatchSize(batchSize);
    let imported = 0;
    let revision = await this.headRevision(tenant);
    for await (const batch of importBatches(source, batchSize)) {
      try {
        checkImportBatch(batch);
        revision = await this.#importBatch(tenant, batch);
      } catch (err) {
        if (err instanceof TrellisError && err.code !== "UNAVAILABLE" && err.code !== "INTERNAL") {
          const last = batch.firstLine + batch.relationships.length - 1;
          throw importBatchFailed(err, batch.number, batch.firstLine, last, imported);
        }
        throw err;
      }
      imported += batch.relationships.length;
      this.#afterCommit(tenant, revision);
      options.onProgress?.({ batch: batch.number, imported, revision });
    }
    return { revision, imported };
  }

  /**
   * The fast path inserts the whole batch in one statement; the unique live index refuses a
   * tuple that exists. Only then is the batch redone tuple by tuple against the live rows, to
   * replace expired tuples or to name the line at fault.
   */
  async #importBatch(tenant: string, batch: ImportBatch): Promise<Revision> {
    const rels = batch.relationships;
    const seqs = rels.map((_, i) => i);
    try {
      return await this.#transaction("bulkImport", async (client) => {
        const locked = await this.#lockTenant(client, tenant);
        const rev = locked.head + 1;
        await this.#insert(client, locked.pk, rev, rels, seqs);
        await this.#commitRevision(client, tenant, locked, rev);
        return rev;
      });
    } catch (err) {
      if (!(err instanceof TrellisError && isUniqueViolation(err.cause))) throw err;
    }
    checkImportRepeats(batch);
    return this.#transaction("bulkImport", async (client) => {
      const locked = await this.#lockTenant(client, tenant);
      const rev = locked.head + 1;
      const now = this.#clock.now();
      const live = await this.#findLive(client, locked.pk, rels);
      const endIds: string[] = [];
      for (const [i, row] of [...live.entries()].sort((a, b) => a[0] - b[0])) {
        if (row.expiresAt === null || row.expiresAt > now) {
          throw createOfExisting(rels[i]!, `line ${batch.firstLine + i}`);
        }
        endIds.push(row.id);
      }
      await this.#end(
        client,
        rev,
        endIds,
        endIds.map(() => null),
      );
      await this.#insert(client, locked.pk, rev, rels, seqs);
      await this.#commitRevision(client, tenant, locked, rev);
      return rev;
    });
  }

  // ---- schema -----------------------------------------------------------------------------

  async writeSchema(
    tenant: TenantId,
    text: string,
    options: WriteSchemaOptions = {},
  ): Promise<Revision> {
    checkTenantId(tenant);
    if (typeof text !== "string") {
      throw new TrellisError("INVALID_ARGUMENT", "the schema text must be a string", {
        field: "schema",
      });
    }
    const guards = (options.refuseIfAnyMatch ?? []).map((filter, i) =>
      normalizeFilter(filter, `refuseIfAnyMatch[${i}]`),
    );
    const revision = await this.#transaction("writeSchema", async (client) => {
      const locked = await this.#lockTenant(client, tenant);
      const now = this.#clock.now();
      const matches: { filter: NormalizedFilter; count: number }[] = [];
      for (const filter of guards) {
        const count = await this.#countPresent(client, locked.pk, filter, now, null);
        if (count > 0) matches.push({ filter, count });
      }
      if (matches.length > 0) throw schemaWouldOrphan(matches);
      const rev = locked.head + 1;
      await client.query(`INSERT INTO ${this.#s}.schemas (tenant, rev, text) VALUES ($1, $2, $3)`, [
        locked.pk,
        rev,
        text,
      ]);
      await this.#commitRevision(client, tenant, locked, rev);
      return rev;
    });
    return this.#afterCommit(tenant, revision);
  }

  async readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined> {
    checkTenantId(tenant);
    checkRevision(revision);
    const rows = await this.#query<SnapshotRow & { rev: string | null; text: string | null }>(
      "readSchema",
      `SELECT t.head_rev, t.gc_rev, s.rev, s.text FROM ${this.#s}.tenants t
       LEFT JOIN LATERAL (SELECT rev, text FROM ${this.#s}.schemas
         WHERE tenant = t.pk AND rev <= $2 ORDER BY rev DESC LIMIT 1) s ON true
       WHERE t.id = $1`,
      [tenant, revision],
    );
    const row = rows[0];
    if (row === undefined) throw tenantNotFound(tenant);
    checkReadable(revision, Number(row.head_rev), Number(row.gc_rev));
    return row.rev === null || row.text === null
      ? undefined
      : { text: row.text, revision: Number(row.rev) };
  }

  // ---- changelog --------------------------------------------------------------------------

  async changesSince(
    tenant: TenantId,
    afterRevision: Revision,
    limit: number,
  ): Promise<ChangeEvent[]> {
    checkTenantId(tenant);
    checkRevision(afterRevision, "afterRevision");
    checkPositiveInteger(limit, "limit");
    const params = new Params();
    params.add(tenant);
    params.add(afterRevision);
    params.add(limit);
    // Each branch ordered and cut on its own (see #visibleSql), then merged.
    const inner = `(SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
        FROM ${this.#s}.relationships WHERE tenant = t.pk AND created_rev > $2
        ORDER BY created_rev, created_seq LIMIT $3)
      UNION ALL
      (SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
        FROM ${this.#s}.relationships
        WHERE tenant = t.pk AND deleted_rev > $2 AND deleted_seq IS NOT NULL
        ORDER BY deleted_rev, deleted_seq LIMIT $3)
      ORDER BY rev, seq LIMIT $3`;
    const { head, oldest, rows } = await this.#snapshot<ChangeRow>(
      "changesSince",
      tenant,
      params,
      inner,
      "ORDER BY r.rev, r.seq",
    );
    checkChangelogReadable(afterRevision, head, oldest);
    // Capped at the head of the first snapshot, so no later revision is reported before the
    // tuple changes of the revisions below it.
    const schemas = await this.#query<SchemaRow>(
      "changesSince",
      `SELECT s.rev, s.text FROM ${this.#s}.schemas s JOIN ${this.#s}.tenants t ON t.pk = s.tenant
       WHERE t.id = $1 AND s.rev > $2 AND s.rev <= $3 ORDER BY s.rev LIMIT $4`,
      [tenant, afterRevision, head, limit],
    );
    const { events, completeAfter } = assembleChanges(rows, schemas, limit);
    if (completeAfter !== undefined) {
      const more = await this.#query<ChangeRow>(
        "changesSince",
        `SELECT * FROM (
           SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
             FROM ${this.#s}.relationships r JOIN ${this.#s}.tenants t ON t.pk = r.tenant
             WHERE t.id = $1 AND created_rev = $2 AND created_seq > $3
           UNION ALL
           SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
             FROM ${this.#s}.relationships r JOIN ${this.#s}.tenants t ON t.pk = r.tenant
             WHERE t.id = $1 AND deleted_rev = $2 AND deleted_seq > $3) AS rest
         ORDER BY seq`,
        [tenant, completeAfter.rev, completeAfter.seq],
      );
      for (const row of more) events.push(rowToChange(row));
    }
    const span = revisionSpan(events);
    if (span === undefined) return [];
    const times = await this.#query<CommitTimeRow>(
      "changesSince",
      `SELECT r.rev, r.committed_at FROM ${this.#s}.revisions r JOIN ${this.#s}.tenants t ON t.pk = r.tenant
       WHERE t.id = $1 AND r.rev BETWEEN $2 AND $3`,
      [tenant, span.first, span.last],
    );
    return withCommitTimes(events, times);
  }

  async waitForChanges(
    tenant: TenantId,
    afterRevision: Revision,
    options: WaitForChangesOptions = {},
  ): Promise<Revision> {
    checkTenantId(tenant);
    checkRevision(afterRevision, "afterRevision");
    if (options.timeoutMs !== undefined) checkDuration(options.timeoutMs, "timeoutMs");
    return this.#notifier.wait(tenant, afterRevision, options);
  }

  /**
   * Starts (once) the dedicated LISTEN connection. When it fails or drops, waiters still see
   * changes through the notifier's polling, and the next wait tries to listen again.
   */
  #listen(): Promise<pg.Client> {
    if (this.#listener !== undefined) return this.#listener;
    const client = new pg.Client({
      connectionString: this.#connectionString,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      application_name: "trellis-listen",
    });
    const drop = (): void => {
      if (this.#listener === listening) this.#listener = undefined;
      client.end().catch(() => undefined);
    };
    client.on("error", drop);
    client.on("end", drop);
    client.on("notification", (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      try {
        const [schema, tenant, revision] = JSON.parse(message.payload) as [string, string, number];
        if (schema === this.#options.schema) this.#notifier.notify(tenant, revision);
      } catch {
        // Not one of ours: someone else NOTIFYing on the channel.
      }
    });
    const listening = (async () => {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      return client;
    })();
    this.#listener = listening;
    listening.catch(drop);
    return listening;
  }

  // ---- gc and close -----------------------------------------------------------------------

  async gc(olderThanMs: number): Promise<GcResult> {
    checkDuration(olderThanMs, "olderThanMs");
    const tenants = await this.#query<{ id: string }>(
      "gc",
      `SELECT id FROM ${this.#s}.tenants ORDER BY id`,
    );
    const total = { tenants: 0, relationships: 0, revisions: 0, schemas: 0 };
    for (const { id } of tenants) {
      const now = this.#clock.now();
      // First move the floor (short, under the tenant lock): from its commit on, no statement
      // reads below the horizon, so the rows can go afterwards without holding the lock.
      const moved = await this.#transaction("gc", async (client) => {
        const { rows } = await client.query<{ pk: number; gc_rev: string; horizon: string | null }>(
          `SELECT t.pk, t.gc_rev, (SELECT rev FROM ${this.#s}.revisions
              WHERE tenant = t.pk AND committed_at < $2 ORDER BY rev DESC LIMIT 1) AS horizon
           FROM ${this.#s}.tenants t WHERE t.id = $1 FOR UPDATE`,
          [id, now - olderThanMs],
        );
        const row = rows[0];
        if (row === undefined || row.horizon === null) return undefined;
        const horizon = Number(row.horizon);
        if (horizon <= Number(row.gc_rev)) return undefined;
        await client.query(`UPDATE ${this.#s}.tenants SET gc_rev = $2 WHERE pk = $1`, [
          row.pk,
          horizon,
        ]);
        return { pk: row.pk, horizon };
      });
      if (moved === undefined) continue;
      const { pk, horizon } = moved;
      const counts = await this.#transaction("gc", async (client) => {
        const ended = await client.query(
          `DELETE FROM ${this.#s}.relationships WHERE tenant = $1 AND deleted_rev <= $2`,
          [pk, horizon],
        );
        // Expired rows are invisible at every revision from now on; those created at or before
        // the horizon carry no changelog entry a follower could still need.
        const expired = await client.query(
          `DELETE FROM ${this.#s}.relationships
           WHERE tenant = $1 AND expires_at <= $3 AND deleted_rev IS NULL AND created_rev <= $2`,
          [pk, horizon, now],
        );
        const revisions = await client.query(
          `DELETE FROM ${this.#s}.revisions WHERE tenant = $1 AND rev < $2`,
          [pk, horizon],
        );
        const schemas = await client.query(
          `DELETE FROM ${this.#s}.schemas WHERE tenant = $1 AND rev <
             (SELECT max(rev) FROM ${this.#s}.schemas WHERE tenant = $1 AND rev <= $2)`,
          [pk, horizon],
        );
        return {
          relationships: (ended.rowCount ?? 0) + (expired.rowCount ?? 0),
          revisions: revisions.rowCount ?? 0,
          schemas: schemas.rowCount ?? 0,
        };
      });
      total.tenants++;
      total.relationships += counts.relationships;
      total.revisions += counts.revisions;
      total.schemas += counts.schemas;
    }
    this.#optimized.clear();
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#notifier.close();
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener !== undefined) {
      await listener.then((client) => client.end()).catch(() => undefined);
    }
    try {
      await this.#pool.end();
    } catch (err) {
      throw wrapPostgresError(err, "close");
    }
  }
}
