/**
 * What a traversal reads: the tuples of one tenant, synchronously, through a `TupleReader`.
 * Two readers exist: the tenant's in-memory index (`CompactIndex`, every revision from its
 * horizon to the revision it has applied) and the store at one snapshot (`StoreReader`, any
 * revision the store keeps, fetched between traversal rounds). Both hand out the same small
 * objects, so Check, Expand and the listings do not know which one they read.
 */
import type { CaveatRef, SubjectRef } from "../core/relationship.js";
import type { Revision } from "../core/revision.js";

/** One version of one tuple. */
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
  readonly deletedRev: Revision;
}

/** The versions of one row by subject key (`type:id` or `type:id#relation`). */
export interface SubjectLookup {
  get(subjectKey: string): readonly TupleVersion[] | undefined;
}

/** The tuples of one `type:id#relation`, in all the versions a reader holds. */
export interface RelationEntry {
  /** Every version; a large row makes them as they are iterated. */
  readonly all: Iterable<TupleVersion>;
  /** Versions by subject key, for the direct-subject test without a scan. */
  readonly bySubject: SubjectLookup;
  /** Versions whose subject is a userset (`group:eng#member`), walked recursively. */
  readonly usersets: readonly TupleVersion[];
  /** Versions whose subject is a wildcard (`user:*`). */
  readonly wildcards: readonly TupleVersion[];
}

export interface TupleReader {
  /** The versions of `type:id#relation`; undefined when there are none. */
  entry(type: string, relation: string, id: string): RelationEntry | undefined;
  /**
   * The versions of tuples `resourceType:…#relation@subject`, with exactly this subject (a
   * wildcard subject `type:*` selects the wildcard tuples). Made as they are iterated, so a
   * caller may pause inside a long one.
   */
  reverse(subject: SubjectRef, resourceType: string, relation: string): Iterable<TupleVersion>;
  /**
   * How many reads this reader could not answer yet. A store-backed reader answers those with
   * nothing and fetches them before the traversal runs again; an answer computed while this
   * count grew is not an answer (and must not be remembered).
   */
  readonly misses: number;
}

/** True when `t` exists at `revision` and has not expired at `now`. */
export function isVisible(t: TupleVersion, revision: Revision, now: number): boolean {
  return t.createdRev <= revision && revision < t.deletedRev && now < t.expiresAt;
}

export function subjectKeyOf(type: string, id: string, relation: string | undefined): string {
  return relation === undefined ? `${type}:${id}` : `${type}:${id}#${relation}`;
}

/** Builds the entry of one row from its versions (in the order given). */
export function relationEntryOf(versions: readonly TupleVersion[]): RelationEntry {
  const bySubject = new Map<string, TupleVersion[]>();
  const usersets: TupleVersion[] = [];
  const wildcards: TupleVersion[] = [];
  for (const v of versions) {
    const same = bySubject.get(v.subjectKey);
    if (same === undefined) bySubject.set(v.subjectKey, [v]);
    else same.push(v);
    if (v.subjectRelation !== undefined) usersets.push(v);
    else if (v.subjectId === "*") wildcards.push(v);
  }
  return { all: versions, bySubject, usersets, wildcards };
}

export const NO_VERSIONS: readonly TupleVersion[] = Object.freeze([]);
