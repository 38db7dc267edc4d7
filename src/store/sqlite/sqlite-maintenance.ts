/**
 * Garbage collection and statistics in SQLite. gc takes one write transaction per tenant, so
 * the writer lock is never held for the whole store at once.
 */
import { checkDuration } from "../argument-checks.js";
import type { GcResult, StoreStats } from "../store-maintenance.js";
import type { SqliteConnection } from "./sqlite-connection.js";

interface TenantCounts {
  relationships: number;
  revisions: number;
  schemas: number;
}

export class SqliteMaintenance {
  readonly #db: SqliteConnection;

  constructor(db: SqliteConnection) {
    this.#db = db;
  }

  async gc(olderThanMs: number): Promise<GcResult> {
    checkDuration(olderThanMs, "olderThanMs");
    const tenants = await this.#db.run("gc", () =>
      this.#db.stmt<{ id: string }>("SELECT id FROM tenants ORDER BY id").all(),
    );
    const total = { tenants: 0, relationships: 0, revisions: 0, schemas: 0 };
    for (const { id } of tenants) {
      const counts = await this.#db.write("gc", () => this.#gcTenant(id, olderThanMs));
      if (counts === undefined) continue;
      total.tenants++;
      total.relationships += counts.relationships;
      total.revisions += counts.revisions;
      total.schemas += counts.schemas;
    }
    return total;
  }

  /** One read transaction: every count comes from the same snapshot. */
  stats(): Promise<StoreStats> {
    return this.#db.read(
      "stats",
      () =>
        this.#db
          .stmt<StoreStats>(
            `SELECT (SELECT count(*) FROM tenants) AS tenants,
            (SELECT count(*) FROM relationships) AS relationshipRows,
            (SELECT count(*) FROM relationships INDEXED BY relationships_live
              WHERE deleted_rev IS NULL) AS liveRelationships,
            (SELECT count(*) FROM revisions) AS revisions,
            (SELECT count(*) FROM schemas) AS schemas`,
          )
          .get()!,
    );
  }

  #gcTenant(tenant: string, olderThanMs: number): TenantCounts | undefined {
    const db = this.#db;
    const t = db.tenant(tenant);
    const now = db.clock.now();
    const horizon = db
      .stmt<{ rev: number }>(
        "SELECT rev FROM revisions WHERE tenant = ? AND committed_at < ? ORDER BY rev DESC LIMIT 1",
      )
      .get(t.pk, now - olderThanMs)?.rev;
    if (horizon === undefined || horizon <= t.gc_rev) return undefined;
    db.stmt("UPDATE tenants SET gc_rev = ? WHERE pk = ?").run(horizon, t.pk);
    const ended = db
      .stmt(
        "DELETE FROM relationships INDEXED BY relationships_deleted WHERE tenant = ? AND deleted_rev <= ?",
      )
      .run(t.pk, horizon).changes;
    // Expired rows are invisible at every revision from now on; those created at or before
    // the horizon carry no changelog entry a follower could still need.
    const expired = db
      .stmt(
        `DELETE FROM relationships INDEXED BY relationships_expiring
       WHERE tenant = ? AND expires_at <= ? AND deleted_rev IS NULL AND created_rev <= ?`,
      )
      .run(t.pk, now, horizon).changes;
    const revisions = db
      .stmt("DELETE FROM revisions WHERE tenant = ? AND rev < ?")
      .run(t.pk, horizon).changes;
    const schemas = db
      .stmt(
        `DELETE FROM schemas WHERE tenant = @tenant AND rev <
        (SELECT max(rev) FROM schemas WHERE tenant = @tenant AND rev <= @horizon)`,
      )
      .run({ tenant: t.pk, horizon }).changes;
    return { relationships: ended + expired, revisions, schemas };
  }
}
