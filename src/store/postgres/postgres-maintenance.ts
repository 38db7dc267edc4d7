/**
 * Garbage collection and statistics in PostgreSQL. gc works per tenant in two steps: the
 * floor (oldest readable revision) moves first, under the tenant lock, then the rows below it
 * go without the lock.
 */
import { checkDuration } from "../argument-checks.js";
import type { GcResult, StoreStats } from "../store-maintenance.js";
import type { PostgresConnection } from "./postgres-connection.js";

export class PostgresMaintenance {
  readonly #db: PostgresConnection;

  constructor(db: PostgresConnection) {
    this.#db = db;
  }

  async gc(olderThanMs: number): Promise<GcResult> {
    checkDuration(olderThanMs, "olderThanMs");
    const s = this.#db.s;
    const tenants = await this.#db.query<{ id: string }>(
      "gc",
      `SELECT id FROM ${s}.tenants ORDER BY id`,
    );
    const total = { tenants: 0, relationships: 0, revisions: 0, schemas: 0 };
    for (const { id } of tenants) {
      const now = this.#db.clock.now();
      // First move the floor (short, under the tenant lock): from its commit on, no statement
      // reads below the horizon, so the rows can go afterwards without holding the lock.
      const moved = await this.#db.transaction("gc", async (client) => {
        const { rows } = await client.query<{ pk: number; gc_rev: string; horizon: string | null }>(
          `SELECT t.pk, t.gc_rev, (SELECT rev FROM ${s}.revisions
              WHERE tenant = t.pk AND committed_at < $2 ORDER BY rev DESC LIMIT 1) AS horizon
           FROM ${s}.tenants t WHERE t.id = $1 FOR UPDATE`,
          [id, now - olderThanMs],
        );
        const row = rows[0];
        if (row === undefined || row.horizon === null) return undefined;
        const horizon = Number(row.horizon);
        if (horizon <= Number(row.gc_rev)) return undefined;
        await client.query(`UPDATE ${s}.tenants SET gc_rev = $2 WHERE pk = $1`, [row.pk, horizon]);
        return { pk: row.pk, horizon };
      });
      if (moved === undefined) continue;
      const { pk, horizon } = moved;
      const counts = await this.#db.transaction(
        "gc",
        async (client) => {
          const ended = await client.query(
            `DELETE FROM ${s}.relationships WHERE tenant = $1 AND deleted_rev <= $2`,
            [pk, horizon],
          );
          // Expired rows are invisible at every revision from now on; those created at or before
          // the horizon carry no changelog entry a follower could still need.
          const expired = await client.query(
            `DELETE FROM ${s}.relationships
           WHERE tenant = $1 AND expires_at <= $3 AND deleted_rev IS NULL AND created_rev <= $2`,
            [pk, horizon, now],
          );
          const revisions = await client.query(
            `DELETE FROM ${s}.revisions WHERE tenant = $1 AND rev < $2`,
            [pk, horizon],
          );
          const schemas = await client.query(
            `DELETE FROM ${s}.schemas WHERE tenant = $1 AND rev <
             (SELECT max(rev) FROM ${s}.schemas WHERE tenant = $1 AND rev <= $2)`,
            [pk, horizon],
          );
          return {
            relationships: (ended.rowCount ?? 0) + (expired.rowCount ?? 0),
            revisions: revisions.rowCount ?? 0,
            schemas: schemas.rowCount ?? 0,
          };
        },
        { bulk: true },
      );
      total.tenants++;
      total.relationships += counts.relationships;
      total.revisions += counts.revisions;
      total.schemas += counts.schemas;
    }
    return total;
  }

  /** One statement (one snapshot), under the time limit of bulk work: it counts every row. */
  async stats(): Promise<StoreStats> {
    const s = this.#db.s;
    const row = await this.#db.transaction(
      "stats",
      async (client) =>
        (
          await client.query<Record<keyof StoreStats, string>>(
            `SELECT (SELECT count(*) FROM ${s}.tenants) AS tenants,
              (SELECT count(*) FROM ${s}.relationships) AS "relationshipRows",
              (SELECT count(*) FROM ${s}.relationships WHERE deleted_rev IS NULL)
                AS "liveRelationships",
              (SELECT count(*) FROM ${s}.revisions) AS revisions,
              (SELECT count(*) FROM ${s}.schemas) AS schemas`,
          )
        ).rows[0]!,
      { bulk: true },
    );
    return {
      tenants: Number(row.tenants),
      relationshipRows: Number(row.relationshipRows),
      liveRelationships: Number(row.liveRelationships),
      revisions: Number(row.revisions),
      schemas: Number(row.schemas),
    };
  }
}
