/**
 * A reference evaluator for Check: the semantics of DESIGN.md §3 written as plainly as
 * possible, so that the engine can be tested against it. It is slow on purpose: no index, no
 * memo inside a traversal, no short-circuits, just a plain array of tuples and a table of
 * answers for every (object, member) pair, recomputed until nothing changes.
 *
 * Answers are three-valued (Kleene): DENIED < CONDITIONAL < ALLOWED, CONDITIONAL carrying the
 * caveat parameters it is missing (the union of those of the CONDITIONAL operands that decide
 * the result).
 *
 * Cycles in the data get the least fixed point. The subtracted side of an exclusion is not
 * monotone, so the table is computed in two nested loops:
 * - inner: with the answers the subtracted sides read held fixed (a table `frozen`), the least
 *   fixed point of everything else, by iteration from "all DENIED";
 * - outer: `frozen` := the result, until the result reproduces `frozen` exactly.
 * The result is then a table that is its own least fixed point when the subtracted sides read
 * from it. When no cycle passes through a subtracted side (a stratified schema and data),
 * this converges to the one answer such data has; otherwise there is no well-defined answer
 * (the engine says FAILED_PRECONDITION) and the reference throws when the loop does not settle.
 *
 * Inside the inner loop the truth values are settled first and the missing-parameter sets
 * second, from empty sets: sets carried over from an intermediate truth value could otherwise
 * circulate around a cycle forever without a derivation. Even so, in cyclic data the set is
 * an over-approximation (`R = C{x} + (C{y} & R)` gives `{x, y}` though only `x` decides `R`),
 * so `dependsOnCycle` tells callers when a CONDITIONAL's missing list is not canonical.
 */
import type {
  CaveatContext,
  ObjectRef,
  Relationship,
  SubjectRef,
} from "../../src/core/relationship.js";
import { evaluateCaveat } from "../../src/schema/caveat.js";
import type { CompiledSchema, Member, Rewrite } from "../../src/schema/types.js";

export type RefPermissionship = "ALLOWED" | "DENIED" | "CONDITIONAL";

export type RefAnswer =
  | { readonly permissionship: "ALLOWED" | "DENIED" }
  | { readonly permissionship: "CONDITIONAL"; readonly missing: readonly string[] };

export interface ReferenceWorld {
  readonly schema: CompiledSchema;
  /** The tuples that exist at the revision asked about (expired ones included: see `now`). */
  readonly tuples: readonly Relationship[];
  /** Epoch ms: a tuple whose expiration is at or before `now` does not exist. */
  readonly now: number;
  /** The request's caveat context. */
  readonly context?: CaveatContext;
}

// ---- three-valued answers ---------------------------------------------------------------

