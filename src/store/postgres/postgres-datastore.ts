/**
 * The scale-out engine: PostgreSQL through a `pg` Pool, shared by any number of Trellis
 * processes. Revisions are allocated under a row lock on the tenant, so they commit in order;
 * every read is one statement (one snapshot) that also reads the tenant's head and oldest
 * readable revision, so a read can never see a revision whose writes are not all visible.
 */
import type pg from "pg";
import type { Clock, Relationship, Revision, TenantId } from "../../core/index.js";
import { TrellisError } from "../../core/index.js";
import {
  checkPositiveInteger,
  checkReadable,
  checkRevision,
  checkSchemaText,
  checkTenantId,
  tenantExists,
  tenantNotFound,
} from "../argument-checks.js";
import type { ChangeEvent, WaitForChangesOptions } from "../changelog.js";
import type { ApiKeyRecord } from "../credential-store.js";
import type { Datastore, DatastoreCapabilities } from "../datastore.js";
import { exportPages } from "../export-pages.js";
import { type ImportBatch, importInBatches } from "../import-batches.js";
import { decodeCursor, keysetTail, pageOfRows } from "../read-cursor.js";
import {
  FILTER_COLUMNS,
  type NormalizedFilter,
  normalizeFilter,
  resourceQueryFilter,
  subjectQueryFilter,
} from "../relationship-filter.js";
import type {
  PageOptions,
  RelationshipFilter,
  RelationshipPage,
  ResourceRelationQuery,
  SubjectRelationQuery,
} from "../relationship-reader.js";
import type {
  BulkImportOptions,
  BulkImportResult,
  DeleteByFilterOptions,
  DeleteByFilterResult,
  Mutation,
  Precondition,
} from "../relationship-writer.js";
import type { StoredSchema, WriteSchemaOptions } from "../schema-store.js";
import type { GcResult, StoreStats } from "../store-maintenance.js";
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
  checkPreconditions,
  checkSchemaGuards,
  deleteByFilterCountBound,
  type LiveRow,
  planDeleteByFilter,
  planImportBatch,
  planWrite,
  type WritePlan,
} from "../write-planner.js";
import { PostgresChangelog } from "./postgres-changelog.js";
import {
  Params,
  PostgresConnection,
  type PostgresDatastoreOptions,
  type PostgresTx,
} from "./postgres-connection.js";
import { PostgresCredentialStore } from "./postgres-credential-store.js";
import { isUniqueViolation } from "./postgres-errors.js";
import { PostgresMaintenance } from "./postgres-maintenance.js";
import { PostgresSecretStore } from "./postgres-secret-store.js";

export type { PostgresDatastoreOptions } from "./postgres-connection.js";

/** A write of more mutations than this runs under the time limit of bulk work. */
const BULK_WRITE = 1000;

interface SnapshotRow {
  head_rev: string;
  gc_rev: string;
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

/** The columns of `TUPLE_COLUMNS` as parallel arrays, for `unnest`. */
function tupleArrays(rels: readonly Relationship[]): unknown[][] {
  const arrays: unknown[][] = [[], [], [], [], [], [], [], [], []];
  for (const rel of rels) {
    const values = tupleValues(rel);
    for (let i = 0; i < values.length; i++) arrays[i]!.push(values[i]);
  }
  return arrays;
}

/**
 * The PostgreSQL engine: tenants, snapshot reads, writes and schemas here; API keys, the
 * changelog and gc in their own modules over the same pool.
 */
export class PostgresDatastore implements Datastore {
  readonly capabilities: DatastoreCapabilities = { concurrentWriters: true, listenNotify: true };

  readonly #db: PostgresConnection;
  readonly #s: string;
  readonly #credentials: PostgresCredentialStore;
  readonly #changelog: PostgresChangelog;
  readonly #maintenance: PostgresMaintenance;
  readonly #secrets: PostgresSecretStore;

  private constructor(db: PostgresConnection) {
    this.#db = db;
    this.#s = db.s;
    this.#credentials = new PostgresCredentialStore(db);
    this.#changelog = new PostgresChangelog(db, (tenant) => this.headRevision(tenant));
    this.#maintenance = new PostgresMaintenance(db);
    this.#secrets = new PostgresSecretStore(db);
  }

  /** Connects, migrates the schema and returns the datastore; UNAVAILABLE when unreachable. */
  static async open(
    connectionString: string,
    options: PostgresDatastoreOptions,
  ): Promise<PostgresDatastore> {
    return new PostgresDatastore(await PostgresConnection.open(connectionString, options));
  }

  get #clock(): Clock {
    return this.#db.clock;
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
    const rows = await this.#db.query<SnapshotRow & Row>(action, sql, params.values, true);
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

  // ---- tenants ---------------------------------------------------------------------------

  async createTenant(id: TenantId): Promise<void> {
    checkTenantId(id, "id");
    try {
      await this.#db.query(
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
    const rows = await this.#db.query<{ id: string }>(
      "listTenants",
      `SELECT id FROM ${this.#s}.tenants ORDER BY id`,
    );
    return rows.map((row) => row.id);
  }

