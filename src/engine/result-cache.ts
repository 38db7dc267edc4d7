/**
 * The shared sub-problem cache: `(tenant and revision, subject, resource#member)` → outcome.
 * Keys carry the revision, so no write ever invalidates an entry; entries carry the earliest
 * expiration of the tuples they were computed from, after which they are treated as absent.
 * Only outcomes that do not depend on request context and on no unfinished cycle are stored.
 *
 * Why nested maps and two generations rather than one LRU of string keys: a warm check is a
 * handful of lookups, and building, hashing and LRU-reordering a long key string per lookup
 * was most of its cost. Here a lookup walks maps keyed by strings the caller already holds (the
 * snapshot and subject keys, the object id) and by the schema's member object, without
 * building anything. Eviction is generational: entries are added to the young generation;
 * when it is full it becomes the old one and the previous old one is dropped; a hit in the old
 * generation is copied to the young one. Recently used entries survive, as with an LRU, and
 * at most `maxEntries` are held (half per generation).
 */
import type { Outcome } from "./outcome.js";

export interface CachedOutcome {
  readonly outcome: Outcome;
  /** Epoch ms at which the entry stops being valid (`Infinity`: never). */
  readonly validUntil: number;
}

export interface ResultCacheOptions {
  /** Most entries held. Default 1 000 000. */
  readonly maxEntries?: number;
  /** Most bytes held, estimated at `ENTRY_BYTES` per entry. Default 256 MiB. */
  readonly maxBytes?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  readonly size: number;
  readonly bytes: number;
}

/**
 * Heap per entry, measured on the benchmark dataset (an id map slot, the entry object, its
 * share of the member and subject maps): about 150 bytes; rounded up.
 */
export const ENTRY_BYTES = 160;

type ById = Map<string, CachedOutcome>;
type ByMember = Map<object, ById>;
type BySubject = Map<string, ByMember>;

class Generation {
  readonly bySnapshot = new Map<string, BySubject>();
  entries = 0;

  get(snapshot: string, subject: string, member: object, id: string): CachedOutcome | undefined {
    return this.bySnapshot.get(snapshot)?.get(subject)?.get(member)?.get(id);
  }

  /** Adds or replaces; true when the entry is new. */
  put(
    snapshot: string,
    subject: string,
    member: object,
    id: string,
    value: CachedOutcome,
  ): boolean {
    let bySubject = this.bySnapshot.get(snapshot);
    if (bySubject === undefined) {
      bySubject = new Map();
      this.bySnapshot.set(snapshot, bySubject);
    }
    let byMember = bySubject.get(subject);
    if (byMember === undefined) {
      byMember = new Map();
      bySubject.set(subject, byMember);
    }
    let byId = byMember.get(member);
    if (byId === undefined) {
      byId = new Map();
      byMember.set(member, byId);
    }
    const size = byId.size;
    byId.set(id, value);
    if (byId.size === size) return false;
    this.entries++;
    return true;
  }
}

export class ResultCache {
  readonly #perGeneration: number;
  #young = new Generation();
  #old = new Generation();
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
    const bound = Math.min(maxEntries, Math.floor(maxBytes / ENTRY_BYTES));
    this.#perGeneration = Math.max(1, Math.floor(bound / 2));
  }

  /**
   * @param snapshot identifies the tenant and revision (the caller builds it once per snapshot)
   * @param subject the subject's key
   * @param member the schema member (its identity is the key)
   */
  get(
    snapshot: string,
    subject: string,
    member: object,
    id: string,
    now: number,
  ): CachedOutcome | undefined {
    let entry = this.#young.get(snapshot, subject, member, id);
    if (entry === undefined) {
      entry = this.#old.get(snapshot, subject, member, id);
      if (entry !== undefined && entry.validUntil > now) {
        this.#add(snapshot, subject, member, id, entry);
      }
    }
    if (entry === undefined || entry.validUntil <= now) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return entry;
  }

  set(
    snapshot: string,
    subject: string,
    member: object,
    id: string,
    outcome: Outcome,
    validUntil: number,
  ): void {
    this.#add(snapshot, subject, member, id, { outcome, validUntil });
  }

  #add(snapshot: string, subject: string, member: object, id: string, value: CachedOutcome): void {
    if (
      this.#young.put(snapshot, subject, member, id, value) &&
      this.#young.entries >= this.#perGeneration
    ) {
      this.#old = this.#young;
      this.#young = new Generation();
    }
  }

  clear(): void {
    this.#young = new Generation();
    this.#old = new Generation();
  }

  stats(): CacheStats {
    const size = this.#young.entries + this.#old.entries;
    return { hits: this.#hits, misses: this.#misses, size, bytes: size * ENTRY_BYTES };
  }
}
