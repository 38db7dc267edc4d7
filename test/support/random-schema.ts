/**
 * fast-check generators of small, valid authorization worlds: a schema (as text the compiler
 * accepts), tuples that fit it, and a request context, for testing the engine against the
 * reference evaluator.
 *
 * The arbitraries produce plain records of small numbers ("seeds"), which `buildScenario`
 * turns into a world: indices are taken modulo whatever they pick from, so any seed is valid
 * and fast-check can shrink each part independently (fewer types, fewer tuples, a simpler
 * expression) while the world stays valid. The schema rules are respected by construction:
 * - a relation never includes, through a userset, a relation that allows a wildcard;
 * - an arrow walks only a relation with no wildcard, towards a member that some subject type
 *   of that relation defines (other subject types contribute nothing, which is exercised);
 * - a permission refers by name only to relations and to permissions defined before it, so no
 *   permission reaches itself through permissions alone;
 * - the subtracted side of an exclusion never reaches back to its own permission (such data
 *   may cycle through the exclusion, which has no answer), so it is replaced by `nil` there;
 * - `with expiration` and `self` appear only under `use expiration` and `use self`.
 * Now and then the schema is written with the newer syntax, which must not change its meaning:
 * under `use typechecking`, every permission annotated with the types it reaches (computed
 * here, apart from the compiler, by a fixed point), sometimes with one more; under
 * `use partial`, each type's permissions kept in a partial that the definition splices in.
 */
import fc from "fast-check";
import {
  type CaveatContext,
  formatRelationship,
  type ObjectRef,
  type Relationship,
  relationshipKey,
  type SubjectRef,
} from "../../src/core/relationship.js";

/** The instant the worlds are evaluated at (ManualClock's default start). */
export const NOW = Date.UTC(2030, 0, 1);

/** Expirations relative to NOW: expired long ago, expiring exactly now, just live, live. */
export const EXPIRATION_OFFSETS_MS = [-60_000, 0, 1, 60_000] as const;

const TYPE_NAMES = ["user", "group", "folder", "document"] as const;
const RELATION_NAMES = ["member", "owner", "parent"] as const;
const PERMISSION_NAMES = ["view", "edit", "manage"] as const;
const ID_POOL = ["a", "b", "c", "d", "e", "f"] as const;
/** An id no tuple carries: what holds for it holds for every unseen subject. */
export const UNSEEN_ID = "nobody";

/** Caveat parameters share one type across caveats, so one request context fits them all. */
const PARAM_TYPES = { x: "int", n: "int", a: "bool", b: "bool" } as const;
type ParamName = keyof typeof PARAM_TYPES;
const PARAM_NAMES = Object.keys(PARAM_TYPES) as ParamName[];

interface CaveatModel {
  readonly name: string;
  readonly params: readonly ParamName[];
  readonly expression: string;
}

const CAVEATS: readonly CaveatModel[] = [
  { name: "over_three", params: ["x"], expression: "x > 3" },
  { name: "either", params: ["a", "b"], expression: "a || b" },
  { name: "small_and", params: ["a", "n"], expression: "a && n < 5" },
  { name: "negated", params: ["b"], expression: "!b" },
];

// ---- the model --------------------------------------------------------------------------

export interface AllowedModel {
  readonly type: string;
  readonly relation?: string;
  readonly wildcard: boolean;
  readonly caveat?: string;
  readonly expiration: boolean;
}

export type ExprModel =
  | { readonly kind: "ref"; readonly name: string }
  | {
      readonly kind: "arrow";
      readonly tupleset: string;
      readonly target: string;
      readonly mode: "->" | "any" | "all";
    }
  | { readonly kind: "nil" }
  | { readonly kind: "self" }
  | {
      readonly kind: "union" | "intersection" | "exclusion";
      readonly left: ExprModel;
      readonly right: ExprModel;
    };

export interface TypeModel {
  readonly name: string;
  /** Built in two passes (wildcard rules, exclusion repair), hence the mutable fields. */
  readonly relations: readonly { readonly name: string; allowed: AllowedModel[] }[];
  readonly permissions: readonly { readonly name: string; expr: ExprModel }[];
}

