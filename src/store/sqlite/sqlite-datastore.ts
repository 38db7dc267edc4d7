/**
 * The embedded engine: one SQLite file in WAL mode, written by one connection. better-sqlite3
 * is synchronous, so every transaction runs to completion within one call and the process
 * never interleaves two writes; other processes on the same file are kept out by SQLite's
 * lock (busy timeout plus a bounded retry).
 */
import type { Clock, Relationship, Revision, TenantId } from "../../core/index.js";
import { ELLIPSIS, relationshipKey, TrellisError } from "../../core/index.js";
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
  DEFAULT_IMPORT_BATCH,
  type ImportBatch,
  importBatches,
  repeatedLine,
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
import type {
  SqliteDatabase,
  SqliteStatement,
  SqliteTransaction,
  SqliteValue,
} from "./sqlite-driver.js";
import { isBusy, isUniqueViolation, wrapSqliteError } from "./sqlite-errors.js";
import { migrateSqlite } from "./sqlite-migrations.js";

export interface SqliteDatastoreOptions {
  readonly clock: Clock;
  readonly synchronous: "NORMAL" | "FULL";
  readonly busyRetries: number;
  readonly watchPollIntervalMs: number;
  readonly exportPageSize: number;
}

interface TenantRow {
  pk: number;
  head_rev: number;
  gc_rev: number;
}

interface LiveRow {
  id: number;
  expires_at: number | null;
  created_rev: number;
  created_seq: number;
}

type Params = Record<string, SqliteValue>;

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

const CHANGE_COLUMNS = `rev, seq, op, ${TUPLE_COLUMNS}`;

const API_KEY_SELECT = `SELECT k.id, t.id AS tenant_id, k.secret_hash, k.scopes, k.description, k.created_at, k.expires_at, k.revoked_at
  FROM api_keys k JOIN tenants t ON t.pk = k.tenant`;

export class SqliteDatastore implements Datastore {
  readonly capabilities: DatastoreCapabilities = { concurrentWriters: false, listenNotify: false };

