/**
 * Check: does `subject` have `member` on `resource`, at one snapshot? A depth-first traversal
 * over the in-memory tuple index, synchronous end to end.
 *
 * Cycles in the data (a group inside itself, a folder its own ancestor) get the least fixed
 * point: a sub-problem met again while it is still being computed is taken as DENIED for that
 * inner visit. An ALLOWED reached under that assumption is right (the assumption only hides
 * grants); any other answer that leaned on an unfinished ancestor is not remembered, and the
 * ancestor's own answer is right once it completes. A cycle that passes through the subtracted
 * side of an exclusion has no fixed point to prefer and is FAILED_PRECONDITION. A chain longer
 * than `maxDepth` is RESOURCE_EXHAUSTED, never a guess.
 */
import { invalidArgument, MaxDepthExceededError, TrellisError } from "../core/errors.js";
import type { CheckTrace } from "../core/permission.js";
import type { CaveatContext, ObjectRef, SubjectRef } from "../core/relationship.js";
import type { Revision } from "../core/revision.js";
import { evaluateCaveat } from "../schema/caveat.js";
import type { CaveatMeter } from "../schema/caveat-limits.js";
import type { EngineMember, EngineRelation, EngineRewrite, EngineSchema } from "./engine-schema.js";
import {
  ALLOW,
  ALLOWED,
  CONDITIONAL,
  conditional,
  DENIED,
  DENY,
  exclusion,
  intersection,
  type Outcome,
  union,
} from "./outcome.js";
import type { ResultCache } from "./result-cache.js";
import { isVisible, subjectKeyOf, type TupleReader, type TupleVersion } from "./tuple-index.js";

/** What a traversal reads: one tenant at one revision. */
export interface Snapshot {
  readonly tenant: string;
  readonly revision: Revision;
  /** The tuples: the tenant's index, or the store at this revision. */
  readonly reader: TupleReader;
  readonly schema: EngineSchema;
}

export interface EvaluatorOptions {
  /** Longest chain of sub-problems; deeper is RESOURCE_EXHAUSTED. */
  readonly maxDepth: number;
  /** Epoch ms: tuples expired at this instant do not exist. */
  readonly now: number;
  /** Caveat context from the request; tuple context wins for the same parameter. */
  readonly context?: CaveatContext;
  /**
   * Counts the request's caveat cost: a meter shared with other evaluators, or a factory called
   * at the first caveat (most checks meet none). Omitted, each evaluation has only its own budget.
   */
  readonly caveatMeter?: CaveatMeter | (() => CaveatMeter);
  /** Shared across requests; omitted, only the per-evaluator memo is used. */
  readonly cache?: ResultCache;
  /** Record the tree of sub-problems visited (debugging: why is this allowed?). */
  readonly trace?: boolean;
}

/**
 * A node of the trace while the check builds it: a `CheckTrace` (declared in core) whose
 * answer is filled in once known.
 */
export interface TraceNode extends CheckTrace {
  result: CheckTrace["result"];
  cached?: "memo" | "shared";
  cycle?: boolean;
  readonly children: TraceNode[];
}

interface MemoEntry {
  readonly outcome: Outcome;
  readonly contextual: boolean;
  readonly validUntil: number;
}

const NAMES = ["DENIED", "CONDITIONAL", "ALLOWED"] as const;

/**
 * Answers checks for one subject-independent snapshot and request context; keeps a memo of
 * sub-problems across the checks it answers (CheckBulk shares one evaluator).
 */
export class Evaluator {
  readonly #snapshot: Snapshot;
  readonly #options: EvaluatorOptions;
  /** Tenant and revision, the first part of the shared cache's key. */
  readonly #snapshotKey: string;
  /** This evaluator's answers: subject key → member → object id (see `ResultCache`). */
  readonly #memo = new Map<string, Map<EngineMember, Map<string, MemoEntry>>>();

  // The subject of the current check, and its part of the memo.
  #subject: SubjectRef = { type: "", id: "" };
  #subjectKey = "";
  /** Made on the first answer to remember: a check answered from the shared cache allocates none. */
  #subjectMemo: Map<EngineMember, Map<string, MemoEntry>> | undefined;

  // The traversal stack, one slot per sub-problem being computed; keys are `member.key\0id`
  // (one check has one subject, and the stack is empty between checks).
  readonly #stackKeys: string[] = [];
  readonly #onStack = new Map<string, number>();
  readonly #negAt: number[] = [];
  readonly #contextual: boolean[] = [];
  readonly #validUntil: number[] = [];
  readonly #taint: number[] = [];
  /** The reader's miss count when each frame began: a frame whose reads missed is no answer. */
  readonly #missesAt: number[] = [];
  #neg = 0;