export interface SchemaModel {
  readonly useExpiration: boolean;
  readonly useSelf: boolean;
  /** `use typechecking`, with every permission annotated (`annotations`). */
  readonly useTypechecking: boolean;
  /** `use partial`: each type's permissions printed in a partial the definition splices in. */
  readonly usePartials: boolean;
  /** Annotated types by `type#permission`; printed only for the permissions listed. */
  readonly annotations: ReadonlyMap<string, readonly string[]>;
  readonly caveats: readonly CaveatModel[];
  readonly types: readonly TypeModel[];
}

// ---- seeds ------------------------------------------------------------------------------

interface AllowedSeed {
  readonly type: number;
  readonly shape: "object" | "wildcard" | "userset";
  readonly member: number;
  readonly caveat: number | null;
  readonly expiration: boolean;
}

type ExprSeed =
  | { readonly kind: "ref"; readonly pick: number }
  | {
      readonly kind: "arrow";
      readonly tupleset: number;
      readonly target: number;
      readonly mode: "->" | "any" | "all";
    }
  | { readonly kind: "nil" }
  | { readonly kind: "self" }
  | {
      readonly kind: "union" | "intersection" | "exclusion";
      readonly left: ExprSeed;
      readonly right: ExprSeed;
    };

interface TypeSeed {
  readonly relations: readonly (readonly AllowedSeed[])[];
  readonly permissions: readonly ExprSeed[];
}

export interface SchemaSeed {
  readonly types: readonly TypeSeed[];
  readonly userSelf: boolean;
  readonly caveats: readonly boolean[];
  readonly useExpiration: boolean;
  readonly useSelf: boolean;
  /** Off, or typechecking with exact annotations, or with one type more on some of them. */
  readonly typechecking: "off" | "exact" | "wider";
  readonly partials: boolean;
}

export interface TupleSeed {
  readonly relation: number;
  readonly id: number;
  readonly allowed: number;
  readonly subjectId: number;
  /** One entry per caveat parameter, in order: absent (null) or a raw value. */
  readonly context: readonly (number | null)[];
  readonly expiration: number;
}

/** One value per parameter name: absent (null) or a raw value. */
export type ContextSeed = Readonly<Record<ParamName, number | null>>;

const small = fc.nat({ max: 11 });

const allowedSeed: fc.Arbitrary<AllowedSeed> = fc.record({
  type: small,
  shape: fc.constantFrom("object", "object", "wildcard", "userset", "userset"),
  member: small,
  // Mostly plain subject types, so that caveats and expiration stay one ingredient of many.
  caveat: fc.oneof({ arbitrary: fc.constant(null), weight: 2 }, { arbitrary: small, weight: 1 }),
  expiration: fc.oneof(
    { arbitrary: fc.constant(false), weight: 2 },
    { arbitrary: fc.constant(true), weight: 1 },
  ),
});

const exprSeed: fc.Arbitrary<ExprSeed> = fc.letrec<{ expr: ExprSeed }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", maxDepth: 3, withCrossShrink: true },
    small.map((pick): ExprSeed => ({ kind: "ref", pick })),
    fc
      .record({ tupleset: small, target: small, mode: fc.constantFrom("->", "any", "all") })
      .map((a): ExprSeed => ({ kind: "arrow", ...a })),
    fc.constantFrom<ExprSeed>({ kind: "nil" }, { kind: "self" }),
    fc
      .record({
        kind: fc.constantFrom("union", "intersection", "exclusion"),
        left: tie("expr"),
        right: tie("expr"),
      })
      .map((b) => b as ExprSeed),
  ),
})).expr;

const typeSeed: fc.Arbitrary<TypeSeed> = fc.record({
  relations: fc.array(fc.array(allowedSeed, { minLength: 1, maxLength: 3 }), {
    minLength: 1,
    maxLength: RELATION_NAMES.length,
  }),
  permissions: fc.array(exprSeed, { maxLength: PERMISSION_NAMES.length }),
});

export const schemaSeed: fc.Arbitrary<SchemaSeed> = fc.record({
  types: fc.array(typeSeed, { minLength: 1, maxLength: TYPE_NAMES.length - 1 }),
  userSelf: fc.boolean(),
  caveats: fc.array(fc.boolean(), { minLength: CAVEATS.length, maxLength: CAVEATS.length }),
  useExpiration: fc.boolean(),
  useSelf: fc.boolean(),
  typechecking: fc.constantFrom("off", "off", "exact", "wider"),
  partials: fc.boolean(),
});