  // ---- API keys (postgres-credential-store.ts) -------------------------------------------

  createApiKey(record: ApiKeyRecord): Promise<void> {
    return this.#credentials.createApiKey(record);
  }

  getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#credentials.getApiKey(id);
  }

  listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]> {
    return this.#credentials.listApiKeys(tenant);
  }

  revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    return this.#credentials.revokeApiKey(id, at);
  }

  // ---- revisions and changelog (postgres-changelog.ts) -----------------------------------

  headRevision(tenant: TenantId): Promise<Revision> {
    return this.#changelog.headRevision(tenant);
  }

  optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision> {
    return this.#changelog.optimizedRevision(tenant, maxStalenessMs);
  }

  changesSince(tenant: TenantId, afterRevision: Revision, limit: number): Promise<ChangeEvent[]> {
    return this.#changelog.changesSince(tenant, afterRevision, limit);
  }

  waitForChanges(
    tenant: TenantId,
    afterRevision: Revision,
    options?: WaitForChangesOptions,
  ): Promise<Revision> {
    return this.#changelog.waitForChanges(tenant, afterRevision, options);
  }

  // ---- snapshot reads --------------------------------------------------------------------

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
    return pageOfRows(normalized, rows, page.limit);
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
    const pageSize = this.#db.options.exportPageSize;
    yield* exportPages(pageSize, (after) =>
      this.#page("export", tenant, revision, undefined, after, pageSize),
    );
  }

  // ---- writes ----------------------------------------------------------------------------

  /** How many live, unexpired tuples match, counting at most `limit` (null: all). */
  async #countPresent(
    client: PostgresTx,
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

  /** Whether each precondition's filter matches a present tuple at head. */
  async #matched(
    client: PostgresTx,
    tenantPk: number,
    preconditions: readonly CheckedPrecondition[],
    now: number,
  ): Promise<boolean[]> {
    const matched: boolean[] = [];
    for (const precondition of preconditions) {
      matched.push((await this.#countPresent(client, tenantPk, precondition.filter, now, 1)) > 0);
    }
    return matched;
  }

  /** The live rows of the given tuples, by index into `rels`. */
  async #findLive(
    client: PostgresTx,
    tenantPk: number,
    rels: readonly Relationship[],
  ): Promise<Map<number, LiveRow<string>>> {
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
    const found = new Map<number, LiveRow<string>>();
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
    client: PostgresTx,
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
    client: PostgresTx,
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

  /** Carries out a plan at `revision`: ends first, then inserts, one statement each. */
  async #apply(
    client: PostgresTx,
    tenantPk: number,
    revision: Revision,
    plan: WritePlan<string>,
  ): Promise<void> {
    await this.#end(
      client,
      revision,
      plan.ends.map((end) => end.id),
      plan.ends.map((end) => end.seq),
    );
    await this.#insert(
      client,
      tenantPk,
      revision,
      plan.inserts.map((insert) => insert.relationship),
      plan.inserts.map((insert) => insert.seq),
    );
  }

  async write(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
  ): Promise<Revision> {
    checkTenantId(tenant);
    const checked = validateWrite(mutations, preconditions);
    const revision = await this.#db.transaction(
      "write",
      async (client) => {
        const locked = await this.#db.lockTenant(client, tenant);
        const now = this.#clock.now();
        const rev = locked.head + 1;
        checkPreconditions(checked, await this.#matched(client, locked.pk, checked, now));
        const live = await this.#findLive(
          client,
          locked.pk,
          mutations.map((m) => m.relationship),
        );
        await this.#apply(client, locked.pk, rev, planWrite(mutations, live, now));
        await this.#db.commitRevision(client, tenant, locked, rev);
        return rev;
      },
      { bulk: mutations.length > BULK_WRITE },
    );
    return this.#changelog.committed(tenant, revision);
  }

  async deleteByFilter(
    tenant: TenantId,
    filter: RelationshipFilter,
    options: DeleteByFilterOptions = {},
  ): Promise<DeleteByFilterResult> {
    checkTenantId(tenant);
    const normalized = normalizeFilter(filter);
    if (options.limit !== undefined) checkPositiveInteger(options.limit, "limit");
    const preconditions = validatePreconditions(options.preconditions);
    const result = await this.#db.transaction(
      "deleteByFilter",
      async (client) => {
        const locked = await this.#db.lockTenant(client, tenant);
        const now = this.#clock.now();
        const rev = locked.head + 1;
        checkPreconditions(
          preconditions,
          await this.#matched(client, locked.pk, preconditions, now),
        );
        const bound = deleteByFilterCountBound(options);
        const plan = planDeleteByFilter(
          normalized,
          options,
          bound === undefined
            ? undefined
            : await this.#countPresent(client, locked.pk, normalized, now, bound),
        );
        const params = new Params();
        params.add(locked.pk);
        params.add(now);
        params.add(rev);
        // One statement numbers the victims in stable order (their changelog order) and ends them.
        const sql = `WITH victims AS (
          SELECT id, row_number() OVER (${STABLE_ORDER}) - 1 AS seq FROM ${this.#s}.relationships
          WHERE tenant = $1${filterSql(normalized, params)} AND deleted_rev IS NULL
            AND (expires_at IS NULL OR expires_at > $2)
          ${STABLE_ORDER} LIMIT ${params.add(plan.limit ?? null)})
        UPDATE ${this.#s}.relationships r SET deleted_rev = $3, deleted_seq = v.seq
        FROM victims v WHERE r.id = v.id`;
        const updated = await client.query(sql, params.values);
        await this.#db.commitRevision(client, tenant, locked, rev);
        return { revision: rev, deleted: updated.rowCount ?? 0, partial: plan.partial };
      },
      { bulk: true },
    );
    this.#changelog.committed(tenant, result.revision);
    return result;
  }

  async bulkImport(
    tenant: TenantId,
    source: AsyncIterable<Relationship> | Iterable<Relationship>,
    options: BulkImportOptions = {},
  ): Promise<BulkImportResult> {
    checkTenantId(tenant);
    return importInBatches(source, options, {
      head: () => this.headRevision(tenant),
      importBatch: (batch) => this.#importBatch(tenant, batch),
      committed: (revision) => this.#changelog.committed(tenant, revision),
    });
  }

  /**
   * The fast path inserts the whole batch in one statement: the plan of a batch whose tuples
   * have no live rows, with the unique live index standing in for the lookup. Only when it
   * refuses a tuple is the batch planned against the live rows it meets, to replace expired
   * tuples or to name the line at fault.
   */
  async #importBatch(tenant: string, batch: ImportBatch): Promise<Revision> {
    const rels = batch.relationships;
    const seqs = rels.map((_, i) => i);
    try {
      return await this.#db.transaction(
        "bulkImport",
        async (client) => {
          const locked = await this.#db.lockTenant(client, tenant);
          const rev = locked.head + 1;
          await this.#insert(client, locked.pk, rev, rels, seqs);
          await this.#db.commitRevision(client, tenant, locked, rev);
          return rev;
        },
        { bulk: true },
      );
    } catch (err) {
      if (!(err instanceof TrellisError && isUniqueViolation(err.cause))) throw err;
    }
    return this.#db.transaction(
      "bulkImport",
      async (client) => {
        const locked = await this.#db.lockTenant(client, tenant);
        const rev = locked.head + 1;
        const live = await this.#findLive(client, locked.pk, rels);
        const plan = planImportBatch(batch, live, rev, this.#clock.now());
        await this.#apply(client, locked.pk, rev, plan);
        await this.#db.commitRevision(client, tenant, locked, rev);
        return rev;
      },
      { bulk: true },
    );
  }

  // ---- schema ----------------------------------------------------------------------------

  async writeSchema(
    tenant: TenantId,
    text: string,
    options: WriteSchemaOptions = {},
  ): Promise<Revision> {
    checkTenantId(tenant);
    checkSchemaText(text);
    const guards = (options.refuseIfAnyMatch ?? []).map((filter, i) =>
      normalizeFilter(filter, `refuseIfAnyMatch[${i}]`),
    );
    const revision = await this.#db.transaction(
      "writeSchema",
      async (client) => {
        const locked = await this.#db.lockTenant(client, tenant);
        const now = this.#clock.now();
        const matches: { filter: NormalizedFilter; count: number }[] = [];
        for (const filter of guards) {
          matches.push({
            filter,
            count: await this.#countPresent(client, locked.pk, filter, now, null),
          });
        }
        checkSchemaGuards(matches);
        const rev = locked.head + 1;
        await client.query(
          `INSERT INTO ${this.#s}.schemas (tenant, rev, text) VALUES ($1, $2, $3)`,
          [locked.pk, rev, text],
        );
        await this.#db.commitRevision(client, tenant, locked, rev);
        return rev;
      },
      { bulk: true },
    );
    return this.#changelog.committed(tenant, revision);
  }

  async readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined> {
    checkTenantId(tenant);
    checkRevision(revision);
    const rows = await this.#db.query<SnapshotRow & { rev: string | null; text: string | null }>(
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

  // ---- shared secrets (postgres-secret-store.ts) -----------------------------------------

  sharedSecret(name: string, generate: () => string): Promise<string> {
    return this.#secrets.sharedSecret(name, generate);
  }

  // ---- gc, stats and close (postgres-maintenance.ts) -------------------------------------

  async gc(olderThanMs: number): Promise<GcResult> {
    const result = await this.#maintenance.gc(olderThanMs);
    this.#changelog.forgetOptimizedRevisions();
    return result;
  }

  stats(): Promise<StoreStats> {
    return this.#maintenance.stats();
  }

  async close(): Promise<void> {
    if (this.#db.closed) return;
    // The connection refuses new calls at once; pending waits fail with UNAVAILABLE.
    await Promise.all([this.#db.close(), this.#changelog.close()]);
  }
}