  readonly #db: SqliteDatabase;
  readonly #options: SqliteDatastoreOptions;
  readonly #clock: Clock;
  readonly #notifier: ChangeNotifier;
  readonly #optimized: OptimizedRevisionCache;
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
    this.#options = options;
    this.#clock = options.clock;
    try {
      // Takes effect only on a new file: 32 KiB pages make the B-trees shallower, which speeds
      // the random index inserts of big imports by about a third.
      db.pragma("page_size = 32768");
      // WAL lets readers (in other processes too) proceed while one writer commits.
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous}`);
      // A larger page cache keeps the indexes of big imports in memory; 64 MiB bounds it.
      db.pragma("cache_size = -65536");
      db.pragma("temp_store = MEMORY");
      migrateSqlite(db, this.#clock.now());
    } catch (err) {
      db.close();
      throw wrapSqliteError(err, "opening the database");
    }
    this.#transaction = db.transaction(() => this.#body!());
    this.#notifier = new ChangeNotifier({
      readHead: (tenant) => this.headRevision(tenant),
      pollIntervalMs: options.watchPollIntervalMs,
    });
    this.#optimized = new OptimizedRevisionCache(this.#clock, {
      head: (tenant) => this.headRevision(tenant),
      headAt: (tenant, instant) => this.#headAt(tenant, instant),
    });
  }

  // ---- plumbing -------------------------------------------------------------------------

  /** A statement cached under a short key, so hot reads neither build nor hash their SQL. */
  #shaped<Row>(key: string, build: () => string): SqliteStatement<Row> {
    let stmt = this.#shapes.get(key);
    if (stmt === undefined) {
      stmt = this.#db.prepare(build());
      this.#shapes.set(key, stmt);
    }
    return stmt as SqliteStatement<Row>;
  }

  /** The tenant's row id; tenants are never removed, so it is cached for good. */
  #tenantPk(tenant: string): number {
    let pk = this.#tenantPks.get(tenant);
    if (pk === undefined) {
      pk = this.#tenant(tenant).pk;
      this.#tenantPks.set(tenant, pk);
    }
    return pk;
  }

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
      tenant: this.#tenantPk(tenant),
      rev: revision,
      now: this.#clock.now(),
    });
    const rows = this.#snapshot(tenant, revision, stmt, params);
    const out: Relationship[] = [];
    for (let i = 1; i < rows.length; i++) out.push(rowToRelationship(rows[i]!));
    return out;
  }

  #stmt<Row>(sql: string): SqliteStatement<Row> {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt as SqliteStatement<Row>;
  }

  /**
   * Runs `fn` with the bounded busy retry: the driver already waited the busy timeout inside
   * the call, so a retry only helps against a writer that holds the lock a little longer.
   */
  async #run<T>(action: string, fn: () => T): Promise<T> {
    if (this.#closed) throw datastoreClosed();
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (err) {
        if (isBusy(err) && attempt < this.#options.busyRetries && !this.#closed) {
          await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
          continue;
        }
        throw wrapSqliteError(err, action);
      }
    }
  }

  /** Reads inside one deferred transaction, so every statement sees the same snapshot. */
  #read<T>(action: string, fn: () => T): Promise<T> {
    return this.#run(action, () => {
      this.#body = fn;
      return this.#transaction.deferred() as T;
    });
  }

  /** Writes inside BEGIN IMMEDIATE: the lock is taken before the first read of the head. */
  #write<T>(action: string, fn: () => T): Promise<T> {
    return this.#run(action, () => {
      this.#body = fn;
      return this.#transaction.immediate() as T;
    });
  }

  #tenant(tenant: string): TenantRow {
    const row = this.#stmt<TenantRow>("SELECT pk, head_rev, gc_rev FROM tenants WHERE id = ?").get(
      tenant,
    );
    if (row === undefined) throw tenantNotFound(tenant);
    return row;
  }

  #readableTenant(tenant: string, revision: Revision): TenantRow {
    const row = this.#tenant(tenant);
    checkReadable(revision, row.head_rev, row.gc_rev);
    return row;
  }

  #commitRevision(tenant: TenantRow, revision: Revision): void {
    this.#stmt("INSERT INTO revisions (tenant, rev, committed_at) VALUES (?, ?, ?)").run(
      tenant.pk,
      revision,
      this.#clock.now(),
    );
    this.#stmt("UPDATE tenants SET head_rev = ? WHERE pk = ?").run(revision, tenant.pk);
  }

  #afterCommit(tenant: string, revision: Revision): Revision {
    this.#notifier.notify(tenant, revision);
    return revision;
  }

  // ---- tenants and revisions --------------------------------------------------------------

  async createTenant(id: TenantId): Promise<void> {
    checkTenantId(id, "id");
    return this.#write("createTenant", () => {
      try {
        this.#stmt("INSERT INTO tenants (id, created_at) VALUES (?, ?)").run(id, this.#clock.now());
      } catch (err) {
        if (isUniqueViolation(err)) throw tenantExists(id);
        throw err;
      }
    });
  }

  async listTenants(): Promise<TenantId[]> {
    return this.#run("listTenants", () =>
      this.#stmt<{ id: string }>("SELECT id FROM tenants ORDER BY id")
        .all()
        .map((row) => row.id),
    );
  }

  // ---- API keys ---------------------------------------------------------------------------

  async createApiKey(record: ApiKeyRecord): Promise<void> {
    checkTenantId(record.tenant);
    checkNewApiKey(record);
    return this.#write("createApiKey", () => {
      const t = this.#tenant(record.tenant);
      try {
        this.#stmt(
          "INSERT INTO api_keys (id, tenant, secret_hash, scopes, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ).run(record.id, t.pk, ...apiKeyValues(record));
      } catch (err) {
        if (isUniqueViolation(err)) throw apiKeyExists(record.id);
        throw err;
      }
    });
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    return this.#run("getApiKey", () => {
      const row = this.#stmt<ApiKeyRow>(`${API_KEY_SELECT} WHERE k.id = ?`).get(id);
      return row === undefined ? undefined : rowToApiKey(row);
    });
  }

  async listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]> {
    checkTenantId(tenant);
    return this.#read("listApiKeys", () => {
      const t = this.#tenant(tenant);
      return this.#stmt<ApiKeyRow>(
        `${API_KEY_SELECT} WHERE k.tenant = ? ORDER BY k.created_at DESC, k.id`,
      )
        .all(t.pk)
        .map(rowToApiKey);
    });
  }

  async revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    checkDate(at, "at");
    return this.#write("revokeApiKey", () => {
      this.#stmt("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?").run(
        at.getTime(),
        id,
      );
      const row = this.#stmt<ApiKeyRow>(`${API_KEY_SELECT} WHERE k.id = ?`).get(id);
      return row === undefined ? undefined : rowToApiKey(row);
    });
  }

  async headRevision(tenant: TenantId): Promise<Revision> {
    checkTenantId(tenant);
    return this.#run("headRevision", () => this.#tenant(tenant).head_rev);
  }

  async optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision> {
    checkTenantId(tenant);
    checkDuration(maxStalenessMs, "maxStalenessMs");
    if (this.#closed) throw datastoreClosed();
    return this.#optimized.get(tenant, maxStalenessMs);
  }

  #headAt(tenant: string, instant: number): Promise<Revision> {
    return this.#read("optimizedRevision", () => {
      const row = this.#tenant(tenant);
      const found = this.#stmt<{ rev: number }>(
        "SELECT rev FROM revisions WHERE tenant = ? AND committed_at <= ? ORDER BY rev DESC LIMIT 1",
      ).get(row.pk, instant);
      return Math.max(found?.rev ?? 0, row.gc_rev);
    });
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
    return this.#run("readByResource", () => {
      const stmt = this.#shaped<SnapshotRow>("resource", () =>
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
    return this.#run("readBySubject", () => {
      // One scan of the reverse index covers live and ended rows alike.
      const stmt = this.#shaped<SnapshotRow>(
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
    return this.#run("readByFilter", () => {
      const rows = this.#page(tenant, revision, normalized, after, page.limit + 1);
      const relationships = rows.slice(0, page.limit).map(rowToRelationship);
      if (rows.length <= page.limit) return { relationships };
      const last = relationships[relationships.length - 1]!;
      return { relationships, cursor: encodeCursor(normalized, identityKey(last)) };
    });
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
      tenant: this.#tenantPk(tenant),
      rev: revision,
      now: this.#clock.now(),
      limit: limit + 1,
    });
    // The filter's fields and the presence of a cursor determine the SQL text.
    let shape = after === undefined ? "page" : "page-after";
    for (const [field] of FILTER_COLUMNS) shape += filter?.[field] === undefined ? "-" : "+";
    const cursorSql = after === undefined ? "" : ` AND ${afterCursor(filter, after, params)}`;
    const stmt = this.#shaped<SnapshotRow>(shape, () =>
      snapshotSql(filterWhere(filter) + cursorSql, IDENTITY_COLUMNS, true),
    );
    return this.#snapshot(tenant, revision, stmt, params).slice(1);
  }

  async *export(tenant: TenantId, revision: Revision): AsyncIterable<Relationship> {
    checkTenantId(tenant);
    checkRevision(revision);
    const pageSize = this.#options.exportPageSize;
    let after: IdentityKey | undefined;
    for (;;) {
      const rows = await this.#run("export", () =>
        this.#page(tenant, revision, undefined, after, pageSize),
      );
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

  #present(tenantPk: number, filter: NormalizedFilter, now: number, limit: number): number {
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM relationships INDEXED BY relationships_live
      WHERE ${filterWhere(filter)} AND ${PRESENT} LIMIT @limit)`;
    const params = filterParams(filter, { tenant: tenantPk, now, limit });
    return this.#stmt<{ n: number }>(sql).get(params)!.n;
  }

  #checkPreconditions(tenantPk: number, preconditions: CheckedPrecondition[], now: number): void {
    preconditions.forEach((precondition, i) => {
      const found = this.#present(tenantPk, precondition.filter, now, 1) > 0;
      if (found !== (precondition.op === "MUST_MATCH")) throw preconditionFailed(precondition, i);
    });
  }

  #findLive(tenantPk: number, rel: Relationship): LiveRow | undefined {
    return this.#stmt<LiveRow>(
      `SELECT id, expires_at, created_rev, created_seq FROM relationships INDEXED BY relationships_live
       WHERE tenant = ? AND (${IDENTITY_COLUMNS}) = (?, ?, ?, ?, ?, ?) AND deleted_rev IS NULL`,
    ).get(tenantPk, ...identityKey(rel));
  }

  #end(rowId: number, revision: Revision, seq: number | null): void {
    this.#stmt("UPDATE relationships SET deleted_rev = ?, deleted_seq = ? WHERE id = ?").run(
      revision,
      seq,
      rowId,
    );
  }

  #insert(tenantPk: number, rel: Relationship, revision: Revision, seq: number): void {
    this.#stmt(
      `INSERT INTO relationships (tenant, ${TUPLE_COLUMNS}, created_rev, created_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(tenantPk, ...tupleValues(rel), revision, seq);
  }

  async write(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
  ): Promise<Revision> {
    checkTenantId(tenant);
    const checked = validateWrite(mutations, preconditions);
    const revision = await this.#write("write", () => {
      const t = this.#tenant(tenant);
      const now = this.#clock.now();
      const rev = t.head_rev + 1;
      this.#checkPreconditions(t.pk, checked, now);
      mutations.forEach((mutation, seq) => {
        const rel = mutation.relationship;
        const live = this.#findLive(t.pk, rel);
        const present = live !== undefined && (live.expires_at === null || live.expires_at > now);
        switch (mutation.op) {
          case "CREATE":
            if (present) throw createOfExisting(rel, `mutations[${seq}]`);
            if (live !== undefined) this.#end(live.id, rev, null);
            this.#insert(t.pk, rel, rev, seq);
            break;
          case "TOUCH":
            if (live !== undefined) this.#end(live.id, rev, null);
            this.#insert(t.pk, rel, rev, seq);
            break;
          case "DELETE":
            if (present) this.#end(live.id, rev, seq);
            break;
        }
      });
      this.#commitRevision(t, rev);
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
    const where = `${filterWhere(normalized)} AND ${PRESENT}`;
    // One statement numbers the victims in stable order (their changelog order) and ends them.
    const update = `UPDATE relationships SET deleted_rev = @rev, deleted_seq = victims.seq
      FROM (SELECT id, row_number() OVER (${STABLE_ORDER}) - 1 AS seq
            FROM relationships INDEXED BY relationships_live WHERE ${where} ${STABLE_ORDER} LIMIT @limit) AS victims
      WHERE relationships.id = victims.id`;
    const result = await this.#write("deleteByFilter", () => {
      const t = this.#tenant(tenant);
      const now = this.#clock.now();
      const rev = t.head_rev + 1;
      this.#checkPreconditions(t.pk, preconditions, now);
      let partial = false;
      if (limit !== undefined && this.#present(t.pk, normalized, now, limit + 1) > limit) {
        if (options.allowPartial !== true) throw deleteLimitExceeded(normalized, limit);
        partial = true;
      }
      const params = filterParams(normalized, { tenant: t.pk, now, rev, limit: limit ?? -1 });
      const deleted = this.#stmt(update).run(params).changes;
      this.#commitRevision(t, rev);
      return { revision: rev, deleted, partial };
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
        revision = await this.#write("bulkImport", () => this.#importBatch(tenant, batch));
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

  #importBatch(tenant: string, batch: ImportBatch): Revision {
    const t = this.#tenant(tenant);
    const rev = t.head_rev + 1;
    const now = this.#clock.now();
    const insert = this.#stmt(
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
        const live = this.#findLive(t.pk, rel)!;
        const line = batch.firstLine + seq;
        if (live.created_rev === rev) {
          throw repeatedLine(relationshipKey(rel), line, batch.firstLine + live.created_seq);
        }
        if (live.expires_at === null || live.expires_at > now) {
          throw createOfExisting(rel, `line ${line}`);
        }
        this.#end(live.id, rev, null);
        insert.run(t.pk, ...tupleValues(rel), rev, seq);
      }
    }
    this.#commitRevision(t, rev);
    return rev;
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
    const revision = await this.#write("writeSchema", () => {
      const t = this.#tenant(tenant);
      const now = this.#clock.now();
      const matches = guards
        .map((filter) => ({ filter, count: this.#present(t.pk, filter, now, -1) }))
        .filter((match) => match.count > 0);
      if (matches.length > 0) throw schemaWouldOrphan(matches);
      const rev = t.head_rev + 1;
      this.#stmt("INSERT INTO schemas (tenant, rev, text) VALUES (?, ?, ?)").run(t.pk, rev, text);
      this.#commitRevision(t, rev);
      return rev;
    });
    return this.#afterCommit(tenant, revision);
  }

  async readSchema(tenant: TenantId, revision: Revision): Promise<StoredSchema | undefined> {
    checkTenantId(tenant);
    checkRevision(revision);
    return this.#read("readSchema", () => {
      const t = this.#readableTenant(tenant, revision);
      const row = this.#stmt<{ rev: number; text: string }>(
        "SELECT rev, text FROM schemas WHERE tenant = ? AND rev <= ? ORDER BY rev DESC LIMIT 1",
      ).get(t.pk, revision);
      return row === undefined ? undefined : { text: row.text, revision: row.rev };
    });
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
    // Each branch walks its changelog index in (rev, seq) order and SQLite merges them.
    const changes = `SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
        FROM relationships INDEXED BY relationships_created
        WHERE tenant = @tenant AND created_rev > @after
      UNION ALL
      SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
        FROM relationships INDEXED BY relationships_deleted
        WHERE tenant = @tenant AND deleted_rev > @after AND deleted_seq IS NOT NULL
      ORDER BY rev, seq LIMIT @limit`;
    const rest = `SELECT ${CHANGE_COLUMNS} FROM (
        SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
          FROM relationships INDEXED BY relationships_created
          WHERE tenant = @tenant AND created_rev = @rev AND created_seq > @seq
        UNION ALL
        SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
          FROM relationships INDEXED BY relationships_deleted
          WHERE tenant = @tenant AND deleted_rev = @rev AND deleted_seq > @seq)
      ORDER BY seq`;
    return this.#read("changesSince", () => {
      const t = this.#tenant(tenant);
      checkChangelogReadable(afterRevision, t.head_rev, t.gc_rev);
      const rows = this.#stmt<ChangeRow>(changes).all({
        tenant: t.pk,
        after: afterRevision,
        limit,
      });
      const schemas = this.#stmt<{ rev: number; text: string }>(
        "SELECT rev, text FROM schemas WHERE tenant = ? AND rev > ? ORDER BY rev LIMIT ?",
      ).all(t.pk, afterRevision, limit);
      const { events, completeAfter } = assembleChanges(rows, schemas, limit);
      if (completeAfter !== undefined) {
        const more = this.#stmt<ChangeRow>(rest).all({
          tenant: t.pk,
          rev: completeAfter.rev,
          seq: completeAfter.seq,
        });
        for (const row of more) events.push(rowToChange(row));
      }
      const span = revisionSpan(events);
      if (span === undefined) return [];
      const times = this.#stmt<CommitTimeRow>(
        "SELECT rev, committed_at FROM revisions WHERE tenant = ? AND rev BETWEEN ? AND ?",
      ).all(t.pk, span.first, span.last);
      return withCommitTimes(events, times);
    });
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

  // ---- gc and close -----------------------------------------------------------------------

  async gc(olderThanMs: number): Promise<GcResult> {
    checkDuration(olderThanMs, "olderThanMs");
    const tenants = await this.#run("gc", () =>
      this.#stmt<{ id: string }>("SELECT id FROM tenants ORDER BY id").all(),
    );
    const total = { tenants: 0, relationships: 0, revisions: 0, schemas: 0 };
    for (const { id } of tenants) {
      const counts = await this.#write("gc", () => this.#gcTenant(id, olderThanMs));
      if (counts === undefined) continue;
      total.tenants++;
      total.relationships += counts.relationships;
      total.revisions += counts.revisions;
      total.schemas += counts.schemas;
    }
    this.#optimized.clear();
    return total;
  }

  #gcTenant(
    tenant: string,
    olderThanMs: number,
  ): { relationships: number; revisions: number; schemas: number } | undefined {
    const t = this.#tenant(tenant);
    const now = this.#clock.now();
    const horizon = this.#stmt<{ rev: number }>(
      "SELECT rev FROM revisions WHERE tenant = ? AND committed_at < ? ORDER BY rev DESC LIMIT 1",
    ).get(t.pk, now - olderThanMs)?.rev;
    if (horizon === undefined || horizon <= t.gc_rev) return undefined;
    this.#stmt("UPDATE tenants SET gc_rev = ? WHERE pk = ?").run(horizon, t.pk);
    const ended = this.#stmt(
      "DELETE FROM relationships INDEXED BY relationships_deleted WHERE tenant = ? AND deleted_rev <= ?",
    ).run(t.pk, horizon).changes;
    // Expired rows are invisible at every revision from now on; those created at or before
    // the horizon carry no changelog entry a follower could still need.
    const expired = this.#stmt(
      `DELETE FROM relationships INDEXED BY relationships_expiring
       WHERE tenant = ? AND expires_at <= ? AND deleted_rev IS NULL AND created_rev <= ?`,
    ).run(t.pk, now, horizon).changes;
    const revisions = this.#stmt("DELETE FROM revisions WHERE tenant = ? AND rev < ?").run(
      t.pk,
      horizon,
    ).changes;
    const schemas = this.#stmt(
      `DELETE FROM schemas WHERE tenant = @tenant AND rev <
        (SELECT max(rev) FROM schemas WHERE tenant = @tenant AND rev <= @horizon)`,
    ).run({ tenant: t.pk, horizon }).changes;
    return { relationships: ended + expired, revisions, schemas };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#notifier.close();
    this.#statements.clear();
    this.#shapes.clear();
    try {
      this.#db.close();
    } catch (err) {
      throw wrapSqliteError(err, "close");
    }
  }
}
