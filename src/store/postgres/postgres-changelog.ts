/**
 * Revisions and the changelog in PostgreSQL. A tuple row carries the (rev, seq) of its creation
 * (a TOUCH entry) and, when a DELETE ended it, of its deletion, so the log is a merge of two
 * index scans. Commits of other processes arrive through LISTEN on a dedicated connection.
 */
import pg from "pg";
import type { Revision, TenantId } from "../../core/index.js";
import {
  checkChangelogReadable,
  checkDuration,
  checkPositiveInteger,
  checkRevision,
  checkTenantId,
  datastoreClosed,
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
import type { ChangeEvent, Changelog, WaitForChangesOptions } from "../changelog.js";
import { OptimizedRevisionCache } from "../optimized-revision-cache.js";
import { TUPLE_COLUMNS } from "../tuple-row.js";
import { CHANNEL, type PostgresConnection } from "./postgres-connection.js";

interface SnapshotRow {
  head_rev: string;
  gc_rev: string;
}

export class PostgresChangelog implements Changelog {
  readonly #db: PostgresConnection;
  readonly #notifier: ChangeNotifier;
  readonly #optimized: OptimizedRevisionCache;
  #listener: Promise<pg.Client> | undefined;

  /**
   * `readHead` is how waits and optimized revisions read the head: the datastore's own
   * `headRevision`, so that everything reading the head goes through that one method.
   */
  constructor(db: PostgresConnection, readHead: (tenant: string) => Promise<Revision>) {
    this.#db = db;
    this.#notifier = new ChangeNotifier({
      readHead,
      pollIntervalMs: db.options.watchPollIntervalMs,
      prepare: () => this.#listen().then(() => undefined),
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

  /** Rejects pending waits with UNAVAILABLE, refuses new ones and stops listening. */
  async close(): Promise<void> {
    this.#notifier.close();
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener !== undefined) {
      await listener.then((client) => client.end()).catch(() => undefined);
    }
  }

  async headRevision(tenant: TenantId): Promise<Revision> {
    checkTenantId(tenant);
    const rows = await this.#db.query<{ head_rev: string }>(
      "headRevision",
      `SELECT head_rev FROM ${this.#db.s}.tenants WHERE id = $1`,
      [tenant],
      true,
    );
    if (rows[0] === undefined) throw tenantNotFound(tenant);
    return Number(rows[0].head_rev);
  }

  async optimizedRevision(tenant: TenantId, maxStalenessMs: number): Promise<Revision> {
    checkTenantId(tenant);
    checkDuration(maxStalenessMs, "maxStalenessMs");
    if (this.#db.closed) throw datastoreClosed();
    return this.#optimized.get(tenant, maxStalenessMs);
  }

  async #headAt(tenant: string, instant: number): Promise<Revision> {
    const s = this.#db.s;
    const rows = await this.#db.query<{ gc_rev: string; rev: string | null }>(
      "optimizedRevision",
      `SELECT t.gc_rev, (SELECT rev FROM ${s}.revisions
          WHERE tenant = t.pk AND committed_at <= $2 ORDER BY rev DESC LIMIT 1) AS rev
       FROM ${s}.tenants t WHERE t.id = $1`,
      [tenant, instant],
    );
    const row = rows[0];
    if (row === undefined) throw tenantNotFound(tenant);
    return Math.max(Number(row.rev ?? 0), Number(row.gc_rev));
  }

  async changesSince(
    tenant: TenantId,
    afterRevision: Revision,
    limit: number,
  ): Promise<ChangeEvent[]> {
    checkTenantId(tenant);
    checkRevision(afterRevision, "afterRevision");
    checkPositiveInteger(limit, "limit");
    const s = this.#db.s;
    // One statement: the tenant row (head, oldest readable) with both changelog branches, each
    // ordered and cut on its own, then merged.
    const rows = await this.#db.query<SnapshotRow & Partial<ChangeRow>>(
      "changesSince",
      `SELECT t.head_rev, t.gc_rev, r.* FROM ${s}.tenants t
       LEFT JOIN LATERAL (
         (SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
           FROM ${s}.relationships WHERE tenant = t.pk AND created_rev > $2
           ORDER BY created_rev, created_seq LIMIT $3)
         UNION ALL
         (SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
           FROM ${s}.relationships
           WHERE tenant = t.pk AND deleted_rev > $2 AND deleted_seq IS NOT NULL
           ORDER BY deleted_rev, deleted_seq LIMIT $3)
         ORDER BY rev, seq LIMIT $3) r ON true
       WHERE t.id = $1 ORDER BY r.rev, r.seq`,
      [tenant, afterRevision, limit],
      true,
    );
    const first = rows[0];
    if (first === undefined) throw tenantNotFound(tenant);
    const head = Number(first.head_rev);
    checkChangelogReadable(afterRevision, head, Number(first.gc_rev));
    const changes = rows.filter((row) => row.resource_type !== null) as ChangeRow[];
    // Capped at the head of the first snapshot, so no later revision is reported before the
    // tuple changes of the revisions below it.
    const schemas = await this.#db.query<SchemaRow>(
      "changesSince",
      `SELECT s.rev, s.text FROM ${s}.schemas s JOIN ${s}.tenants t ON t.pk = s.tenant
       WHERE t.id = $1 AND s.rev > $2 AND s.rev <= $3 ORDER BY s.rev LIMIT $4`,
      [tenant, afterRevision, head, limit],
    );
    const { events, completeAfter } = assembleChanges(changes, schemas, limit);
    if (completeAfter !== undefined) {
      const more = await this.#db.query<ChangeRow>(
        "changesSince",
        `SELECT * FROM (
           SELECT created_rev AS rev, created_seq AS seq, 'TOUCH' AS op, ${TUPLE_COLUMNS}
             FROM ${s}.relationships r JOIN ${s}.tenants t ON t.pk = r.tenant
             WHERE t.id = $1 AND created_rev = $2 AND created_seq > $3
           UNION ALL
           SELECT deleted_rev AS rev, deleted_seq AS seq, 'DELETE' AS op, ${TUPLE_COLUMNS}
             FROM ${s}.relationships r JOIN ${s}.tenants t ON t.pk = r.tenant
             WHERE t.id = $1 AND deleted_rev = $2 AND deleted_seq > $3) AS rest
         ORDER BY seq`,
        [tenant, completeAfter.rev, completeAfter.seq],
      );
      for (const row of more) events.push(rowToChange(row));
    }
    const span = revisionSpan(events);
    if (span === undefined) return [];
    const times = await this.#db.query<CommitTimeRow>(
      "changesSince",
      `SELECT r.rev, r.committed_at FROM ${s}.revisions r JOIN ${s}.tenants t ON t.pk = r.tenant
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
      connectionString: this.#db.connectionString,
      connectionTimeoutMillis: this.#db.options.connectTimeoutMs,
      application_name: "trellis-listen",
      // A listener whose server vanished is noticed and dropped; waits poll meanwhile.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
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
        if (schema === this.#db.options.schema) this.#notifier.notify(tenant, revision);
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
}
