/**
 * Revisions and the changelog in SQLite. The changelog is not a table of its own: a tuple row
 * carries the (rev, seq) of its creation (a TOUCH entry) and, when a DELETE ended it, of its
 * deletion, so the log is a merge of two index scans.
 */
import type { Revision, TenantId } from "../../core/index.js";
import {
  checkChangelogReadable,
  checkDuration,
  checkPositiveInteger,
  checkRevision,
  checkTenantId,
  datastoreClosed,
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
import type { ChangeEvent, Changelog, WaitForChangesOptions } from "../changelog.js";
import { OptimizedRevisionCache } from "../optimized-revision-cache.js";
import { TUPLE_COLUMNS } from "../tuple-row.js";
import type { SqliteConnection } from "./sqlite-connection.js";

const CHANGE_COLUMNS = `rev, seq, op, ${TUPLE_COLUMNS}`;

/** Each branch walks its changelog index in (rev, seq) order and SQLite merges them. */
const CHANGES = `SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
    FROM relationships INDEXED BY relationships_created
    WHERE tenant = @tenant AND created_rev > @after
  UNION ALL
  SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
    FROM relationships INDEXED BY relationships_deleted
    WHERE tenant = @tenant AND deleted_rev > @after AND deleted_seq IS NOT NULL
  ORDER BY rev, seq LIMIT @limit`;

/** The rest of one revision after a (rev, seq) position. */
const REST_OF_REVISION = `SELECT ${CHANGE_COLUMNS} FROM (
    SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
      FROM relationships INDEXED BY relationships_created
      WHERE tenant = @tenant AND created_rev = @rev AND created_seq > @seq
    UNION ALL
    SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
      FROM relationships INDEXED BY relationships_deleted
      WHERE tenant = @tenant AND deleted_rev = @rev AND deleted_seq > @seq)
  ORDER BY seq`;

export class SqliteChangelog implements Changelog {
  readonly #db: SqliteConnection;
  readonly #notifier: ChangeNotifier;
  readonly #optimized: OptimizedRevisionCache;

  /**
   * `readHead` is how waits and optimized revisions read the head: the datastore's own
   * `headRevision`, so that everything reading the head goes through that one method.
   */
  constructor(db: SqliteConnection, readHead: (tenant: string) => Promise<Revision>) {
    this.#db = db;
    this.#notifier = new ChangeNotifier({
      readHead,
      pollIntervalMs: db.options.watchPollIntervalMs,
    });
    this.#optimized = new OptimizedRevisionCache(db.clock, {
      head: readHead,
      headAt: (tenant, instant) => this.#headAt(tenant, instant),
    });
  }

  /** Wakes this instance's waiters after a commit; returns the revision. */
  committed(tenant: string, revision: Revision): Revision {
    this.#notifier.notify(tenant, revision);
    return revision;
  }

  /** Forgets the optimized revisions, after gc moved the oldest readable ones. */
  forgetOptimizedRevisions(): void {
    this.#optimized.clear();
  }

  /** Rejects pending waits with UNAVAILABLE and refuses new ones. */
  close(): void {
    this.#notifier.close();
  }

  async headRevision(tenant: TenantId): Promise<Revision> {
    checkTenantId(tenant);
    return this.#db.run("headRevision", () => this.#db.tenant(tenant).head_rev);
  }

  async optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision> {
    checkTenantId(tenant);
    checkDuration(maxStalenessMs, "maxStalenessMs");
    if (this.#db.closed) throw datastoreClosed();
    return this.#optimized.get(tenant, maxStalenessMs);
  }

  #headAt(tenant: string, instant: number): Promise<Revision> {
    return this.#db.read("optimizedRevision", () => {
      const row = this.#db.tenant(tenant);
      const found = this.#db
        .stmt<{ rev: number }>(
          "SELECT rev FROM revisions WHERE tenant = ? AND committed_at <= ? ORDER BY rev DESC LIMIT 1",
        )
        .get(row.pk, instant);
      return Math.max(found?.rev ?? 0, row.gc_rev);
    });
  }

  async changesSince(
    tenant: TenantId,
    afterRevision: Revision,
    limit: number,
  ): Promise<ChangeEvent[]> {
    checkTenantId(tenant);
    checkRevision(afterRevision, "afterRevision");
    checkPositiveInteger(limit, "limit");
    return this.#db.read("changesSince", () => {
      const t = this.#db.tenant(tenant);
      checkChangelogReadable(afterRevision, t.head_rev, t.gc_rev);
      const rows = this.#db.stmt<ChangeRow>(CHANGES).all({
        tenant: t.pk,
        after: afterRevision,
        limit,
      });
      const schemas = this.#db
        .stmt<{ rev: number; text: string }>(
          "SELECT rev, text FROM schemas WHERE tenant = ? AND rev > ? ORDER BY rev LIMIT ?",
        )
        .all(t.pk, afterRevision, limit);
      const { events, completeAfter } = assembleChanges(rows, schemas, limit);
      if (completeAfter !== undefined) {
        const more = this.#db.stmt<ChangeRow>(REST_OF_REVISION).all({
          tenant: t.pk,
          rev: completeAfter.rev,
          seq: completeAfter.seq,
        });
        for (const row of more) events.push(rowToChange(row));
      }
      const span = revisionSpan(events);
      if (span === undefined) return [];
      const times = this.#db
        .stmt<CommitTimeRow>(
          "SELECT rev, committed_at FROM revisions WHERE tenant = ? AND rev BETWEEN ? AND ?",
        )
        .all(t.pk, span.first, span.last);
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
}
