/**
 * `use typechecking`: a permission's type annotation (`permission view: user | group = …`)
 * must name every subject type the permission can reach, as SpiceDB checks it. A permission
 * reaches the types its expression reaches, operands of `&` and `-` included:
 * - a relation reaches the object types it allows (`user`, `user:*`, `group#...`) and, for a
 *   userset (`group#member`), what `member` of `group` reaches, never `group` itself;
 * - a permission or relation named in the expression reaches what it reaches;
 * - an arrow `parent->view` reaches what `view` reaches on each type `parent` allows (types
 *   without `view` add nothing);
 * - `nil` and `self` reach nothing.
 * The annotation itself is not consulted (a permission that uses another is checked against
 * what the other really reaches), and an annotated type that is unknown or unreachable is not
 * an error: SpiceDB accepts both.
 *
 * The reachable sets are computed once for the whole schema: strongly connected components of
 * the graph of members (found iteratively, so the depth of nothing grows with the schema), each
 * component's set the union of its members' own types and its successors' sets, as bit sets
 * over the schema's types.
 */
import type { SchemaDiagnostic } from "../core/errors.js";
import type { ExprNode, MemberNode, PermissionNode } from "./ast.js";

/** The members of each definition by name (partials spliced), as the compiler collected them. */
export type MembersByDefinition = ReadonlyMap<string, ReadonlyMap<string, MemberNode>>;

/** Diagnostics for every annotated permission whose annotation leaves out a reachable type. */
export function checkTypeAnnotations(members: MembersByDefinition): SchemaDiagnostic[] {
  const graph = buildGraph(members);
  const reachable = reachableSets(graph);
  const diagnostics: SchemaDiagnostic[] = [];
  for (const [type, byName] of members) {
    for (const m of byName.values()) {
      if (m.kind !== "permission" || m.annotation === undefined) continue;
      const set = reachable(graph.index.get(`${type}#${m.name}`)!);
      const annotated = new Set(m.annotation.map((t) => t.type));
      const missing: string[] = [];
      for (let t = 0; t < graph.types.length; t++) {
        // Skip a word at a time where nothing is reachable.
        if (set[t >>> 5] === 0) t |= 31;
        else if (set[t >>> 5]! & (1 << (t & 31)) && !annotated.has(graph.types[t]!)) {
          missing.push(graph.types[t]!);
        }
      }
      if (missing.length > 0) diagnostics.push(incomplete(type, m, missing.sort()));
    }
  }
  return diagnostics;
}

function incomplete(type: string, m: PermissionNode, missing: readonly string[]): SchemaDiagnostic {
  const annotation = m.annotation!;
  const names = missing.map((t) => `'${t}'`).join(", ");
  return {
    message: `incomplete type annotation on permission ${type}#${m.name}: it can reach ${names}, which the annotation [${annotation.map((t) => t.type).join(", ")}] leaves out`,
    position: annotation[0]!.span.start,
  };
}

interface MemberGraph {
  /** `type#member` → node number. */
  readonly index: Map<string, number>;
  /** Successors of each node. */
  readonly edges: number[][];
  /** Types each node reaches by itself, as numbers into `types`. */
  readonly own: number[][];
  readonly types: string[];
}

function buildGraph(members: MembersByDefinition): MemberGraph {
  const index = new Map<string, number>();
  for (const [type, byName] of members) {
    for (const name of byName.keys()) index.set(`${type}#${name}`, index.size);
  }
  const typeIndex = new Map<string, number>();
  const types: string[] = [];
  const typeNumber = (t: string): number => {
    let n = typeIndex.get(t);
    if (n === undefined) {
      n = types.length;
      typeIndex.set(t, n);
      types.push(t);
    }
    return n;
  };
  const edges: number[][] = Array.from({ length: index.size }, () => []);
  const own: number[][] = Array.from({ length: index.size }, () => []);
  for (const [type, byName] of members) {
    for (const m of byName.values()) {
      const node = index.get(`${type}#${m.name}`)!;
      const edge = (to: string) => {
        const target = index.get(to);
        if (target !== undefined) edges[node]!.push(target);
      };
      if (m.kind === "relation") {
        for (const t of m.types) {
          if (t.relation === undefined || t.relation === "...") own[node]!.push(typeNumber(t.type));
          else edge(`${t.type}#${t.relation}`);
        }
      } else if (m.kind === "permission") {
        forEachOperand(m.expr, (e) => {
          if (e.kind === "ref") edge(`${type}#${e.name}`);
          else if (e.kind === "arrow") {
            const tupleset = byName.get(e.relation);
            if (tupleset?.kind !== "relation") return;
            for (const t of tupleset.types) edge(`${t.type}#${e.target}`);
          }
        });
      }
    }
  }
  return { index, edges, own, types };
}

/** Calls `visit` on every operand of an expression (an explicit stack: no recursion). */
function forEachOperand(expr: ExprNode, visit: (e: ExprNode) => void): void {
  const stack = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.kind === "union" || e.kind === "intersection" || e.kind === "exclusion") {
      stack.push(e.right, e.left);
    } else {
      visit(e);
    }
  }
}

/**
 * For each node, the set of types it reaches (bit `t` for `graph.types[t]`). Tarjan's
 * algorithm, iteratively: components come out after every component they reach, so each one's
 * set is final when made.
 */
function reachableSets(graph: MemberGraph): (node: number) => Uint32Array {
  const n = graph.edges.length;
  const words = Math.max(1, Math.ceil(graph.types.length / 32));
  const order = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const component = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const sets: Uint32Array[] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    // Frames of the depth-first walk: [node, next edge to try].
    const frames: [number, number][] = [[root, 0]];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const [v, i] = frame;
      const successors = graph.edges[v]!;
      if (i < successors.length) {
        frame[1]++;
        const w = successors[i]!;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          frames.push([w, 0]);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, order[w]!);
        }
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1]![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] !== order[v]) continue;
      // v roots a component: pop it, then union its own types and its successors' sets.
      const c = sets.length;
      const set = new Uint32Array(words);
      const nodes: number[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack[w] = 0;
        component[w] = c;
        nodes.push(w);
        if (w === v) break;
      }
      for (const w of nodes) {
        for (const t of graph.own[w]!) set[t >>> 5]! |= 1 << (t & 31);
        for (const x of graph.edges[w]!) {
          const other = component[x]!;
          if (other === c || other === -1) continue;
          const from = sets[other]!;
          for (let k = 0; k < words; k++) set[k]! |= from[k]!;
        }
      }
      sets.push(set);
    }
  }
  return (node) => sets[component[node]!]!;
}
