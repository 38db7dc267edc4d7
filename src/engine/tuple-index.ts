/**
 * The in-memory, multi-version tuple index of one tenant: every tuple version with the revision
 * that created it and the one that deleted it, so a traversal reads a snapshot at any revision
 * the index still holds, synchronously, with no store round trip. It is built from a store
 * export and kept current from the store's changelog (see `TenantMirror`); the store stays the
 * source of truth.
 *
 * Lookups are nested maps (type → relation → id), so the hot path builds no strings except the
 * subject key, which a traversal computes once.
 */
import type { CaveatRef, Relationship } from "../core/relationship.js";
import type { Revision } from "../core/revision.js";

/** One version of one tuple. Shared by the forward and the reverse maps. */
export interface TupleVersion {
  readonly resourceType: string;
  readonly resourceId: string;
  readonly relation: string;
  readonly subjectType: string;
  readonly subjectId: string;
  /** Absent for the subject object itself. */
  readonly subjectRelation: string | undefined;
  /** `type:id` or `type:id#relation`: the key `bySubject` is indexed by. */
  readonly subjectKey: string;
  readonly caveat: CaveatRef | undefined;
  /** Epoch ms after which the tuple no longer exists; `Infinity` when it never expires. */
  readonly expiresAt: number;
  readonly createdRev: Revision;
  /** `Infinity` while live. */
  deletedRev: Revision;
}

/** The tuples of one `type:id#relation`, in all their versions. */
export interface RelationEntry {
  readonly all: TupleVersion[];
  /** Versions by subject key, for the O(1) direct-subject test. */
  readonly bySubject: Map<string, TupleVersion[]>;
  /** Versions whose subject is a userset (`group:eng#member`), walked recursively. */
  readonly usersets: TupleVersion[];
  /** Versions whose subject is a wildcard (`user:*`). */
  readonly wildcards: TupleVersion[];
}

/** True when `t` exists at `revision` and has not expired at `now`. */
export function isVisible(t: TupleVersion, revision: Revision, now: number): boolean {
  return t.createdRev <= revision && revision < t.deletedRev && now < t.expiresAt;
}

export function subjectKeyOf(type: string, id: string, relation: string | undefined): string {
  return relation === undefined ? `${type}:${id}` : `${type}:${id}#${relation}`;
}

/** Strings that repeat across millions of tuples are stored once. */
class Interner {
  readonly #strings = new Map<string, string>();
  intern(s: string): string {
    const existing = this.#strings.get(s);
    if (existing !== undefined) return existing;
    this.#strings.set(s, s);
    return s;
  }
  get size(): number {
    return this.#strings.size;
  }
}

export class TupleIndex {
  /** type → relation → resource id → entry. */
  readonly #forward = new Map<string, Map<string, Map<string, RelationEntry>>>();
  /** subject key → `resourceType#relation` → versions (ListObjects walks this way). */
  readonly #reverse = new Map<string, Map<string, TupleVersion[]>>();
  readonly #names = new Interner();
  #versions = 0;
  #live = 0;

  /** Number of tuple versions held (live and deleted-but-retained). */
  get versionCount(): number {
    return this.#versions;
  }

  /** Number of live tuples (ignoring expiration). */
  get liveCount(): number {
    return this.#live;
  }

  entry(type: string, relation: string, id: string): RelationEntry | undefined {
    return this.#forward.get(type)?.get(relation)?.get(id);
  }

  /** Every entry of `type#relation`, by resource id (for ListSubjects and Expand). */
  entriesOf(type: string, relation: string): ReadonlyMap<string, RelationEntry> | undefined {
    return this.#forward.get(type)?.get(relation);
  }

  /** Versions of tuples `resourceType:*#relation@subject` (subject given by its key). */
  reverse(subjectKey: string, resourceType: string, relation: string): readonly TupleVersion[] {
    return this.#reverse.get(subjectKey)?.get(`${resourceType}#${relation}`) ?? EMPTY;
  }

  /** Every reverse bucket of a subject key: `resourceType#relation` → versions. */
  reverseBuckets(subjectKey: string): ReadonlyMap<string, readonly TupleVersion[]> | undefined {
    return this.#reverse.get(subjectKey);
  }