/** Internal form: 0 DENIED, 1 CONDITIONAL, 2 ALLOWED; `missing` only for CONDITIONAL. */
interface Value {
  readonly truth: 0 | 1 | 2;
  readonly missing: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();
const DENIED: Value = { truth: 0, missing: NONE };
const ALLOWED: Value = { truth: 2, missing: NONE };

function conditional(missing: Iterable<string>): Value {
  return { truth: 1, missing: new Set(missing) };
}

function missingOf(...values: Value[]): Value {
  const names = new Set<string>();
  for (const v of values) if (v.truth === 1) for (const n of v.missing) names.add(n);
  return conditional(names);
}

function or(a: Value, b: Value): Value {
  if (a.truth === 2 || b.truth === 2) return ALLOWED;
  if (a.truth === 0 && b.truth === 0) return DENIED;
  return missingOf(a, b);
}

function and(a: Value, b: Value): Value {
  if (a.truth === 0 || b.truth === 0) return DENIED;
  if (a.truth === 2 && b.truth === 2) return ALLOWED;
  return missingOf(a, b);
}

/** `a` and not `b`. */
function butNot(a: Value, b: Value): Value {
  if (a.truth === 0 || b.truth === 2) return DENIED;
  if (b.truth === 0) return a;
  return missingOf(a, b);
}

function sameValue(a: Value, b: Value): boolean {
  if (a.truth !== b.truth || a.missing.size !== b.missing.size) return false;
  for (const n of a.missing) if (!b.missing.has(n)) return false;
  return true;
}

function answerOf(v: Value): RefAnswer {
  if (v.truth === 2) return { permissionship: "ALLOWED" };
  if (v.truth === 0) return { permissionship: "DENIED" };
  return { permissionship: "CONDITIONAL", missing: [...v.missing].sort() };
}

// ---- the evaluator ----------------------------------------------------------------------

type Table = ReadonlyMap<string, Value>;

function pairKey(type: string, id: string, member: string): string {
  return `${type}:${id}#${member}`;
}

function subjectKey(s: SubjectRef): string {
  return s.relation === undefined ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

/** Generous: a stratified table settles in about two rounds per stratum. */
const MAX_OUTER_ROUNDS = 200;

export class ReferenceEvaluator {
  readonly #world: ReferenceWorld;
  /** The tuples that exist at `now`. */
  readonly #live: readonly Relationship[];
  /** Whole fixed-point tables already computed, by subject and extra object. */
  readonly #tables = new Map<string, Table>();

  constructor(world: ReferenceWorld) {
    this.#world = world;
    this.#live = world.tuples.filter(
      (t) => t.expiration === undefined || t.expiration.getTime() > world.now,
    );
  }

  /** The answer of Check(resource, member, subject) under the world's request context. */
  check(resource: ObjectRef, member: string, subject: SubjectRef): RefAnswer {
    if (this.#member(resource.type, member) === undefined) {
      throw new Error(`reference: ${resource.type} has no member ${member}`);
    }
    const table = this.#table(subject, resource);
    const value = table.get(pairKey(resource.type, resource.id, member));
    if (value === undefined) throw new Error("reference: pair missing from its own table");
    return answerOf(value);
  }

  /**
   * Whether the answer for `resource#member` can lean on a cycle in the data (for any
   * subject): there, a CONDITIONAL's missing list depends on how the cycle is cut.
   */
  dependsOnCycle(resource: ObjectRef, member: string): boolean {
    const edges = new Map<string, string[]>();
    const depsOf = (key: string): string[] => {
      let list = edges.get(key);
      if (list === undefined) {
        list = this.#dependencies(key);
        edges.set(key, list);
      }
      return list;
    };
    // Depth-first search with colours: an edge back to a grey node closes a cycle.
    const colour = new Map<string, "grey" | "black">();
    const visit = (key: string): boolean => {
      colour.set(key, "grey");
      for (const next of depsOf(key)) {
        const c = colour.get(next);
        if (c === "grey") return true;
        if (c === undefined && visit(next)) return true;
      }
      colour.set(key, "black");
      return false;
    };
    return visit(pairKey(resource.type, resource.id, member));
  }

  /** The (object, member) pairs whose answers `type:id#member` is computed from. */
  #dependencies(key: string): string[] {
    const hash = key.lastIndexOf("#");
    const colon = key.indexOf(":");
    const type = key.slice(0, colon);
    const id = key.slice(colon + 1, hash);
    const member = this.#member(type, key.slice(hash + 1));
    if (member === undefined) return [];
    const out: string[] = [];
    if (member.kind === "relation") {
      for (const t of this.#tuplesOf(type, id, member.name)) {
        if (t.subject.relation !== undefined) {
          out.push(pairKey(t.subject.type, t.subject.id, t.subject.relation));
        }
      }
      return out;
    }
    const walk = (r: Rewrite): void => {
      switch (r.kind) {
        case "union":
        case "intersection":
          for (const c of r.children) walk(c);
          return;
        case "exclusion":
          walk(r.base);
          walk(r.subtract);
          return;
        case "computed":
          out.push(pairKey(type, id, r.member));
          return;
        case "arrow":
          for (const t of this.#tuplesOf(type, id, r.tupleset)) {
            if (this.#member(t.subject.type, r.computed) !== undefined) {
              out.push(pairKey(t.subject.type, t.subject.id, r.computed));
            }
          }
          return;
        case "nil":
        case "self":
          return;
      }
    };
    walk(member.rewrite);
    return out;
  }