const paramValue = fc.option(fc.nat({ max: 7 }), { freq: 3 });

export const tupleSeed: fc.Arbitrary<TupleSeed> = fc.record({
  relation: fc.nat({ max: 30 }),
  id: small,
  allowed: small,
  subjectId: small,
  context: fc.array(paramValue, { minLength: 2, maxLength: 2 }),
  expiration: fc.nat({ max: EXPIRATION_OFFSETS_MS.length - 1 }),
});

export const contextSeed: fc.Arbitrary<ContextSeed> = fc.record({
  x: paramValue,
  n: paramValue,
  a: paramValue,
  b: paramValue,
});

// ---- building ---------------------------------------------------------------------------

function pick<T>(list: readonly T[], i: number): T | undefined {
  return list.length === 0 ? undefined : list[i % list.length];
}

/** Names a member of `type` will have, known before the members are built. */
function memberNames(seed: SchemaSeed, typeIndex: number): string[] {
  if (typeIndex === 0) return seed.useSelf && seed.userSelf ? [PERMISSION_NAMES[0]] : [];
  const t = seed.types[typeIndex - 1]!;
  return [
    ...RELATION_NAMES.slice(0, t.relations.length),
    ...PERMISSION_NAMES.slice(0, t.permissions.length),
  ];
}

export function buildSchema(seed: SchemaSeed): SchemaModel {
  const typeNames: readonly string[] = TYPE_NAMES.slice(0, seed.types.length + 1);
  const typeIndexOf = (name: string) => typeNames.indexOf(name);
  const caveats = CAVEATS.filter((_, i) => seed.caveats[i]);
  const relationNames = (ti: number) =>
    ti === 0 ? [] : RELATION_NAMES.slice(0, seed.types[ti - 1]!.relations.length);

  // Relations first: permissions need to know which relations reach a wildcard.
  const relations = typeNames.map((_, ti) =>
    ti === 0
      ? []
      : seed.types[ti - 1]!.relations.map((allowedSeeds, ri) => {
          const allowed: AllowedModel[] = [];
          const seen = new Set<string>();
          for (const a of allowedSeeds) {
            const targetIndex = a.type % typeNames.length;
            const type = typeNames[targetIndex]!;
            const relation =
              a.shape === "userset" ? pick(memberNames(seed, targetIndex), a.member) : undefined;
            const caveat = a.caveat === null ? undefined : pick(caveats, a.caveat)?.name;
            const entry: AllowedModel = {
              type,
              ...(relation !== undefined ? { relation } : {}),
              wildcard: a.shape === "wildcard",
              ...(caveat !== undefined ? { caveat } : {}),
              expiration: a.expiration && seed.useExpiration,
            };
            const key = JSON.stringify(entry);
            if (seen.has(key)) continue;
            seen.add(key);
            allowed.push(entry);
          }
          return { name: RELATION_NAMES[ri]!, allowed };
        }),
  );
  const withWildcard = new Set<string>();
  typeNames.forEach((t, ti) => {
    for (const r of relations[ti]!) {
      if (r.allowed.some((a) => a.wildcard)) withWildcard.add(`${t}#${r.name}`);
    }
  });
  // No wildcard through a userset: drop usersets naming a relation that allows one.
  for (const rels of relations) {
    for (const r of rels) {
      r.allowed = r.allowed.filter(
        (a) => a.relation === undefined || !withWildcard.has(`${a.type}#${a.relation}`),
      );
      if (r.allowed.length === 0)
        r.allowed.push({ type: "user", wildcard: false, expiration: false });
    }
  }

  const types: TypeModel[] = typeNames.map((name, ti) => {
    if (ti === 0) {
      return {
        name,
        relations: [],
        permissions:
          seed.useSelf && seed.userSelf
            ? [{ name: PERMISSION_NAMES[0], expr: { kind: "self" } }]
            : [],
      };
    }
    const rels = relations[ti]!;
    const permissionSeeds = seed.types[ti - 1]!.permissions;
    const permissions = permissionSeeds.map((ps, pi) => {
      const refs = [...relationNames(ti), ...PERMISSION_NAMES.slice(0, pi)];
      const arrowable = rels.filter((r) => !withWildcard.has(`${name}#${r.name}`));
      const build = (e: ExprSeed): ExprModel => {
        switch (e.kind) {
          case "ref":
            return { kind: "ref", name: pick(refs, e.pick)! };
          case "arrow": {
            const tupleset = pick(arrowable, e.tupleset);
            if (tupleset === undefined) return { kind: "nil" };
            const targets = new Set<string>();
            for (const a of tupleset.allowed) {
              for (const m of memberNames(seed, typeIndexOf(a.type))) targets.add(m);
            }
            const target = pick([...targets].sort(), e.target);
            if (target === undefined) return { kind: "nil" };
            return { kind: "arrow", tupleset: tupleset.name, target, mode: e.mode };
          }
          case "nil":
            return { kind: "nil" };
          case "self":
            return seed.useSelf ? { kind: "self" } : { kind: "nil" };
          default:
            return { kind: e.kind, left: build(e.left), right: build(e.right) };
        }
      };
      return { name: PERMISSION_NAMES[pi]!, expr: build(ps) };
    });
    return { name, relations: rels, permissions };
  });

  const model: SchemaModel = {
    useExpiration: seed.useExpiration,
    useSelf: seed.useSelf,
    useTypechecking: seed.typechecking !== "off",
    usePartials: seed.partials,
    annotations: new Map(),
    caveats,
    types,
  };
  removeNegativeCycles(model);
  if (seed.typechecking === "off") return model;
  const reached = reachableTypes(model);
  const annotations = new Map<string, string[]>();
  let n = 0;
  for (const t of model.types) {
    for (const p of t.permissions) {
      const key = `${t.name}#${p.name}`;
      const exact = [...reached.get(key)!].sort();
      const extra = typeNames.find((x) => !exact.includes(x));
      // An annotation names one type at least; a wider one is accepted as well.
      const wider = (seed.typechecking === "wider" && n++ % 2 === 0) || exact.length === 0;
      annotations.set(key, wider && extra !== undefined ? [...exact, extra] : exact);
    }
  }
  return { ...model, annotations };
}

