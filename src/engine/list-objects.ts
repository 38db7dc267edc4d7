/**
 * ListObjects: every object of a type on which a subject has a permission. Walks the graph
 * backwards from the subject (reverse index, reverse schema) to the candidate objects, then
 * confirms each with Check, so the answer agrees with Check by construction: the walk only
 * decides which objects are worth asking about.
 */
import { invalidArgument } from "../core/errors.js";
import type { SubjectRef } from "../core/relationship.js";
import { decodeBase64Url, encodeBase64Url } from "../store/base64url.js";
import type { Evaluator, Snapshot } from "./evaluator.js";
import { ALLOWED, CONDITIONAL, type Outcome } from "./outcome.js";
import { nodesReaching, reverseGraphOf } from "./reverse-graph.js";
import { isVisible } from "./tuple-index.js";

export interface FoundObject {
  readonly id: string;
  readonly outcome: Outcome;
}

/** Candidate ids of `resourceType` whose `permission` may include `subject`, sorted. */
export function listObjectCandidates(
  snapshot: Snapshot,
  now: number,
  resourceType: string,
  permission: string,
  subject: SubjectRef,
): string[] {
  const found: string[] = [];
  for (const _ of candidateWalk(snapshot, now, resourceType, permission, subject, found));
  return found.sort(compareIds);
}

/** Work items between two pauses of `candidateWalk`. */
const WALK_STEP = 512;

/**
 * The walk behind `listObjectCandidates`, as a generator that pauses every few hundred work
 * items so that a caller can spread a large walk over several turns of the event loop. Found
 * ids are pushed to `found`, unsorted, each once.
 */
export function* candidateWalk(
  snapshot: Snapshot,
  now: number,
  resourceType: string,
  permission: string,
  subject: SubjectRef,
  found: string[],
): Generator<void, void, undefined> {
  const graph = reverseGraphOf(snapshot.schema);
  const relevant = nodesReaching(graph, `${resourceType}#${permission}`);
  const { reader, revision } = snapshot;
  const target = `${resourceType}#${permission}`;
  /** Ids already queued, per walk node `type#member` (member "" for the object itself). */
  const visited = new Map<string, Set<string>>();
  const queue: [string, string, string][] = [];
  let steps = 0;
  /** The id set of a node the walk can use, or undefined when the node leads nowhere useful. */
  const idsOf = (type: string, member: string): Set<string> | undefined => {
    const node = `${type}#${member}`;
    if (!relevant.has(node)) return undefined;
    let ids = visited.get(node);
    if (ids === undefined) {
      ids = new Set();
      visited.set(node, ids);
    }
    return ids;
  };
  const enqueue = (ids: Set<string>, node: string, type: string, id: string, member: string) => {
    if (ids.has(id)) return;
    ids.add(id);
    if (node === target) found.push(id);
    queue.push([type, id, member]);
  };
  const start = idsOf(subject.type, subject.relation ?? "");
  if (start !== undefined) {
    enqueue(
      start,
      `${subject.type}#${subject.relation ?? ""}`,
      subject.type,
      subject.id,
      subject.relation ?? "",
    );
  }
  /** Enqueues every visible version's resource as `type#member`. */
  function* follow(
    versions: Iterable<{ resourceId: string } & Parameters<typeof isVisible>[0]>,
    type: string,
    member: string,
  ): Generator<void, void, undefined> {
    const ids = idsOf(type, member);
    if (ids === undefined) return;
    const node = `${type}#${member}`;
    for (const v of versions) {
      if (isVisible(v, revision, now)) enqueue(ids, node, type, v.resourceId, member);
      if (++steps % WALK_STEP === 0) yield;
    }
  }

  while (queue.length > 0) {
    const [type, id, member] = queue.pop()!;
    if (++steps % WALK_STEP === 0) yield;
    const subject = member === "" ? { type, id } : { type, id, relation: member };
    for (const holder of graph.holders.get(`${type}#${member}`) ?? []) {
      yield* follow(
        reader.reverse(subject, holder.type, holder.relation),
        holder.type,
        holder.relation,
      );
    }
    if (member === "") {
      for (const permission of graph.selfReferrers.get(type) ?? []) {
        const ids = idsOf(type, permission);
        if (ids !== undefined) enqueue(ids, `${type}#${permission}`, type, id, permission);
      }
      for (const holder of graph.wildcardHolders.get(type) ?? []) {
        yield* follow(
          reader.reverse({ type, id: "*" }, holder.type, holder.relation),
          holder.type,
          holder.relation,
        );
      }
      continue;
    }
    for (const permission of graph.computedReferrers.get(`${type}#${member}`) ?? []) {
      const ids = idsOf(type, permission);
      if (ids !== undefined) enqueue(ids, `${type}#${permission}`, type, id, permission);
    }
    for (const arrow of graph.arrowReferrers.get(`${type}#${member}`) ?? []) {
      for (const relation of arrow.subjectRelations) {
        const via = relation === undefined ? { type, id } : { type, id, relation };
        yield* follow(
          reader.reverse(via, arrow.type, arrow.tupleset),
          arrow.type,
          arrow.permission,
        );
      }
    }
  }
}

