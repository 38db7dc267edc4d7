/**
 * `optimizedRevision` for every engine: time is cut into windows of `maxStaleness` and every
 * caller in a window gets the head as it was when the window opened. Callers then share
 * revision-keyed cache entries instead of each reading at its own fresh head.
 */
import type { Clock, Revision } from "../core/index.js";

interface Entry {
  readonly windowStart: number;
  readonly window: number;
  readonly revision: Promise<Revision>;
}

export interface OptimizedRevisionSource {
  /** The head revision now. */
  head(tenant: string): Promise<Revision>;
  /**
   * The newest revision committed at or before `instant` (epoch ms), but never below the
   * tenant's oldest readable revision; 0 when the tenant had no write by then.
   */
  headAt(tenant: string, instant: number): Promise<Revision>;
}

export class OptimizedRevisionCache {
  readonly #clock: Clock;
  readonly #source: OptimizedRevisionSource;
  readonly #entries = new Map<string, Entry>();

  constructor(clock: Clock, source: OptimizedRevisionSource) {
    this.#clock = clock;
    this.#source = source;
  }

  get(tenant: string, maxStalenessMs: number): Promise<Revision> {
    if (maxStalenessMs === 0) return this.#source.head(tenant);
    const windowStart = Math.floor(this.#clock.now() / maxStalenessMs) * maxStalenessMs;
    const entry = this.#entries.get(tenant);
    if (
      entry !== undefined &&
      entry.windowStart === windowStart &&
      entry.window === maxStalenessMs
    ) {
      return entry.revision;
    }
    // The answer for a window that has opened is fixed (commits made from now on carry later
    // commit times), so one lookup per tenant and window serves every caller in it.
    const revision = this.#source.headAt(tenant, windowStart);
    const fresh: Entry = { windowStart, window: maxStalenessMs, revision };
    this.#entries.set(tenant, fresh);
    revision.catch(() => {
      if (this.#entries.get(tenant) === fresh) this.#entries.delete(tenant);
    });
    return revision;
  }

  /** Forgets every answer, e.g. after gc moved the oldest readable revisions. */
  clear(): void {
    this.#entries.clear();
  }
}
