/**
 * The embedded engine: one SQLite file in WAL mode, written by one connection. better-sqlite3
 * is synchronous, so every transaction runs to completion within one call and the process
 * never interleaves two writes; other processes on the same file are kept out by SQLite's
 * lock (busy timeout plus a bounded retry).
 */
import type { Clock, Relationship, Revision, TenantId } from "../../core/index.js";
import { ELLIPSIS } from "../../core/index.js";
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
  planImportConflict,
  planWrite,
  type WritePlan,
} from "../write-planner.js";
import { SqliteChangelog } from "./sqlite-changelog.js";
import { type Params, SqliteConnection, type SqliteDatastoreOptions } from "./sqlite-connection.js";
import { SqliteCredentialStore } from "./sqlite-credential-store.js";
import type { SqliteDatabase, SqliteStatement } from "./sqlite-driver.js";
import { isUniqueViolation } from "./sqlite-errors.js";
import { SqliteMaintenance } from "./sqlite-maintenance.js";
import { SqliteSecretStore } from "./sqlite-secret-store.js";

export type { SqliteDatastoreOptions } from "./sqlite-connection.js";

const STABLE_ORDER = `ORDER BY ${IDENTITY_COLUMNS}`;
const LIVE_AT = "deleted_rev IS NULL AND created_rev <= @rev";
const ENDED_AFTER = "deleted_rev > @rev AND created_rev <= @rev";
const NOT_EXPIRED = "(expires_at IS NULL OR expires_at > @now)";
/** At head, for writes: live and not expired. */
const PRESENT = `deleted_rev IS NULL AND ${NOT_EXPIRED}`;

/**
 * The tenant's row, first (k = 0) in every snapshot read, so that one statement (one snapshot,
 * no BEGIN/COMMIT) yields the head and oldest readable revision with the tuples. Named like the
 * tuple columns because a compound SELECT takes its column names from its first branch. It
 * sorts first without `k` in the ORDER BY (which would cost a sort of all tuples): its integers
 * and NULLs come before any text in SQLite's order.
 */
const TENANT_BRANCH = `SELECT 0 AS k, head_rev AS resource_type, gc_rev AS resource_id,
  NULL AS relation, NULL AS subject_type, NULL AS subject_id, NULL AS subject_relation,
  NULL AS caveat_name, NULL AS caveat_context, NULL AS expires_at
  FROM tenants WHERE pk = @tenant`;

/**
 * A snapshot read: the tenant row, then the live part (live index) and the ended-later part
 * (history index), merged in `order` without a sort. Indexes are named: without statistics the
 * planner may prefer the changelog index for `created_rev <= ?`, which turns a point read into a
 * scan.
 */
function snapshotSql(where: string, order: string, limited: boolean): string {
  return `${TENANT_BRANCH}
UNION ALL
SELECT 1, ${TUPLE_COLUMNS} FROM relationships INDEXED BY relationships_live
  WHERE ${where} AND ${LIVE_AT} AND ${NOT_EXPIRED}
UNION ALL
SELECT 1, ${TUPLE_COLUMNS} FROM relationships INDEXED BY relationships_history
  WHERE ${where} AND ${ENDED_AFTER} AND ${NOT_EXPIRED}
ORDER BY ${order}${limited ? " LIMIT @limit" : ""}`;
}

type SnapshotRow = TupleRow & { k: number };

function filterWhere(filter: NormalizedFilter | undefined): string {
  const terms = ["tenant = @tenant"];
  if (filter !== undefined) {
    for (const [field, column] of FILTER_COLUMNS) {
      if (filter[field] !== undefined) terms.push(`${column} = @f_${column}`);
    }
  }
  return terms.join(" AND ");
}

function filterParams(filter: NormalizedFilter | undefined, params: Params): Params {
  if (filter !== undefined) {
    for (const [field, column] of FILTER_COLUMNS) {
      const value = filter[field];
      if (value !== undefined) params[`f_${column}`] = value;
    }
  }
  return params;
}

/** The keyset condition "after `after`" and its parameters. */
function afterCursor(
  filter: NormalizedFilter | undefined,
  after: IdentityKey,
  params: Params,
): string {
  const { columns, values } = keysetTail(filter, after);
  if (columns.length === 0) return "0";
  values.forEach((value, i) => {
    params[`c${i}`] = value;
  });
  return `(${columns.join(", ")}) > (${values.map((_, i) => `@c${i}`).join(", ")})`;
}