/**
 * The subject types each member can reach, as `use typechecking` defines it: a relation its
 * object types, and for a userset what the userset's member reaches (not the userset's own
 * type); a permission what every operand reaches, `&` and `-` included; an arrow what its
 * target reaches on every type of the tupleset that has it; `nil` and `self` nothing. Computed
 * as a fixed point, independently of the compiler.
 */
export function reachableTypes(model: SchemaModel): Map<string, Set<string>> {
  const reach = new Map<string, Set<string>>();
  for (const t of model.types) {
    for (const r of t.relations) reach.set(`${t.name}#${r.name}`, new Set());
    for (const p of t.permissions) reach.set(`${t.name}#${p.name}`, new Set());
  }
  const into = (to: Set<string>, from: ReadonlySet<string> | undefined): boolean => {
    let changed = false;
    for (const x of from ?? []) {
      if (!to.has(x)) {
        to.add(x);
        changed = true;
      }
    }
    return changed;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of model.types) {
      for (const r of t.relations) {
        const set = reach.get(`${t.name}#${r.name}`)!;
        for (const a of r.allowed) {
          if (a.relation === undefined) changed = into(set, new Set([a.type])) || changed;
          else changed = into(set, reach.get(`${a.type}#${a.relation}`)) || changed;
        }
      }
      for (const p of t.permissions) {
        const set = reach.get(`${t.name}#${p.name}`)!;
        const visit = (e: ExprModel): void => {
          switch (e.kind) {
            case "ref":
              changed = into(set, reach.get(`${t.name}#${e.name}`)) || changed;
              return;
            case "arrow": {
              const tupleset = t.relations.find((r) => r.name === e.tupleset)!;
              for (const a of tupleset.allowed) {
                changed = into(set, reach.get(`${a.type}#${e.target}`)) || changed;
              }
              return;
            }
            case "nil":
            case "self":
              return;
            default:
              visit(e.left);
              visit(e.right);
          }
        };
        visit(p.expr);
      }
    }
  }
  return reach;
}

