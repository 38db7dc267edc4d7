/**
 * ListSubjects: every subject of a type with a permission on a resource. Walks the graph
 * forwards from the resource (both sides of every operator, so excluded subjects are found
 * too), confirms every concrete subject met with Check, and answers for the wildcard by
 * checking a subject that appears in no tuple: what holds for it holds for every subject the
 * walk did not meet.
 */
import type { ObjectRef } from "../core/relationship.js";
import type { EngineRewrite } from "./engine-schema.js";
import type { Evaluator, Snapshot } from "./evaluator.js";
import { compareIds } from "./list-objects.js";
import { ALLOWED, CONDITIONAL, DENIED, type Outcome } from "./outcome.js";
import { isVisible } from "./tuple-index.js";

export interface FoundSubject {
  readonly id: string;
  readonly outcome: Outcome;
}

export interface WildcardResult {
  readonly outcome: Outcome;
  /** Subjects the wildcard does not reach: denied though everyone else is let in. */
  readonly excluded: readonly string[];
}

export interface ListSubjectsResult {
  readonly subjects: FoundSubject[];
  /** Present when every subject of the type not listed otherwise has the permission. */
  readonly wildcard?: WildcardResult;
}

/** An id no tuple can carry (ids never contain NUL): stands for "any other subject". */
const ANYONE = "\u0000anyone";

export function listSubjects(
  snapshot: Snapshot,
  evaluator: Evaluator,
  now: number,
  resource: ObjectRef,
  permission: string,
  subjectType: string,
  subjectRelation?: string,
): ListSubjectsResult {
  // Validates the request (unknown types or members) with Check's errors.
  evaluator.check(resource, permission, {
    type: subjectType,
    id: ANYONE,
    ...(subjectRelation !== undefined ? { relation: subjectRelation } : {}),
  });
  const { reader, revision, schema } = snapshot;
  const candidates = new Set<string>();
  let sawWildcard = false;
  const visited = new Set<string>();
  const queue: [string, string, string][] = [];
  const enqueue = (type: string, id: string, member: string) => {
    const key = `${type}:${id}#${member}`;
    if (visited.has(key)) return;
    visited.add(key);
    if (subjectRelation !== undefined && type === subjectType && member === subjectRelation) {
      candidates.add(id);
    }
    queue.push([type, id, member]);
  };
  enqueue(resource.type, resource.id, permission);

  const walk = (type: string, id: string, r: EngineRewrite): void => {
    switch (r.kind) {
      case "computed":
        enqueue(type, id, r.member.name);
        return;
      case "union":
      case "intersection":
        for (const c of r.children) walk(type, id, c);
        return;
      case "exclusion":
        walk(type, id, r.base);
        walk(type, id, r.subtract);
        return;
      case "arrow": {
        const entry = reader.entry(type, r.tupleset.name, id);
        if (entry === undefined) return;
        for (const v of entry.all) {
          if (isVisible(v, revision, now) && r.targets.has(v.subjectType)) {
            enqueue(v.subjectType, v.subjectId, r.computed);
          }
        }
        return;
      }
      case "self":
        if (type === subjectType && subjectRelation === undefined) candidates.add(id);
        return;
      case "nil":
        return;
    }
  };

  while (queue.length > 0) {
    const [type, id, memberName] = queue.pop()!;
    const member = schema.member(type, memberName);
    if (member === undefined) continue;
    if (member.kind === "permission") {
      walk(type, id, member.rewrite);
      continue;
    }
    const entry = reader.entry(type, memberName, id);
    if (entry === undefined) continue;
    for (const v of entry.all) {
      if (!isVisible(v, revision, now)) continue;
      if (v.subjectRelation !== undefined) {
        if (v.subjectType === subjectType && v.subjectRelation === subjectRelation) {
          candidates.add(v.subjectId);
        }
        enqueue(v.subjectType, v.subjectId, v.subjectRelation);
      } else if (v.subjectType === subjectType && subjectRelation === undefined) {
        if (v.subjectId === "*") sawWildcard = true;
        else candidates.add(v.subjectId);
      }
    }
  }

  const check = (id: string) =>
    evaluator.check(resource, permission, {
      type: subjectType,
      id,
      ...(subjectRelation !== undefined ? { relation: subjectRelation } : {}),
    }).outcome;

  const subjects: FoundSubject[] = [];
  const denied: string[] = [];
  for (const id of [...candidates].sort(compareIds)) {
    const outcome = check(id);
    if (outcome.value === ALLOWED || outcome.value === CONDITIONAL) subjects.push({ id, outcome });
    else denied.push(id);
  }
  if (!sawWildcard) return { subjects };
  const anyone = check(ANYONE);
  if (anyone.value === DENIED) return { subjects };
  return { subjects, wildcard: { outcome: anyone, excluded: denied } };
}
