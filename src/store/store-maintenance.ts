/**
 * Keeping a datastore healthy: removing history older than a window, counting what it holds,
 * and closing it.
 */

/** What one `gc` call removed, summed over all tenants. */
export interface GcResult {
  /** Tenants whose oldest readable revision moved forward. */
  readonly tenants: number;
  /** Tuple rows removed: deleted or replaced before the window, or expired before it. */
  readonly relationships: number;
  /** Revision rows (commit times) removed. */
  readonly revisions: number;
  /** Schema versions superseded before the window. */
  readonly schemas: number;
}

/** What a store holds, summed over all tenants: exact row counts at one moment. */
export interface StoreStats {
  readonly tenants: number;
  /**
   * Tuple rows, live and historical (ended rows kept for snapshots inside the gc window, live
   * rows that have expired but are not collected yet).
   */
  readonly relationshipRows: number;
  /** Of those, the rows live at head (not deleted or replaced; expired ones included). */
  readonly liveRelationships: number;
  /** Revision rows (commit times). */
  readonly revisions: number;
  /** Schema versions. */
  readonly schemas: number;
}

/** Garbage collection, statistics and closing. The common rules of `Datastore` (datastore.ts) apply. */
export interface StoreMaintenance {
  /**
   * Removes history older than `olderThanMs` (by commit time, injected clock), for every
   * tenant: the newest revision committed before the window becomes the tenant's oldest
   * readable revision G; tuple rows deleted or replaced at or before G, rows created at or
   * before G that have expired, revision rows below G and schema versions superseded at or
   * before G are removed. Every revision that was head within the window stays readable, and
   * `changesSince(G)` stays complete.
   */
  gc(olderThanMs: number): Promise<GcResult>;

  /**
   * Counts the rows of the store, for metrics (history kept against live tuples shows whether
   * gc keeps up) and tests. Exact, so its cost grows with the store: it counts every row of an
   * index (seconds at tens of millions of tuples on PostgreSQL). Call it periodically, never
   * per request.
   */
  stats(): Promise<StoreStats>;

  /**
   * Closes connections and files. Pending `waitForChanges` calls reject with UNAVAILABLE;
   * later calls to any method reject with UNAVAILABLE. Closing twice is a no-op.
   */
  close(): Promise<void>;
}