/** The (type, member) nodes an expression refers to. */
function exprRefs(model: SchemaModel, type: TypeModel, e: ExprModel, out: Set<string>): void {
  switch (e.kind) {
    case "ref":
      out.add(`${type.name}#${e.name}`);
      return;
    case "arrow": {
      const tupleset = type.relations.find((r) => r.name === e.tupleset)!;
      for (const a of tupleset.allowed) {
        const t = model.types.find((x) => x.name === a.type)!;
        const has =
          t.relations.some((r) => r.name === e.target) ||
          t.permissions.some((p) => p.name === e.target);
        if (has) out.add(`${a.type}#${e.target}`);
      }
      return;
    }
    case "nil":
    case "self":
      return;
    default:
      exprRefs(model, type, e.left, out);
      exprRefs(model, type, e.right, out);
  }
}

/** Whether `from` reaches `to` in the schema's dependency graph (`from` itself counts). */
function reaches(model: SchemaModel, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node === to) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    const [typeName, member] = node.split("#") as [string, string];
    const type = model.types.find((t) => t.name === typeName)!;
    const relation = type.relations.find((r) => r.name === member);
    if (relation !== undefined) {
      for (const a of relation.allowed) if (a.relation) stack.push(`${a.type}#${a.relation}`);
      continue;
    }
    const permission = type.permissions.find((p) => p.name === member);
    if (permission === undefined) continue;
    const refs = new Set<string>();
    exprRefs(model, type, permission.expr, refs);
    stack.push(...refs);
  }
  return false;
}

/** Replaces the subtracted side of an exclusion by `nil` where it reaches its permission. */
function removeNegativeCycles(model: SchemaModel): void {
  for (const type of model.types) {
    for (const p of type.permissions) {
      const self = `${type.name}#${p.name}`;
      const fix = (e: ExprModel): ExprModel => {
        if (e.kind !== "union" && e.kind !== "intersection" && e.kind !== "exclusion") return e;
        const left = fix(e.left);
        let right = fix(e.right);
        if (e.kind === "exclusion") {
          const refs = new Set<string>();
          exprRefs(model, type, right, refs);
          if ([...refs].some((r) => reaches(model, r, self))) right = { kind: "nil" };
        }
        return { kind: e.kind, left, right };
      };
      // Fixed one exclusion at a time: each fix only removes edges, so earlier checks hold.
      p.expr = fix(p.expr);
    }
  }
}

// ---- printing ---------------------------------------------------------------------------

function printExpr(e: ExprModel): string {
  switch (e.kind) {
    case "ref":
      return e.name;
    case "arrow":
      return e.mode === "->"
        ? `${e.tupleset}->${e.target}`
        : `${e.tupleset}.${e.mode}(${e.target})`;
    case "nil":
      return "nil";
    case "self":
      return "self";
    default: {
      const op = e.kind === "union" ? "+" : e.kind === "intersection" ? "&" : "-";
      return `(${printExpr(e.left)} ${op} ${printExpr(e.right)})`;
    }
  }
}

function printAllowed(a: AllowedModel): string {
  let s = a.type;
  if (a.wildcard) s += ":*";
  if (a.relation !== undefined) s += `#${a.relation}`;
  if (a.caveat !== undefined) s += ` with ${a.caveat}${a.expiration ? " and expiration" : ""}`;
  else if (a.expiration) s += " with expiration";
  return s;
}