/**
 * The SQLite engine: tenants, snapshot reads, writes and schemas here; API keys, the changelog
 * and gc in their own modules over the same connection.
 */
export class SqliteDatastore implements Datastore {
  readonly capabilities: DatastoreCapabilities = { concurrentWriters: false, listenNotify: false };

  readonly #db: SqliteConnection;
  readonly #clock: Clock;
  readonly #credentials: SqliteCredentialStore;
  readonly #changelog: SqliteChangelog;
  readonly #maintenance: SqliteMaintenance;
  readonly #secrets: SqliteSecretStore;

  /** Takes ownership of `db`: configures it, migrates it and closes it on `close()`. */
  constructor(db: SqliteDatabase, options: SqliteDatastoreOptions) {
    this.#db = new SqliteConnection(db, options);
    this.#clock = options.clock;
    this.#credentials = new SqliteCredentialStore(this.#db);
    this.#changelog = new SqliteChangelog(this.#db, (tenant) => this.headRevision(tenant));
    this.#maintenance = new SqliteMaintenance(this.#db);
    this.#secrets = new SqliteSecretStore(this.#db);
  }

  // ---- plumbing --------------------------------------------------------------------------

  /**
   * Runs a snapshot statement built by `snapshotSql` and returns its tuple rows, after checking
   * the revision against the head and oldest readable revision of the same snapshot.
   */
  #snapshot(
    tenant: string,
    revision: Revision,
    stmt: SqliteStatement<SnapshotRow>,
    params: Params,
  ): SnapshotRow[] {
    const rows = stmt.all(params);
    const first = rows[0];
    if (first === undefined || first.k !== 0) throw tenantNotFound(tenant);
    checkReadable(
      revision,
      first.resource_type as unknown as number,
      first.resource_id as unknown as number,
    );
    return rows;
  }

  /** The relationships of a forward or reverse point read (`snapshotSql` rows after the first). */
  #pointRead(
    tenant: string,
    revision: Revision,
    stmt: SqliteStatement<SnapshotRow>,
    filter: NormalizedFilter,
  ): Relationship[] {
    const params = filterParams(filter, {
      tenant: this.#db.tenantPk(tenant),
      rev: revision,
      now: this.#clock.now(),
    });
    const rows = this.#snapshot(tenant, revision, stmt, params);
    const out: Relationship[] = [];
    for (let i = 1; i < rows.length; i++) out.push(rowToRelationship(rows[i]!));
    return out;
  }

  // ---- tenants ---------------------------------------------------------------------------

  async createTenant(id: TenantId): Promise<void> {
    checkTenantId(id, "id");
    return this.#db.write("createTenant", () => {
      try {
        this.#db
          .stmt("INSERT INTO tenants (id, created_at) VALUES (?, ?)")
          .run(id, this.#clock.now());
      } catch (err) {
        if (isUniqueViolation(err)) throw tenantExists(id);
        throw err;
      }
    });
  }

  async listTenants(): Promise<TenantId[]> {
    return this.#db.run("listTenants", () =>
      this.#db
        .stmt<{ id: string }>("SELECT id FROM tenants ORDER BY id")
        .all()
        .map((row) => row.id),
    );
  }

  // ---- API keys (sqlite-credential-store.ts) ---------------------------------------------

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

  // ---- revisions and changelog (sqlite-changelog.ts) -------------------------------------

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
    return this.#db.run("readByResource", () => {
      const stmt = this.#db.shaped<SnapshotRow>("resource", () =>
        snapshotSql(filterWhere(filter), "subject_type, subject_id, subject_relation", false),
      );
      return this.#pointRead(tenant, revision, stmt, filter);
    });
  }

  async readBySubject(
    tenant: TenantId,
    revision: Revision,
    query: SubjectRelationQuery,
  ): Promise<Relationship[]> {
    checkTenantId(tenant);
    checkRevision(revision);
    const filter = subjectQueryFilter(query);
    return this.#db.run("readBySubject", () => {
      // One scan of the reverse index covers live and ended rows alike.
      const stmt = this.#db.shaped<SnapshotRow>(
        "subject",
        () => `${TENANT_BRANCH}
          UNION ALL
          SELECT 1, ${TUPLE_COLUMNS} FROM relationships INDEXED BY relationships_reverse
          WHERE ${filterWhere(filter)} AND created_rev <= @rev
            AND (deleted_rev IS NULL OR deleted_rev > @rev) AND ${NOT_EXPIRED}
          ORDER BY resource_id`,
      );
      return this.#pointRead(tenant, revision, stmt, filter);
    });
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
    return this.#db.run("readByFilter", () =>
      pageOfRows(
        normalized,
        this.#page(tenant, revision, normalized, after, page.limit + 1),
        page.limit,
      ),
    );
  }

  /**
   * Up to `limit` tuples after `after` in stable order, as one snapshot statement; each branch
   * of the union walks its index in that order.
   */
  #page(
    tenant: string,
    revision: Revision,
    filter: NormalizedFilter | undefined,
    after: IdentityKey | undefined,
    limit: number,
  ): TupleRow[] {
    const params = filterParams(filter, {
      tenant: this.#db.tenantPk(tenant),
      rev: revision,
      now: this.#clock.now(),
      limit: limit + 1,
    });
    // The filter's fields and the presence of a cursor determine the SQL text.
    let shape = after === undefined ? "page" : "page-after";
    for (const [field] of FILTER_COLUMNS) shape += filter?.[field] === undefined ? "-" : "+";
    const cursorSql = after === undefined ? "" : ` AND ${afterCursor(filter, after, params)}`;
    const stmt = this.#db.shaped<SnapshotRow>(shape, () =>
      snapshotSql(filterWhere(filter) + cursorSql, IDENTITY_COLUMNS, true),
    );
    return this.#snapshot(tenant, revision, stmt, params).slice(1);
  }

  async *export(tenant: TenantId, revision: Revision): AsyncIterable<Relationship> {
    checkTenantId(tenant);
    checkRevision(revision);
    const pageSize = this.#db.options.exportPageSize;
    yield* exportPages(pageSize, (after) =>
      this.#db.run("export", () => this.#page(tenant, revision, undefined, after, pageSize)),
    );
  }

  // ---- writes ----------------------------------------------------------------------------

  #present(tenantPk: number, filter: NormalizedFilter, now: number, limit: number): number {
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM relationships INDEXED BY relationships_live
      WHERE ${filterWhere(filter)} AND ${PRESENT} LIMIT @limit)`;
    const params = filterParams(filter, { tenant: tenantPk, now, limit });
    return this.#db.stmt<{ n: number }>(sql).get(params)!.n;
  }

  /** Whether each precondition's filter matches a present tuple at head. */
  #matched(
    tenantPk: number,
    preconditions: readonly CheckedPrecondition[],
    now: number,
  ): boolean[] {
    return preconditions.map((p) => this.#present(tenantPk, p.filter, now, 1) > 0);
  }

  #findLive(tenantPk: number, rel: Relationship): LiveRow<number> | undefined {
    return this.#db
      .stmt<LiveRow<number>>(
        `SELECT id, expires_at AS expiresAt, created_rev AS createdRev, created_seq AS createdSeq
       FROM relationships INDEXED BY relationships_live
       WHERE tenant = ? AND (${IDENTITY_COLUMNS}) = (?, ?, ?, ?, ?, ?) AND deleted_rev IS NULL`,
      )
      .get(tenantPk, ...identityKey(rel));
  }

  #end(rowId: number, revision: Revision, seq: number | null): void {
    this.#db
      .stmt("UPDATE relationships SET deleted_rev = ?, deleted_seq = ? WHERE id = ?")
      .run(revision, seq, rowId);
  }

  #insert(tenantPk: number, rel: Relationship, revision: Revision, seq: number): void {
    this.#db
      .stmt(
        `INSERT INTO relationships (tenant, ${TUPLE_COLUMNS}, created_rev, created_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(tenantPk, ...tupleValues(rel), revision, seq);
  }

  /** Carries out a plan at `revision`: ends first, then inserts. */
  #apply(tenantPk: number, revision: Revision, plan: WritePlan<number>): void {
    for (const end of plan.ends) this.#end(end.id, revision, end.seq);
    for (const insert of plan.inserts) {
      this.#insert(tenantPk, insert.relationship, revision, insert.seq);
    }
  }

  async write(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
  ): Promise<Revision> {
    checkTenantId(tenant);
    const checked = validateWrite(mutations, preconditions);
    const revision = await this.#db.write("write", () => {
      const t = this.#db.tenant(tenant);
      const now = this.#clock.now();
      const rev = t.head_rev + 1;
      checkPreconditions(checked, this.#matched(t.pk, checked, now));
      const live = new Map<number, LiveRow<number>>();
      mutations.forEach((mutation, i) => {
        const row = this.#findLive(t.pk, mutation.relationship);
        if (row !== undefined) live.set(i, row);
      });
      this.#apply(t.pk, rev, planWrite(mutations, live, now));
      this.#db.commitRevision(t, rev);
      return rev;
    });
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
    const where = `${filterWhere(normalized)} AND ${PRESENT}`;
    // One statement numbers the victims in stable order (their changelog order) and ends them.
    const update = `UPDATE relationships SET deleted_rev = @rev, deleted_seq = victims.seq
      FROM (SELECT id, row_number() OVER (${STABLE_ORDER}) - 1 AS seq
            FROM relationships INDEXED BY relationships_live WHERE ${where} ${STABLE_ORDER} LIMIT @limit) AS victims
      WHERE relationships.id = victims.id`;
    const result = await this.#db.write("deleteByFilter", () => {
      const t = this.#db.tenant(tenant);
      const now = this.#clock.now();
      const rev = t.head_rev + 1;
      checkPreconditions(preconditions, this.#matched(t.pk, preconditions, now));
      const bound = deleteByFilterCountBound(options);
      const plan = planDeleteByFilter(
        normalized,
        options,
        bound === undefined ? undefined : this.#present(t.pk, normalized, now, bound),
      );
      const params = filterParams(normalized, { tenant: t.pk, now, rev, limit: plan.limit ?? -1 });
      const deleted = this.#db.stmt(update).run(params).changes;
      this.#db.commitRevision(t, rev);
      return { revision: rev, deleted, partial: plan.partial };
    });
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
      importBatch: (batch) => this.#db.write("bulkImport", () => this.#importBatch(tenant, batch)),
      committed: (revision) => this.#changelog.committed(tenant, revision),
    });
  }

  #importBatch(tenant: string, batch: ImportBatch): Revision {
    const t = this.#db.tenant(tenant);
    const rev = t.head_rev + 1;
    const now = this.#clock.now();
    const insert = this.#db.stmt(
      `INSERT INTO relationships (tenant, ${TUPLE_COLUMNS}, created_rev, created_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const rels = batch.relationships;
    for (let seq = 0; seq < rels.length; seq++) {
      const rel = rels[seq]!;
      try {
        // Bound field by field: no array per row, which keeps the garbage of a big import low.
        const { resource, subject, caveat, expiration } = rel;
        insert.run(
          t.pk,
          resource.type,
          resource.id,
          rel.relation,
          subject.type,
          subject.id,
          subject.relation ?? ELLIPSIS,
          caveat === undefined ? null : caveat.name,
          caveat?.context === undefined ? null : JSON.stringify(caveat.context),
          expiration === undefined ? null : expiration.getTime(),
          rev,
          seq,
        );
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // The unique live index refused it: a repeat within this batch, an existing tuple, or
        // an expired one, which a CREATE may replace.
        const end = planImportConflict(batch, seq, this.#findLive(t.pk, rel)!, rev, now);
        this.#end(end.id, rev, end.seq);
        insert.run(t.pk, ...tupleValues(rel), rev, seq);
      }
    }
    this.#db.commitRevision(t, rev);
    return rev;
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
    const revision = await this.#db.write("writeSchema", () => {
      const t = this.#db.tenant(tenant);
      const now = this.#clock.now();
      checkSchemaGuards(
        guards.map((filter) => ({ filter, count: this.#present(t.pk, filter, now, -1) })),
      );
      const rev = t.head_rev + 1;
      this.#db
        .stmt("INSERT INTO schemas (tenant, rev, text) VALUES (?, ?, ?)")
        .run(t.pk, rev, text);
      this.#db.commitRevision(t, rev);
      return rev;
    });
    return this.#changelog.committed(tenant, revision);
  }

  async readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined> {
    checkTenantId(tenant);
    checkRevision(revision);
    return this.#db.read("readSchema", () => {
      const t = this.#db.readableTenant(tenant, revision);
      const row = this.#db
        .stmt<{ rev: number; text: string }>(
          "SELECT rev, text FROM schemas WHERE tenant = ? AND rev <= ? ORDER BY rev DESC LIMIT 1",
        )
        .get(t.pk, revision);
      return row === undefined ? undefined : { text: row.text, revision: row.rev };
    });
  }

  // ---- shared secrets (sqlite-secret-store.ts) -------------------------------------------

  sharedSecret(name: string, generate: () => string): Promise<string> {
    return this.#secrets.sharedSecret(name, generate);
  }

  // ---- gc, stats and close (sqlite-maintenance.ts) ---------------------------------------

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
    this.#changelog.close();
    this.#db.close();
  }
}
