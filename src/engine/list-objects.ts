/**
 * ListObjects: every object of a type on which a subject has a permission. Walks the graph
 * backwards from the subject (reverse index, reverse schema) to the candidate objects, then
 * confirms each with Check, so the answer agrees with Check by construction: the walk only
 * decides which objects are worth asking about.
 */
import { invalidArgument } from "../core/errors.js";
import type { SubjectRef } from "../core/relationship.js";
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
  const graph = reverseGraphOf(snapshot.schema);
  const relevant = nodesReaching(graph, `${resourceType}#${permission}`);
  const { reader, revision } = snapshot;
  const found = new Set<string>();
  const visited = new Set<string>();
  // Work items: the subject is in `type:id#member` (member "" for the object itself).
  const queue: [string, string, string][] = [];
  const enqueue = (type: string, id: string, member: string) => {
    if (!relevant.has(`${type}#${member}`)) return;
    const key = `${type}:${id}#${member}`;
    if (visited.has(key)) return;
    visited.add(key);
    if (type === resourceType && member === permission) found.add(id);
    queue.push([type, id, member]);
  };
  enqueue(subject.type, subject.id, subject.relation ?? "");

  while (queue.length > 0) {
    const [type, id, member] = queue.pop()!;
    const subject = member === "" ? { type, id } : { type, id, relation: member };
    for (const holder of graph.holders.get(`${type}#${member}`) ?? []) {
      for (const v of reader.reverse(subject, holder.type, holder.relation)) {
        if (isVisible(v, revision, now)) enqueue(holder.type, v.resourceId, holder.relation);
      }
    }
    if (member === "") {
      for (const permission of graph.selfReferrers.get(type) ?? []) enqueue(type, id, permission);
      for (const holder of graph.wildcardHolders.get(type) ?? []) {
        for (const v of reader.reverse({ type, id: "*" }, holder.type, holder.relation)) {
          if (isVisible(v, revision, now)) enqueue(holder.type, v.resourceId, holder.relation);
        }
      }
      continue;
    }
    for (const permission of graph.computedReferrers.get(`${type}#${member}`) ?? []) {
      enqueue(type, id, permission);
    }
    for (const arrow of graph.arrowReferrers.get(`${type}#${member}`) ?? []) {
      for (const relation of arrow.subjectRelations) {
        const via = relation === undefined ? { type, id } : { type, id, relation };
        for (const v of reader.reverse(via, arrow.type, arrow.tupleset)) {
          if (isVisible(v, revision, now)) enqueue(arrow.type, v.resourceId, arrow.permission);
        }
      }
    }
  }
  return [...found].sort(compareIds);
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
  return Buffer.from(JSON.stringify({ after: lastId }), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
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
