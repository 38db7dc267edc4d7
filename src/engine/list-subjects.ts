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
import { sortIdsPausing } from "./list-objects.js";
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
  const steps = listSubjectsSteps(
    snapshot,
    () => evaluator,
    now,
    resource,
    permission,
    subjectType,
    subjectRelation,
  );
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/** Walk items or checks between two pauses of `listSubjectsSteps`. */
const STEP = 256;
/** Checks one evaluator answers before the next (each with a caveat budget of its own). */
const CHECKS_PER_EVALUATOR = 1024;

/**
 * `listSubjects` as a generator that pauses every few hundred walk items and checks, so that a
 * caller can spread a large listing over several turns of the event loop. `evaluator` is called
 * for a fresh evaluator now and then.
 */
export function* listSubjectsSteps(
  snapshot: Snapshot,
  newEvaluator: () => Evaluator,
  now: number,
  resource: ObjectRef,
  permission: string,
  subjectType: string,
  subjectRelation?: string,
): Generator<void, ListSubjectsResult, undefined> {
  let evaluator = newEvaluator();
  let steps = 0;
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
    if (++steps % STEP === 0) yield;
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
      if (++steps % STEP === 0) yield;
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

  let checks = 0;
  const check = (id: string) => {
    if (++checks % CHECKS_PER_EVALUATOR === 0) evaluator = newEvaluator();
    return checkWith(id);
  };
  const checkWith = (id: string) =>
    evaluator.check(resource, permission, {
      type: subjectType,
      id,
      ...(subjectRelation !== undefined ? { relation: subjectRelation } : {}),
    }).outcome;

  const subjects: FoundSubject[] = [];
  const denied: string[] = [];
  const sorted = yield* sortIdsPausing([...candidates]);
  for (const id of sorted) {
    if (++steps % STEP === 0) yield;
    const outcome = check(id);
    if (outcome.value === ALLOWED || outcome.value === CONDITIONAL) subjects.push({ id, outcome });
    else denied.push(id);
  }
  if (!sawWildcard) return { subjects };
  const anyone = check(ANYONE);
  if (anyone.value === DENIED) return { subjects };
  return { subjects, wildcard: { outcome: anyone, excluded: denied } };
}