  #member(type: string, name: string): Member | undefined {
    return this.#world.schema.definitions.get(type)?.members.get(name);
  }

  /** The live tuples `type:id#relation@...`, by a plain scan. */
  #tuplesOf(type: string, id: string, relation: string): Relationship[] {
    return this.#live.filter(
      (t) => t.resource.type === type && t.resource.id === id && t.relation === relation,
    );
  }

  /** Every object the table covers: those of the tuples, the subject's and the resource. */
  #objects(subject: SubjectRef, resource: ObjectRef): ObjectRef[] {
    const seen = new Map<string, ObjectRef>();
    const add = (o: ObjectRef) => {
      if (o.id !== "*") seen.set(`${o.type}:${o.id}`, { type: o.type, id: o.id });
    };
    for (const t of this.#live) {
      add(t.resource);
      add(t.subject);
    }
    add(subject);
    add(resource);
    return [...seen.values()];
  }

  #table(subject: SubjectRef, resource: ObjectRef): Table {
    const key = `${subjectKey(subject)}@${resource.type}:${resource.id}`;
    let table = this.#tables.get(key);
    if (table === undefined) {
      table = this.#fixedPoint(subject, this.#objects(subject, resource));
      this.#tables.set(key, table);
    }
    return table;
  }

  #fixedPoint(subject: SubjectRef, objects: readonly ObjectRef[]): Table {
    const pairs: [ObjectRef, Member][] = [];
    for (const o of objects) {
      const def = this.#world.schema.definitions.get(o.type);
      if (def === undefined) continue;
      for (const m of def.members.values()) pairs.push([o, m]);
    }
    const allDenied = (): Map<string, Value> => {
      const t = new Map<string, Value>();
      for (const [o, m] of pairs) t.set(pairKey(o.type, o.id, m.name), DENIED);
      return t;
    };
    const recompute = (current: Table, frozen: Table): Map<string, Value> => {
      const next = new Map<string, Value>();
      for (const [o, m] of pairs) {
        next.set(pairKey(o.type, o.id, m.name), this.#evalMember(subject, o, m, current, frozen));
      }
      return next;
    };

    let frozen: Table = allDenied();
    for (let round = 0; round < MAX_OUTER_ROUNDS; round++) {
      // Truth values: monotone from all DENIED while `frozen` is fixed, so this terminates.
      let table: Table = allDenied();
      for (;;) {
        const next = recompute(table, frozen);
        const settled = pairs.every(([o, m]) => {
          const k = pairKey(o.type, o.id, m.name);
          return next.get(k)!.truth === table.get(k)!.truth;
        });
        table = next;
        if (settled) break;
      }
      // Missing sets: truth values kept, sets grown from empty to their least solution.
      let sets: Table = new Map(
        [...table].map(([k, v]) => [k, v.truth === 1 ? conditional([]) : v]),
      );
      for (;;) {
        const next = recompute(sets, frozen);
        const settled = pairs.every(([o, m]) => {
          const k = pairKey(o.type, o.id, m.name);
          return sameValue(next.get(k)!, sets.get(k)!);
        });
        sets = next;
        if (settled) break;
      }
      const stable = pairs.every(([o, m]) => {
        const k = pairKey(o.type, o.id, m.name);
        return sameValue(sets.get(k)!, frozen.get(k)!);
      });
      if (stable) return sets;
      frozen = sets;
    }
    throw new Error(
      "reference: no stable answer; the data forms a cycle through the subtracted side of an exclusion",
    );
  }

  /** `lookup` reads the answer of another pair (the current table, or the frozen one). */
  #evalMember(
    subject: SubjectRef,
    object: ObjectRef,
    member: Member,
    current: Table,
    frozen: Table,
  ): Value {
    // A userset subject is trivially in itself.
    if (
      subject.type === object.type &&
      subject.id === object.id &&
      subject.relation === member.name
    ) {
      return ALLOWED;
    }
    if (member.kind === "relation")
      return this.#evalRelation(subject, object, member.name, current);
    return this.#evalRewrite(subject, object, member.rewrite, current, frozen);
  }

  #lookup(table: Table, type: string, id: string, member: string): Value {
    const v = table.get(pairKey(type, id, member));
    if (v === undefined) throw new Error(`reference: ${type}:${id}#${member} is not in the table`);
    return v;
  }

  #caveat(t: Relationship): Value {
    if (t.caveat === undefined) return ALLOWED;
    const caveat = this.#world.schema.caveats.get(t.caveat.name);
    if (caveat === undefined) throw new Error(`reference: unknown caveat ${t.caveat.name}`);
    const result = evaluateCaveat(caveat, t.caveat.context, this.#world.context);
    if (result.kind === "true") return ALLOWED;
    if (result.kind === "false") return DENIED;
    return conditional(result.missing);
  }

  #evalRelation(subject: SubjectRef, object: ObjectRef, relation: string, table: Table): Value {
    let acc = DENIED;
    for (const t of this.#tuplesOf(object.type, object.id, relation)) {
      const s = t.subject;
      if (s.type === subject.type && s.id === subject.id && s.relation === subject.relation) {
        acc = or(acc, this.#caveat(t));
      }
      if (s.id === "*" && s.type === subject.type && subject.relation === undefined) {
        acc = or(acc, this.#caveat(t));
      }
      if (s.relation !== undefined) {
        acc = or(acc, and(this.#caveat(t), this.#lookup(table, s.type, s.id, s.relation)));
      }
    }
    return acc;
  }

  #evalRewrite(
    subject: SubjectRef,
    object: ObjectRef,
    r: Rewrite,
    current: Table,
    frozen: Table,
  ): Value {
    switch (r.kind) {
      case "union":
        return r.children
          .map((c) => this.#evalRewrite(subject, object, c, current, frozen))
          .reduce(or, DENIED);
      case "intersection":
        return r.children
          .map((c) => this.#evalRewrite(subject, object, c, current, frozen))
          .reduce(and, ALLOWED);
      case "exclusion":
        // The subtracted side reads the frozen table throughout: see the file header.
        return butNot(
          this.#evalRewrite(subject, object, r.base, current, frozen),
          this.#evalRewrite(subject, object, r.subtract, frozen, frozen),
        );
      case "computed":
        return this.#lookup(current, object.type, object.id, r.member);
      case "arrow": {
        const tuples = this.#tuplesOf(object.type, object.id, r.tupleset);
        const each = (t: Relationship): Value | undefined =>
          this.#member(t.subject.type, r.computed) === undefined
            ? undefined
            : and(this.#caveat(t), this.#lookup(current, t.subject.type, t.subject.id, r.computed));
        if (r.mode === "any") {
          let acc = DENIED;
          for (const t of tuples) acc = or(acc, each(t) ?? DENIED);
          return acc;
        }
        if (tuples.length === 0) return DENIED;
        let acc = ALLOWED;
        for (const t of tuples) acc = and(acc, each(t) ?? DENIED);
        return acc;
      }
      case "nil":
        return DENIED;
      case "self":
        return subject.relation === undefined &&
          subject.type === object.type &&
          subject.id === object.id
          ? ALLOWED
          : DENIED;
    }
  }
}
