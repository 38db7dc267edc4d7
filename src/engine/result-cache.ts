/**
 * The shared sub-problem cache: `(revision, subject, resource#member)` → outcome. Keys carry the
 * revision, so no write ever invalidates an entry; entries carry the earliest expiration of the
 * tuples they were computed from, after which they are treated as absent. Only outcomes that
 * do not depend on request context and on no unfinished cycle are stored here.
 */
import { LRUCache } from "lru-cache";
import type { Outcome } from "./outcome.js";

export interface CachedOutcome {
  readonly outcome: Outcome;
  /** Epoch ms at which the entry stops being valid (`Infinity`: never). */
  readonly validUntil: number;
}

export interface ResultCacheOptions {
  /** Most entries held. Default 1 000 000. */
  readonly maxEntries?: number;
  /** Most bytes held, estimated from key length plus a fixed overhead. Default 256 MiB. */
  readonly maxBytes?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  readonly size: number;
  readonly bytes: number;
}

const ENTRY_OVERHEAD = 96;

export class ResultCache {
  readonly #lru: LRUCache<string, CachedOutcome>;
  #hits = 0;
  #misses = 0;

  constructor(options: ResultCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 1_000_000;
    const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError("result cache maxEntries must be a positive integer");
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) {
      throw new TypeError("result cache maxBytes must be an integer of at least 1024");
    }
    this.#lru = new LRUCache({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: (_value, key) => key.length * 2 + ENTRY_OVERHEAD,
    });
  }

  get(key: string, now: number): CachedOutcome | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined || entry.validUntil <= now) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return entry;
  }

  set(key: string, outcome: Outcome, validUntil: number): void {
    this.#lru.set(key, { outcome, validUntil });
  }

  clear(): void {
    this.#lru.clear();
  }

  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      size: this.#lru.size,
      bytes: this.#lru.calculatedSize,
    };
  }
}
