/**
 * The schema read backwards, for ListObjects: given that a subject is in the userset
 * `U:x#m` (or is the object `U:x` itself), which relations hold such tuples, which permissions
 * compute from `m`, and which arrows walk to `m`. Only references that can grant are kept: the
 * subtracted side of an exclusion never adds a result, so it is not walked. Building recurses
 * along a permission's rewrite only (its depth bounded by `schema-limits.ts`); the walk over
 * the whole graph is iterative.
 */
import type { EngineRewrite, EngineSchema } from "./engine-schema.js";

export interface RelationHolder {
  readonly type: string;
  readonly relation: string;
}

export interface ArrowReferrer {
  readonly type: string;
  /** The tupleset relation walked. */
  readonly tupleset: string;
  /** The permission that contains the arrow. */
  readonly permission: string;
  /** Subject relations the tupleset allows for the subject type (undefined: the object). */
  readonly subjectRelations: readonly (string | undefined)[];
}

export interface ReverseGraph {
  /** `U#m` (m empty for the object itself) → relations whose tuples may carry that subject. */
  readonly holders: ReadonlyMap<string, readonly RelationHolder[]>;
  /** `U` → relations that allow the wildcard `U:*`. */
  readonly wildcardHolders: ReadonlyMap<string, readonly RelationHolder[]>;
  /** `U#m` → permissions of U that include m positively. */
  readonly computedReferrers: ReadonlyMap<string, readonly string[]>;
  /** `U#m` → arrows whose target is m on subject type U. */
  readonly arrowReferrers: ReadonlyMap<string, readonly ArrowReferrer[]>;
  /** `U` → permissions of U that include `self` positively. */
  readonly selfReferrers: ReadonlyMap<string, readonly string[]>;
}

const graphs = new WeakMap<EngineSchema, ReverseGraph>();
const relevance = new WeakMap<ReverseGraph, Map<string, ReadonlySet<string>>>();

/**
 * The walk's nodes (`U#m`, `U#` for the object itself) from which the walk can reach `target`
 * (`T#p`). Walking any other node finds no candidate, so ListObjects skips it: a user's groups
 * and folders lead to many permissions, few of which lead to the one asked about.
 */
export function nodesReaching(graph: ReverseGraph, target: string): ReadonlySet<string> {
  let byTarget = relevance.get(graph);
  if (byTarget === undefined) {
    byTarget = new Map();
    relevance.set(graph, byTarget);
  }
  let nodes = byTarget.get(target);
  if (nodes === undefined) {
    nodes = reaching(graph, target);
    byTarget.set(target, nodes);
  }
  return nodes;
}

function reaching(graph: ReverseGraph, target: string): Set<string> {
  // Edges of the walk, reversed: successor → the nodes the walk comes from.
  const from = new Map<string, string[]>();
  const edge = (a: string, b: string) => push(from, b, a);
  for (const [node, holders] of graph.holders) {
    for (const h of holders) edge(node, `${h.type}#${h.relation}`);
  }
  for (const [type, holders] of graph.wildcardHolders) {
    for (const h of holders) edge(`${type}#`, `${h.type}#${h.relation}`);
  }
  for (const [type, permissions] of graph.selfReferrers) {
    for (const p of permissions) edge(`${type}#`, `${type}#${p}`);
  }
  for (const [node, permissions] of graph.computedReferrers) {
    const type = node.slice(0, node.indexOf("#"));
    for (const p of permissions) edge(node, `${type}#${p}`);
  }
  for (const [node, arrows] of graph.arrowReferrers) {
    for (const a of arrows) edge(node, `${a.type}#${a.permission}`);
  }
  const seen = new Set<string>([target]);
  const stack = [target];
  while (stack.length > 0) {
    for (const previous of from.get(stack.pop()!) ?? []) {
      if (!seen.has(previous)) {
        seen.add(previous);
        stack.push(previous);
      }
    }
  }
  return seen;
}

export function reverseGraphOf(schema: EngineSchema): ReverseGraph {
  let graph = graphs.get(schema);
  if (graph === undefined) {
    graph = build(schema);
    graphs.set(schema, graph);
  }
  return graph;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

function build(schema: EngineSchema): ReverseGraph {
  const holders = new Map<string, RelationHolder[]>();
  const wildcardHolders = new Map<string, RelationHolder[]>();
  const computedReferrers = new Map<string, string[]>();
  const arrowReferrers = new Map<string, ArrowReferrer[]>();
  const selfReferrers = new Map<string, string[]>();
  for (const [type, members] of schema.types) {
    for (const member of members.values()) {
      if (member.kind === "relation") {
        const holder = { type, relation: member.name };
        const seen = new Set<string>();
        for (const a of member.definition.allowed) {
          const key = a.wildcard ? `*${a.type}` : `${a.type}#${a.relation ?? ""}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (a.wildcard) push(wildcardHolders, a.type, holder);
          else push(holders, `${a.type}#${a.relation ?? ""}`, holder);
        }
        continue;
      }
      const visit = (r: EngineRewrite): void => {
        switch (r.kind) {
          case "computed":
            push(computedReferrers, `${type}#${r.member.name}`, member.name);
            return;
          case "union":
          case "intersection":
            for (const c of r.children) visit(c);
            return;
          case "exclusion":
            visit(r.base);
            return;
          case "arrow": {
            const bySubjectType = new Map<string, (string | undefined)[]>();
            for (const a of r.tupleset.definition.allowed) {
              if (a.wildcard) continue;
              const rels = bySubjectType.get(a.type) ?? [];
              if (!rels.includes(a.relation)) rels.push(a.relation);
              bySubjectType.set(a.type, rels);
            }
            for (const [subjectType, subjectRelations] of bySubjectType) {
              if (!r.targets.has(subjectType)) continue;
              const list = arrowReferrers.get(`${subjectType}#${r.computed}`) ?? [];
              list.push({
                type,
                tupleset: r.tupleset.name,
                permission: member.name,
                subjectRelations,
              });
              arrowReferrers.set(`${subjectType}#${r.computed}`, list);
            }
            return;
          }
          case "self":
            push(selfReferrers, type, member.name);
            return;
          case "nil":
            return;
        }
      };
      visit(member.rewrite);
    }
  }
  return { holders, wildcardHolders, computedReferrers, arrowReferrers, selfReferrers };
}