export function printSchema(model: SchemaModel): string {
  const parts: string[] = [];
  const uses = [
    ...(model.useExpiration ? ["use expiration"] : []),
    ...(model.useSelf ? ["use self"] : []),
    ...(model.useTypechecking ? ["use typechecking"] : []),
    ...(model.usePartials ? ["use partial"] : []),
  ];
  if (uses.length > 0) parts.push(uses.join("\n"));
  for (const c of model.caveats) {
    const params = c.params.map((p) => `${p} ${PARAM_TYPES[p]}`).join(", ");
    parts.push(`caveat ${c.name}(${params}) { ${c.expression} }`);
  }
  for (const t of model.types) {
    const permissions = t.permissions.map((p) => {
      const annotation = model.annotations.get(`${t.name}#${p.name}`);
      const types = annotation === undefined ? "" : `: ${annotation.join(" | ")}`;
      return `  permission ${p.name}${types} = ${printExpr(p.expr)}`;
    });
    const spliced = model.usePartials && permissions.length > 0;
    if (spliced) parts.push(`partial ${t.name}_permissions {\n${permissions.join("\n")}\n}`);
    const lines = [
      ...t.relations.map((r) => `  relation ${r.name}: ${r.allowed.map(printAllowed).join(" | ")}`),
      ...(spliced ? [`  ...${t.name}_permissions`] : permissions),
    ];
    parts.push(
      lines.length === 0
        ? `definition ${t.name} {}`
        : `definition ${t.name} {\n${lines.join("\n")}\n}`,
    );
  }
  return `${parts.join("\n\n")}\n`;
}

// ---- tuples and context -----------------------------------------------------------------

function paramValueOf(name: ParamName, raw: number): number | boolean {
  return PARAM_TYPES[name] === "int" ? raw : raw % 2 === 1;
}

/** The tuples the seeds describe for `model`, ids drawn from the first `idCount` of the pool. */
export function buildTuples(
  model: SchemaModel,
  seeds: readonly TupleSeed[],
  idCount: number,
  now = NOW,
): Relationship[] {
  const holders = model.types.flatMap((t) => t.relations.map((r) => ({ type: t.name, r })));
  const ids = ID_POOL.slice(0, idCount);
  const out: Relationship[] = [];
  const seen = new Set<string>();
  for (const s of seeds) {
    const holder = pick(holders, s.relation);
    if (holder === undefined) break;
    const allowed = pick(holder.r.allowed, s.allowed)!;
    const caveat = model.caveats.find((c) => c.name === allowed.caveat);
    const context: Record<string, unknown> = {};
    caveat?.params.forEach((p, i) => {
      const raw = s.context[i];
      if (raw !== null && raw !== undefined) context[p] = paramValueOf(p, raw);
    });
    const rel: Relationship = {
      resource: { type: holder.type, id: pick(ids, s.id)! },
      relation: holder.r.name,
      subject: {
        type: allowed.type,
        id: allowed.wildcard ? "*" : pick(ids, s.subjectId)!,
        ...(allowed.relation !== undefined ? { relation: allowed.relation } : {}),
      },
      ...(caveat !== undefined
        ? { caveat: { name: caveat.name, ...(Object.keys(context).length > 0 ? { context } : {}) } }
        : {}),
      ...(allowed.expiration
        ? { expiration: new Date(now + EXPIRATION_OFFSETS_MS[s.expiration]!) }
        : {}),
    };
    // One tuple per key: a later one with the same key would replace it in the store.
    const key = relationshipKey(rel);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(rel);
  }
  return out;
}

export function buildContext(seed: ContextSeed): CaveatContext {
  const context: Record<string, unknown> = {};
  for (const p of PARAM_NAMES) {
    const raw = seed[p];
    if (raw !== null) context[p] = paramValueOf(p, raw);
  }
  return context;
}

// ---- scenarios --------------------------------------------------------------------------

/** One random world: schema, tuples, request context, and the objects and subjects to ask about. */
export interface Scenario {
  readonly schemaText: string;
  readonly model: SchemaModel;
  readonly tuples: readonly Relationship[];
  readonly context: CaveatContext;
  readonly idCount: number;
}

export interface ScenarioSeed {
  readonly schema: SchemaSeed;
  readonly tuples: readonly TupleSeed[];
  readonly context: ContextSeed;
  readonly idCount: number;
}

export const scenarioSeed: fc.Arbitrary<ScenarioSeed> = fc.record({
  schema: schemaSeed,
  tuples: fc.array(tupleSeed, { maxLength: 30, size: "medium" }),
  context: contextSeed,
  idCount: fc.integer({ min: 1, max: 3 }),
});