/**
 * Sorts ids (by `compareIds`) as a generator that pauses every few thousand comparisons: runs
 * of 4,096 sorted by the built-in sort, then merged pairwise.
 */
export function* sortIdsPausing(ids: readonly string[]): Generator<void, string[], undefined> {
  const RUN = 4096;
  let runs: string[][] = [];
  for (let i = 0; i < ids.length; i += RUN) {
    runs.push(ids.slice(i, i + RUN).sort(compareIds));
    yield;
  }
  while (runs.length > 1) {
    const merged: string[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r]!;
      const b = runs[r + 1];
      if (b === undefined) {
        merged.push(a);
        continue;
      }
      const out: string[] = new Array(a.length + b.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < a.length && j < b.length) {
        out[k++] = compareIds(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
        if ((k & 4095) === 0) yield;
      }
      while (i < a.length) out[k++] = a[i++]!;
      while (j < b.length) out[k++] = b[j++]!;
      merged.push(out);
      yield;
    }
    runs = merged;
  }
  return runs[0] ?? [];
}

/** Orders ids by their UTF-16 code units, the order cursors resume in. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ListObjectsPage {
  readonly objects: FoundObject[];
  /** Resume after the last object; absent on the last page. */
  readonly cursor?: string;
}

/**
 * One page of ListObjects: confirms candidates with Check in id order, after the cursor,
 * until `limit` objects are found.
 */
export function listObjectsPage(
  snapshot: Snapshot,
  evaluator: Evaluator,
  now: number,
  resourceType: string,
  permission: string,
  subject: SubjectRef,
  options: { cursor?: string; limit?: number },
): ListObjectsPage {
  if (snapshot.schema.member(resourceType, permission) === undefined) {
    // Let Check raise the precise error (unknown type or member).
    evaluator.check({ type: resourceType, id: "_" }, permission, subject);
  }
  const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const objects: FoundObject[] = [];
  const candidates = listObjectCandidates(snapshot, now, resourceType, permission, subject);
  for (let i = 0; i < candidates.length; i++) {
    const id = candidates[i]!;
    if (after !== undefined && compareIds(id, after) <= 0) continue;
    const { outcome } = evaluator.check({ type: resourceType, id }, permission, subject);
    if (outcome.value !== ALLOWED && outcome.value !== CONDITIONAL) continue;
    objects.push({ id, outcome });
    if (objects.length >= limit) {
      const more = i < candidates.length - 1;
      return more ? { objects, cursor: encodeCursor(id) } : { objects };
    }
  }
  return { objects };
}

/**
 * Confirms `candidates[from…]` with Check until `limit` objects are found, the candidates run
 * out, or `sliceMs` has passed (checked every few candidates), so that one large listing holds
 * the event loop for a slice at a time. Returns what it found and where to continue.
 */
export function confirmCandidates(
  evaluator: Evaluator,
  resourceType: string,
  permission: string,
  subject: SubjectRef,
  candidates: readonly string[],
  from: number,
  limit: number,
  sliceMs: number,
): { objects: FoundObject[]; next: number } {
  const objects: FoundObject[] = [];
  const deadline = performance.now() + sliceMs;
  let i = from;
  while (i < candidates.length && objects.length < limit) {
    const id = candidates[i++]!;
    const { outcome } = evaluator.check({ type: resourceType, id }, permission, subject);
    if (outcome.value === ALLOWED || outcome.value === CONDITIONAL) objects.push({ id, outcome });
    if ((i & 15) === 0 && performance.now() > deadline) break;
  }
  return { objects, next: i };
}

/** The position of the first candidate after `after` (candidates are sorted). */
export function firstAfter(candidates: readonly string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let lo = 0;
  let hi = candidates.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds(candidates[mid]!, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function encodeCursor(lastId: string): string {
  return encodeBase64Url(JSON.stringify({ after: lastId }));
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(decodeBase64Url(cursor)) as unknown;
    if (
      parsed !== null &&
      typeof parsed === "object" &&
      typeof (parsed as { after?: unknown }).after === "string"
    ) {
      return (parsed as { after: string }).after;
    }
  } catch {
    // fall through
  }
  throw invalidArgument("malformed cursor", "cursor");
}
