/** Keeping a datastore healthy: removing history older than a window, and closing it. */

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

/** Garbage collection and closing. The common rules of `Datastore` (datastore.ts) apply. */
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
   * Closes connections and files. Pending `waitForChanges` calls reject with UNAVAILABLE;
   * later calls to any method reject with UNAVAILABLE. Closing twice is a no-op.
   */
  close(): Promise<void>;
}