export function buildScenario(seed: ScenarioSeed): Scenario {
  const model = buildSchema(seed.schema);
  const schemaText = printSchema(model);
  const tuples = buildTuples(model, seed.tuples, seed.idCount);
  const context = buildContext(seed.context);
  const built: Scenario = { schemaText, model, tuples, context, idCount: seed.idCount };
  // How fast-check prints a counterexample: the world as a person would write it down.
  return Object.assign(built, {
    [fc.toStringMethod]: () =>
      `\n${schemaText}\n${describeTuples(tuples)}\nrequest context: ${JSON.stringify(context)}\n`,
  });
}

export const scenario: fc.Arbitrary<Scenario> = scenarioSeed.map(buildScenario);

/** Every member name of a type, relations first. */
export function membersOf(model: SchemaModel, type: string): string[] {
  const t = model.types.find((x) => x.name === type)!;
  return [...t.relations.map((r) => r.name), ...t.permissions.map((p) => p.name)];
}

/**
 * The objects to ask about (every id any tuple names, by type) and the subjects to ask for:
 * every such object, one unseen object per type, and the usersets `T:x#m` for every relation
 * `m` of `T` and every member that a relation allows as a userset.
 */
export function universe(s: Scenario): { objects: ObjectRef[]; subjects: SubjectRef[] } {
  const objects = new Map<string, ObjectRef>();
  const add = (type: string, id: string) => {
    if (id !== "*") objects.set(`${type}:${id}`, { type, id });
  };
  for (const t of s.tuples) {
    add(t.resource.type, t.resource.id);
    add(t.subject.type, t.subject.id);
  }
  const sorted = [...objects.values()].sort((a, b) =>
    a.type === b.type ? (a.id < b.id ? -1 : 1) : a.type < b.type ? -1 : 1,
  );
  const subjectRelations = new Map<string, Set<string>>();
  for (const t of s.model.types) {
    subjectRelations.set(t.name, new Set(t.relations.map((r) => r.name)));
  }
  for (const t of s.model.types) {
    for (const r of t.relations) {
      for (const a of r.allowed) if (a.relation) subjectRelations.get(a.type)!.add(a.relation);
    }
  }
  const subjects: SubjectRef[] = [];
  for (const o of sorted) subjects.push(o);
  for (const t of s.model.types) subjects.push({ type: t.name, id: UNSEEN_ID });
  for (const o of sorted) {
    for (const relation of [...subjectRelations.get(o.type)!].sort()) {
      subjects.push({ ...o, relation });
    }
  }
  return { objects: sorted, subjects };
}

/** The tuples as strings, one a line, for failure messages. */
export function describeTuples(tuples: readonly Relationship[]): string {
  return tuples.length === 0 ? "(no tuples)" : tuples.map(formatRelationship).join("\n");
}

// ---- type annotations -------------------------------------------------------------------

/** Choices for the annotations of `annotated`: one number per permission, by position. */
export const annotationChoices = fc.array(fc.nat(), { minLength: 12, maxLength: 12 });

/**
 * The model under `use typechecking` with each permission annotated from `choices`: the types
 * it reaches, now and then with one left out (an incomplete annotation), with a type it does
 * not reach or an unknown type added. `complete` says whether every annotation names all the
 * permission reaches, which is when SpiceDB accepts the schema.
 */
export function annotated(
  model: SchemaModel,
  choices: readonly number[],
): { model: SchemaModel; complete: boolean } {
  const reached = reachableTypes(model);
  const typeNames = model.types.map((t) => t.name);
  const annotations = new Map<string, string[]>();
  let complete = true;
  let i = 0;
  for (const t of model.types) {
    for (const p of t.permissions) {
      const r = choices[i++ % choices.length]!;
      const key = `${t.name}#${p.name}`;
      const reachable = [...reached.get(key)!].sort();
      const types = [...reachable];
      if (r % 4 === 0 && types.length > 0) types.splice(r % types.length, 1);
      const extra = typeNames[(r >> 2) % typeNames.length]!;
      if ((r >> 4) % 2 === 1 && !types.includes(extra)) types.push(extra);
      if ((r >> 5) % 3 === 0) types.push("ghost");
      if (types.length === 0) types.push(extra);
      complete &&= reachable.every((x) => types.includes(x));
      annotations.set(key, types);
    }
  }
  return { model: { ...model, useTypechecking: true, annotations }, complete };
}
