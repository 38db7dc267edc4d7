/**
 * Reads of one tenant at one revision answered from the store: for a revision the in-memory
 * index does not hold (older than its horizon, a tenant still loading, a tenant evicted or too
 * large for the memory budget). The traversal is synchronous, so a read the cache cannot
 * answer is recorded as a miss and answered with nothing; the engine fetches every miss of a
 * round at once (`fetchMisses`) and runs the traversal again, until a round misses nothing.
 * Rounds are as many as the traversal's depth in the data, and a warm cache needs none.
 *
 * The cache is shared by every reader of an engine and bounded in bytes; its keys carry the
 * tenant and the revision, so what it holds never goes stale.
 */
import { LRUCache } from "lru-cache";
import type { Relationship, SubjectRef } from "../core/relationship.js";
import type { Revision, TenantId } from "../core/revision.js";
import type { Datastore } from "../store/datastore.js";
import {
  NO_VERSIONS,
  type RelationEntry,
  relationEntryOf,
  subjectKeyOf,
  type TupleReader,
  type TupleVersion,
} from "./tuple-index.js";

/** A cached read: the row's entry, or the versions of a reverse read; `null` when empty. */
type Cached = RelationEntry | readonly TupleVersion[] | null;

/** Heap per cached version (the version object and its share of the entry), estimated. */
const BYTES_PER_VERSION = 240;
const BYTES_PER_READ = 160;

export interface AdjacencyCacheOptions {
  /** Most bytes of cached store reads, estimated. Default 64 MiB. */
  readonly maxBytes?: number;
}

export interface AdjacencyCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly bytes: number;
}

/** The store reads of every tenant and revision an engine served from the store. */
export class AdjacencyCache {
  readonly #cache: LRUCache<string, { value: Cached }>;
  hits = 0;
  misses = 0;

  constructor(options: AdjacencyCacheOptions = {}) {
    this.#cache = new LRUCache({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: ({ value }) => BYTES_PER_READ + versionsOf(value) * BYTES_PER_VERSION,
    });
  }

  get(key: string): { value: Cached } | undefined {
    const hit = this.#cache.get(key);
    if (hit === undefined) this.misses++;
    else this.hits++;
    return hit;
  }

  set(key: string, value: Cached): void {
    this.#cache.set(key, { value });
  }

  stats(): AdjacencyCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.#cache.calculatedSize };
  }
}

function versionsOf(value: Cached): number {
  if (value === null) return 0;
  if (Array.isArray(value)) return value.length;
  // Entries built from store reads hold their versions in an array.
  return ((value as RelationEntry).all as readonly TupleVersion[]).length;
}

/** Store reads in flight at once per round. */
const FETCH_CONCURRENCY = 16;

export class StoreReader implements TupleReader {
  readonly tenant: TenantId;
  readonly revision: Revision;
  misses = 0;
  readonly #store: Datastore;
  readonly #cache: AdjacencyCache;
  readonly #prefix: string;
  /** Reads to fetch before the next round, by cache key. */
  readonly #pending = new Map<string, () => Promise<Cached>>();

  constructor(store: Datastore, cache: AdjacencyCache, tenant: TenantId, revision: Revision) {
    this.#store = store;
    this.#cache = cache;
    this.tenant = tenant;
    this.revision = revision;
    this.#prefix = `${tenant}\u0000${revision}\u0000`;
  }

  /** Whether the last round missed reads that `fetchMisses` will bring. */
  get hasMisses(): boolean {
    return this.#pending.size > 0;
  }

  /** How many distinct reads `fetchMisses` will bring. */
  get pendingReads(): number {
    return this.#pending.size;
  }

  entry(type: string, relation: string, id: string): RelationEntry | undefined {
    const key = `${this.#prefix}F\u0000${type}\u0000${relation}\u0000${id}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return (hit.value as RelationEntry | null) ?? undefined;
    this.#miss(key, async () => {
      const rels = await this.#store.readByResource(this.tenant, this.revision, {
        type,
        id,
        relation,
      });
      return rels.length === 0 ? null : relationEntryOf(rels.map((r) => this.#version(r)));
    });
    return undefined;
  }

  reverse(subject: SubjectRef, resourceType: string, relation: string): Iterable<TupleVersion> {
    const subjectKey = subjectKeyOf(subject.type, subject.id, subject.relation);
    const key = `${this.#prefix}R\u0000${subjectKey}\u0000${resourceType}\u0000${relation}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return (hit.value as readonly TupleVersion[] | null) ?? NO_VERSIONS;
    this.#miss(key, async () => {
      const rels = await this.#store.readBySubject(this.tenant, this.revision, {
        resourceType,
        relation,
        subject,
      });
      return rels.length === 0 ? null : rels.map((r) => this.#version(r));
    });
    return NO_VERSIONS;
  }

  /** Fetches every read the last round missed into the shared cache. */
  async fetchMisses(): Promise<void> {
    const jobs = [...this.#pending];
    this.#pending.clear();
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const [key, fetch] = jobs[next++]!;
        this.#cache.set(key, await fetch());
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, jobs.length) }, worker));
  }

  #miss(key: string, fetch: () => Promise<Cached>): void {
    this.misses++;
    if (!this.#pending.has(key)) this.#pending.set(key, fetch);
  }

  /** A stored relationship as a version visible at this reader's revision. */
  #version(rel: Relationship): TupleVersion {
    const s = rel.subject;
    return {
      resourceType: rel.resource.type,
      resourceId: rel.resource.id,
      relation: rel.relation,
      subjectType: s.type,
      subjectId: s.id,
      subjectRelation: s.relation,
      subjectKey: subjectKeyOf(s.type, s.id, s.relation),
      caveat: rel.caveat,
      expiresAt: rel.expiration?.getTime() ?? Number.POSITIVE_INFINITY,
      createdRev: this.revision,
      deletedRev: Number.POSITIVE_INFINITY,
    };
  }
}