  #trace: TraceNode[] | undefined;
  #caveatMeter: CaveatMeter | undefined;

  constructor(snapshot: Snapshot, options: EvaluatorOptions) {
    this.#snapshot = snapshot;
    this.#options = options;
    // The tenant is part of the key: two tenants at the same revision share nothing.
    this.#snapshotKey = `${snapshot.tenant}\u0000${snapshot.revision}`;
  }

  /** Checks `permission` (a relation or permission) of `resource` for `subject`. */
  check(
    resource: ObjectRef,
    permission: string,
    subject: SubjectRef,
  ): { outcome: Outcome; trace?: TraceNode } {
    const schema = this.#snapshot.schema;
    const member = schema.member(resource.type, permission);
    if (schema.membersOf(resource.type) === undefined) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `object definition '${resource.type}' not found`,
        {
          field: "resource.type",
        },
      );
    }
    if (member === undefined) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `relation/permission '${permission}' not found under definition '${resource.type}'`,
        { field: "permission" },
      );
    }
    if (schema.membersOf(subject.type) === undefined) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `object definition '${subject.type}' not found`,
        {
          field: "subject.type",
        },
      );
    }
    if (subject.id === "*") {
      throw invalidArgument("a check cannot be made for a wildcard subject", "subject.id");
    }
    if (
      subject.relation !== undefined &&
      schema.member(subject.type, subject.relation) === undefined
    ) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `relation/permission '${subject.relation}' not found under definition '${subject.type}'`,
        { field: "subject.relation" },
      );
    }
    this.#subject = subject;
    this.#subjectKey = subjectKeyOf(subject.type, subject.id, subject.relation);
    this.#subjectMemo = this.#memo.get(this.#subjectKey);
    const root: TraceNode[] | undefined = this.#options.trace ? [] : undefined;
    this.#trace = root;
    const outcome = this.#member(member, resource.id);
    this.#trace = undefined;
    return root === undefined ? { outcome } : { outcome, trace: root[0]! };
  }

  // ---- sub-problems -----------------------------------------------------------------------

  #member(member: EngineMember, id: string): Outcome {
    const s = this.#subject;
    // A userset subject is trivially a member of itself (`group:eng#member` ∈ group:eng#member).
    if (s.relation === member.name && s.id === id && s.type === member.type) return ALLOW;

    const depth = this.#stackKeys.length;
    const now = this.#options.now;
    const parentTrace = this.#trace;
    let node: TraceNode | undefined;
    if (parentTrace !== undefined) {
      node = {
        resource: `${member.type}:${id}`,
        relation: member.name,
        kind: member.kind,
        result: "DENIED",
        children: [],
      };
      parentTrace.push(node);
    }

    const memo = this.#subjectMemo?.get(member)?.get(id);
    if (memo !== undefined && memo.validUntil > now) {
      this.#absorb(depth - 1, memo.contextual, memo.validUntil, Number.POSITIVE_INFINITY);
      if (node !== undefined) {
        node.result = NAMES[memo.outcome.value];
        node.cached = "memo";
      }
      return memo.outcome;
    }
    const cache = this.#options.cache;
    if (cache !== undefined) {
      const hit = cache.get(this.#snapshotKey, this.#subjectKey, member, id, now);
      if (hit !== undefined) {
        this.#absorb(depth - 1, false, hit.validUntil, Number.POSITIVE_INFINITY);
        if (node !== undefined) {
          node.result = NAMES[hit.outcome.value];
          node.cached = "shared";
        }
        return hit.outcome;
      }
    }

    const key = `${member.key}\u0000${id}`;
    const onStackAt = this.#onStack.get(key);
    if (onStackAt !== undefined) {
      if (this.#neg > this.#negAt[onStackAt]!) this.#negativeCycle(onStackAt, key);
      if (depth > 0 && onStackAt < this.#taint[depth - 1]!) this.#taint[depth - 1] = onStackAt;
      if (node !== undefined) node.cycle = true;
      return DENY;
    }
    if (depth >= this.#options.maxDepth) throw new MaxDepthExceededError(this.#options.maxDepth);

    this.#stackKeys.push(key);
    this.#onStack.set(key, depth);
    this.#negAt.push(this.#neg);
    this.#contextual.push(false);
    this.#validUntil.push(Number.POSITIVE_INFINITY);
    this.#taint.push(Number.POSITIVE_INFINITY);
    this.#missesAt.push(this.#snapshot.reader.misses);
    if (node !== undefined) this.#trace = node.children;
    let outcome: Outcome;
    try {
      outcome =
        member.kind === "relation"
          ? this.#relation(member, id)
          : this.#rewrite(member.rewrite, member.type, id);
    } catch (err) {
      // Leave no slot of this frame behind, or later checks on this evaluator would fold
      // their flags into stale slots.
      this.#contextual.pop();
      this.#validUntil.pop();
      this.#taint.pop();
      this.#missesAt.pop();
      throw err;
    } finally {
      this.#stackKeys.pop();
      this.#onStack.delete(key);
      this.#negAt.pop();
      this.#trace = parentTrace;
    }
    const contextual = this.#contextual.pop()!;
    const validUntil = this.#validUntil.pop()!;
    const taint = this.#taint.pop()!;
    // Reads missed below this frame: its outcome is a guess the engine will not use.
    const complete = this.#missesAt.pop() === this.#snapshot.reader.misses;
    // An assumption about this very sub-problem is settled now that it is computed.
    const openTaint = taint < depth ? taint : Number.POSITIVE_INFINITY;
    this.#absorb(depth - 1, contextual, validUntil, openTaint);
    if (complete && (outcome.value === ALLOWED || openTaint === Number.POSITIVE_INFINITY)) {
      if (this.#subjectMemo === undefined) {
        this.#subjectMemo = new Map();
        this.#memo.set(this.#subjectKey, this.#subjectMemo);
      }
      let byId = this.#subjectMemo.get(member);
      if (byId === undefined) {
        byId = new Map();
        this.#subjectMemo.set(member, byId);
      }
      byId.set(id, { outcome, contextual, validUntil });
      if (cache !== undefined && !contextual) {
        cache.set(this.#snapshotKey, this.#subjectKey, member, id, outcome, validUntil);
      }
    }
    if (node !== undefined) node.result = NAMES[outcome.value];
    return outcome;
  }

  /** Folds what a child depended on into the frame at `depth` (none at the root). */
  #absorb(depth: number, contextual: boolean, validUntil: number, taint: number): void {
    if (depth < 0) return;
    if (contextual) this.#contextual[depth] = true;
    if (validUntil < this.#validUntil[depth]!) this.#validUntil[depth] = validUntil;
    if (taint < this.#taint[depth]!) this.#taint[depth] = taint;
  }

  #negativeCycle(from: number, key: string): never {
    const path = [...this.#stackKeys.slice(from), key].map((k) => {
      const [member, id] = k.split("\u0000");
      const [type, name] = member!.split("#");
      return `${type}:${id}#${name}`;
    });
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `the data forms a cycle through the subtracted side of an exclusion, which has no well-defined answer: ${path.join(" -> ")}`,
    );
  }

  /** The caveat of one tuple, evaluated with the tuple's and the request's context. */
  #noteExpiration(v: TupleVersion): void {
    const depth = this.#stackKeys.length - 1;
    if (v.expiresAt < this.#validUntil[depth]!) this.#validUntil[depth] = v.expiresAt;
  }

  /** The request's caveat meter, made at the first caveat when the options give a factory. */
  #meter(): CaveatMeter | undefined {
    const given = this.#options.caveatMeter;
    if (typeof given !== "function") return given;
    this.#caveatMeter ??= given();
    return this.#caveatMeter;
  }

  #tupleCondition(v: TupleVersion): Outcome {
    this.#noteExpiration(v);
    const depth = this.#stackKeys.length - 1;
    const ref = v.caveat;
    if (ref === undefined) return ALLOW;
    this.#contextual[depth] = true;
    const caveat = this.#snapshot.schema.caveat(ref.name);
    if (caveat === undefined) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `caveat '${ref.name}' of a stored relationship is not in the schema`,
      );
    }
    const result = evaluateCaveat(caveat, ref.context, this.#options.context, this.#meter());
    if (result.kind === "true") return ALLOW;
    if (result.kind === "false") return DENY;
    return conditional(result.missing);
  }

  #relation(rel: EngineRelation, id: string): Outcome {
    const entry = this.#snapshot.reader.entry(rel.type, rel.name, id);
    if (entry === undefined) return DENY;
    const revision = this.#snapshot.revision;
    const now = this.#options.now;
    const s = this.#subject;
    let acc: Outcome = DENY;

    const direct = entry.bySubject.get(this.#subjectKey);
    if (direct !== undefined) {
      for (const v of direct) {
        if (!isVisible(v, revision, now)) continue;
        acc = union(acc, this.#tupleCondition(v));
        if (acc.value === ALLOWED) return acc;
      }
    }
    // A wildcard grants every object of its type, never a userset.
    if (s.relation === undefined) {
      for (const v of entry.wildcards) {
        if (v.subjectType !== s.type || !isVisible(v, revision, now)) continue;
        acc = union(acc, this.#tupleCondition(v));
        if (acc.value === ALLOWED) return acc;
      }
    }
    for (const v of entry.usersets) {
      if (!isVisible(v, revision, now)) continue;
      const target = this.#snapshot.schema.member(v.subjectType, v.subjectRelation!);
      if (target === undefined) continue;
      const condition = this.#tupleCondition(v);
      if (condition.value === DENIED) continue;
      acc = union(acc, intersection(condition, this.#member(target, v.subjectId)));
      if (acc.value === ALLOWED) return acc;
    }
    return acc;
  }

  #rewrite(r: EngineRewrite, type: string, id: string): Outcome {
    switch (r.kind) {
      case "computed":
        return this.#member(r.member, id);
      case "union": {
        let acc: Outcome = DENY;
        for (const child of r.children) {
          acc = union(acc, this.#rewrite(child, type, id));
          if (acc.value === ALLOWED) break;
        }
        return acc;
      }
      case "intersection": {
        let acc: Outcome = ALLOW;
        for (const child of r.children) {
          acc = intersection(acc, this.#rewrite(child, type, id));
          if (acc.value === DENIED) break;
        }
        return acc;
      }
      case "exclusion": {
        const base = this.#rewrite(r.base, type, id);
        if (base.value === DENIED) return DENY;
        this.#neg++;
        let subtract: Outcome;
        try {
          subtract = this.#rewrite(r.subtract, type, id);
        } finally {
          this.#neg--;
        }
        return exclusion(base, subtract);
      }
      case "arrow":
        return r.mode === "any" ? this.#arrowAny(r, id) : this.#arrowAll(r, id);
      case "nil":
        return DENY;
      case "self": {
        const s = this.#subject;
        return s.relation === undefined && s.type === type && s.id === id ? ALLOW : DENY;
      }
    }
  }

  /** `tupleset->computed`: any subject of the tupleset that has `computed` grants. */
  #arrowAny(r: Extract<EngineRewrite, { kind: "arrow" }>, id: string): Outcome {
    const entry = this.#snapshot.reader.entry(r.tupleset.type, r.tupleset.name, id);
    if (entry === undefined) return DENY;
    const revision = this.#snapshot.revision;
    const now = this.#options.now;
    let acc: Outcome = DENY;
    for (const v of entry.all) {
      if (!isVisible(v, revision, now)) continue;
      const target = r.targets.get(v.subjectType);
      if (target === undefined) continue;
      const condition = this.#tupleCondition(v);
      if (condition.value === DENIED) continue;
      acc = union(acc, intersection(condition, this.#member(target, v.subjectId)));
      if (acc.value === ALLOWED) return acc;
    }
    return acc;
  }

  /**
   * `tupleset.all(computed)`: every subject of the tupleset must have `computed`, and there
   * must be at least one. As in SpiceDB, each tuple's caveat joins the conjunction.
   */
  #arrowAll(r: Extract<EngineRewrite, { kind: "arrow" }>, id: string): Outcome {
    const entry = this.#snapshot.reader.entry(r.tupleset.type, r.tupleset.name, id);
    if (entry === undefined) return DENY;
    const revision = this.#snapshot.revision;
    const now = this.#options.now;
    let acc: Outcome = ALLOW;
    let seen = 0;
    for (const v of entry.all) {
      if (!isVisible(v, revision, now)) continue;
      seen++;
      // The tuple's expiration bounds how long any answer, this DENIED included, may be cached;
      // its caveat is not evaluated for a subject that cannot qualify (as in SpiceDB).
      this.#noteExpiration(v);
      const target = r.targets.get(v.subjectType);
      if (target === undefined) return DENY;
      acc = intersection(acc, this.#tupleCondition(v));
      if (acc.value === DENIED) return DENY;
      acc = intersection(acc, this.#member(target, v.subjectId));
      if (acc.value === DENIED) return DENY;
    }
    return seen === 0 ? DENY : acc;
  }
}

export function permissionshipName(o: Outcome): "ALLOWED" | "DENIED" | "CONDITIONAL" {
  return NAMES[o.value];
}

export { ALLOWED, CONDITIONAL, DENIED };