  /** The live version of exactly this tuple (ignoring expiration), if any. */
  #liveVersion(rel: Relationship, subjectKey: string): TupleVersion | undefined {
    const versions = this.entry(rel.resource.type, rel.relation, rel.resource.id)?.bySubject.get(
      subjectKey,
    );
    if (versions === undefined) return undefined;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i]!;
      if (v.deletedRev === Number.POSITIVE_INFINITY) return v;
    }
    return undefined;
  }

  /** Records a tuple written (created or replaced) at `revision`. */
  touch(rel: Relationship, revision: Revision): void {
    const s = rel.subject;
    const subjectKey = subjectKeyOf(s.type, s.id, s.relation);
    const previous = this.#liveVersion(rel, subjectKey);
    if (previous !== undefined) {
      previous.deletedRev = revision;
      this.#live--;
    }
    const n = this.#names;
    const version: TupleVersion = {
      resourceType: n.intern(rel.resource.type),
      resourceId: rel.resource.id,
      relation: n.intern(rel.relation),
      subjectType: n.intern(s.type),
      subjectId: s.id,
      subjectRelation: s.relation === undefined ? undefined : n.intern(s.relation),
      subjectKey,
      caveat: rel.caveat,
      expiresAt: rel.expiration === undefined ? Number.POSITIVE_INFINITY : rel.expiration.getTime(),
      createdRev: revision,
      deletedRev: Number.POSITIVE_INFINITY,
    };
    this.#add(version);
  }

  /** Records a tuple deleted at `revision`; a no-op when it is not live. */
  delete(rel: Relationship, revision: Revision): void {
    const s = rel.subject;
    const previous = this.#liveVersion(rel, subjectKeyOf(s.type, s.id, s.relation));
    if (previous !== undefined) {
      previous.deletedRev = revision;
      this.#live--;
    }
  }

  #add(v: TupleVersion): void {
    let byRelation = this.#forward.get(v.resourceType);
    if (byRelation === undefined) {
      byRelation = new Map();
      this.#forward.set(v.resourceType, byRelation);
    }
    let byId = byRelation.get(v.relation);
    if (byId === undefined) {
      byId = new Map();
      byRelation.set(v.relation, byId);
    }
    let entry = byId.get(v.resourceId);
    if (entry === undefined) {
      entry = { all: [], bySubject: new Map(), usersets: [], wildcards: [] };
      byId.set(v.resourceId, entry);
    }
    entry.all.push(v);
    const same = entry.bySubject.get(v.subjectKey);
    if (same === undefined) entry.bySubject.set(v.subjectKey, [v]);
    else same.push(v);
    if (v.subjectRelation !== undefined) entry.usersets.push(v);
    else if (v.subjectId === "*") entry.wildcards.push(v);

    let buckets = this.#reverse.get(v.subjectKey);
    if (buckets === undefined) {
      buckets = new Map();
      this.#reverse.set(v.subjectKey, buckets);
    }
    const bucketKey = `${v.resourceType}#${v.relation}`;
    const bucket = buckets.get(bucketKey);
    if (bucket === undefined) buckets.set(bucketKey, [v]);
    else bucket.push(v);
    this.#versions++;
    this.#live++;
  }

  /**
   * Drops versions no reader at or after `horizon` can see: deleted at or before it, or expired
   * before `now`. Returns how many were dropped.
   */
  compact(horizon: Revision, now: number): number {
    let dropped = 0;
    const dead = (v: TupleVersion) => v.deletedRev <= horizon || v.expiresAt <= now;
    for (const [type, byRelation] of this.#forward) {
      for (const [relation, byId] of byRelation) {
        for (const [id, entry] of byId) {
          if (!entry.all.some(dead)) continue;
          const keep = entry.all.filter((v) => !dead(v));
          dropped += entry.all.length - keep.length;
          for (const v of entry.all) {
            if (dead(v)) {
              this.#removeReverse(v);
              if (v.deletedRev === Number.POSITIVE_INFINITY) this.#live--;
            }
          }
          if (keep.length === 0) {
            byId.delete(id);
            continue;
          }
          const rebuilt: RelationEntry = {
            all: keep,
            bySubject: new Map(),
            usersets: [],
            wildcards: [],
          };
          for (const v of keep) {
            const same = rebuilt.bySubject.get(v.subjectKey);
            if (same === undefined) rebuilt.bySubject.set(v.subjectKey, [v]);
            else same.push(v);
            if (v.subjectRelation !== undefined) rebuilt.usersets.push(v);
            else if (v.subjectId === "*") rebuilt.wildcards.push(v);
          }
          byId.set(id, rebuilt);
        }
        if (byId.size === 0) byRelation.delete(relation);
      }
      if (byRelation.size === 0) this.#forward.delete(type);
    }
    this.#versions -= dropped;
    return dropped;
  }

  #removeReverse(v: TupleVersion): void {
    const buckets = this.#reverse.get(v.subjectKey);
    if (buckets === undefined) return;
    const key = `${v.resourceType}#${v.relation}`;
    const bucket = buckets.get(key);
    if (bucket === undefined) return;
    const i = bucket.indexOf(v);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) buckets.delete(key);
    if (buckets.size === 0) this.#reverse.delete(v.subjectKey);
  }
}

const EMPTY: readonly TupleVersion[] = Object.freeze([]);
