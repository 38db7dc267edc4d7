/**
 * Compiles a schema tree into the type system, checking every semantic rule SpiceDB enforces so
 * that a schema moves between the two systems unchanged: valid and unique names, known types,
 * relations and caveats, arrows only over relations that exist and reach no wildcard, no
 * wildcard included through a userset, no permission that reaches itself through permissions
 * alone, `with expiration` only under `use expiration`, complete type annotations under
 * `use typechecking`, and well-typed caveats. Partials are spliced first (`partials.ts`);
 * imports must have been resolved where the files are (`composition.ts`).
 */
import { type SchemaDiagnostic, SchemaError, type SourcePosition } from "../core/errors.js";
import { isValidIdentifier, isValidTypeName } from "../core/names.js";
import type {
  CaveatNode,
  DefinitionNode,
  ExprNode,
  MemberNode,
  PermissionNode,
  RelationNode,
  SchemaAst,
} from "./ast.js";
import { type CompiledCaveat, compileCaveat } from "./caveat.js";
import { parseSchema } from "./parser.js";
import { splicePartials } from "./partials.js";
import { MAX_CAVEAT_TEXT, MAX_CAVEATS } from "./schema-limits.js";
import { checkTypeAnnotations } from "./typecheck.js";
import type {
  AllowedSubjectType,
  CompiledSchema,
  Member,
  PermissionDefinition,
  RelationDefinition,
  Rewrite,
  TypeDefinition,
} from "./types.js";

/** Language features a schema may switch on with `use`. */
export const KNOWN_FEATURES: ReadonlySet<string> = new Set([
  "expiration",
  "self",
  "typechecking",
  "partial",
  "import",
]);

export interface CompileResult {
  /** Present when there are no diagnostics. */
  readonly schema?: CompiledSchema;
  readonly diagnostics: readonly SchemaDiagnostic[];
}

/** Parses and compiles schema text; throws `SchemaError` listing every problem found. */
export function compileSchemaText(text: string): CompiledSchema {
  const parsed = parseSchema(text);
  if (parsed.diagnostics.length > 0) throw new SchemaError(parsed.diagnostics);
  const compiled = compileSchema(parsed.ast);
  if (compiled.schema === undefined) throw new SchemaError(compiled.diagnostics);
  return compiled.schema;
}

/**
 * Compiles a parsed schema; never throws on a bad schema, reporting diagnostics instead. The
 * compiled schema's `ast` has its partials spliced in.
 */
export function compileSchema(ast: SchemaAst): CompileResult {
  const unresolved = ast.imports.map((i) => ({
    message: `import "${i.path}" is resolved where the files are: compile the schema first (trellis schema compile)`,
    position: i.span.start,
  }));
  const spliced = splicePartials(ast);
  const result = new Compiler(spliced.ast).run();
  const early = [...unresolved, ...spliced.diagnostics];
  if (early.length === 0) return result;
  return {
    diagnostics: [...early, ...result.diagnostics].sort(
      (a, b) => a.position.offset - b.position.offset,
    ),
  };
}

class Compiler {
  readonly #ast: SchemaAst;
  readonly #diagnostics: SchemaDiagnostic[] = [];
  readonly #definitions = new Map<string, DefinitionNode>();
  readonly #caveatNodes = new Map<string, CaveatNode>();
  /** Members of each definition by name, first occurrence wins. */
  readonly #members = new Map<string, Map<string, MemberNode>>();
  readonly #features = new Set<string>();
  /** Over the caveat limits, no caveat is compiled: compiling them is what the limits bound. */
  #caveatsOverLimit = false;

  constructor(ast: SchemaAst) {
    this.#ast = ast;
  }

  #error(message: string, position: SourcePosition): void {
    this.#diagnostics.push({ message, position });
  }

  run(): CompileResult {
    this.#collect();
    const caveats = this.#compileCaveats();
    const definitions = new Map<string, TypeDefinition>();
    for (const def of this.#definitions.values()) {
      definitions.set(def.name, this.#compileDefinition(def));
    }
    this.#checkPermissionCycles();
    if (this.#features.has("typechecking")) {
      this.#diagnostics.push(...checkTypeAnnotations(this.#members));
    }
    if (this.#diagnostics.length > 0) {
      const diagnostics = [...this.#diagnostics].sort(
        (a, b) => a.position.offset - b.position.offset,
      );
      return { diagnostics };
    }
    return {
      schema: { definitions, caveats, features: this.#features, ast: this.#ast },
      diagnostics: [],
    };
  }

  // ---- names ----------------------------------------------------------------------------

  #collect(): void {
    for (const use of this.#ast.uses) {
      if (!KNOWN_FEATURES.has(use.feature)) {
        this.#error(
          `unknown feature '${use.feature}' in 'use': known features are ${[...KNOWN_FEATURES].join(", ")}`,
          use.span.start,
        );
      }
      this.#features.add(use.feature);
    }
    const topLevel = new Set<string>();
    let caveats = 0;
    let caveatText = 0;
    for (const item of this.#ast.items) {
      // Partials are spliced before compiling; one left here has no meaning.
      if (item.kind === "partial") continue;
      const what = item.kind;
      if (item.kind === "caveat") {
        if (++caveats === MAX_CAVEATS + 1) {
          this.#caveatsOverLimit = true;
          this.#error(`more than ${MAX_CAVEATS} caveats in one schema`, item.nameSpan.start);
        }
        const before = caveatText;
        caveatText += item.expression.length;
        if (before <= MAX_CAVEAT_TEXT && caveatText > MAX_CAVEAT_TEXT) {
          this.#caveatsOverLimit = true;
          this.#error(
            `caveat expressions of more than ${MAX_CAVEAT_TEXT} characters in one schema`,
            item.expressionSpan.start,
          );
        }
      }
      if (!isValidTypeName(item.name)) {
        this.#error(
          `invalid ${what} name '${item.name}': use 3-64 lowercase letters, digits and '_', starting with a letter and not ending with '_', optionally behind 'prefix/' segments`,
          item.nameSpan.start,
        );
      }
      if (topLevel.has(item.name)) {
        this.#error(
          `duplicate name '${item.name}': definitions and caveats share one namespace`,
          item.nameSpan.start,
        );
        continue;
      }
      topLevel.add(item.name);
      if (item.kind === "definition") {
        this.#definitions.set(item.name, item);
        this.#members.set(item.name, this.#collectMembers(item));
      } else {
        this.#caveatNodes.set(item.name, item);
      }
    }
  }

  #collectMembers(def: DefinitionNode): Map<string, MemberNode> {
    const members = new Map<string, MemberNode>();
    for (const m of def.members) {
      // Partial references are spliced before compiling.
      if (m.kind === "partialRef") continue;
      if (!isValidIdentifier(m.name)) {
        this.#error(
          `invalid ${m.kind} name '${m.name}' in definition ${def.name}: use 3-64 lowercase letters, digits and '_', starting with a letter and not ending with '_'`,
          m.nameSpan.start,
        );
      }
      const existing = members.get(m.name);
      if (existing !== undefined) {
        this.#error(
          `duplicate relation/permission name '${m.name}' in definition ${def.name} (first defined as a ${existing.kind} at line ${existing.nameSpan.start.line})`,
          m.nameSpan.start,
        );
        continue;
      }
      members.set(m.name, m);
    }
    return members;
  }

  #compileCaveats(): Map<string, CompiledCaveat> {
    const caveats = new Map<string, CompiledCaveat>();
    if (this.#caveatsOverLimit) return caveats;
    for (const node of this.#caveatNodes.values()) {
      const result = compileCaveat(node);
      this.#diagnostics.push(...result.diagnostics);
      if (result.caveat !== undefined) caveats.set(node.name, result.caveat);
    }
    return caveats;
  }

  // ---- definitions ----------------------------------------------------------------------

  #compileDefinition(def: DefinitionNode): TypeDefinition {
    const members = new Map<string, Member>();
    for (const m of this.#members.get(def.name)!.values()) {
      if (m.kind === "relation") members.set(m.name, this.#compileRelation(def, m));
      else if (m.kind === "permission") members.set(m.name, this.#compilePermission(def, m));
    }
    return { name: def.name, members };
  }

  #compileRelation(def: DefinitionNode, rel: RelationNode): RelationDefinition {
    const allowed: AllowedSubjectType[] = [];
    const seen = new Set<string>();
    const where = `relation ${def.name}#${rel.name}`;
    for (const t of rel.types) {
      const relation = t.relation === "..." ? undefined : t.relation;
      const subjectMembers = this.#members.get(t.type);
      if (subjectMembers === undefined) {
        this.#error(`unknown type '${t.type}' in ${where}`, t.span.start);
      } else if (relation !== undefined) {
        if (!subjectMembers.has(relation)) {
          this.#error(
            `relation/permission '${relation}' not found on definition ${t.type} (in ${where})`,
            t.span.start,
          );
        } else {
          // SpiceDB checks only usersets of other definitions: `relation owner: group#parent`
          // inside `group` is accepted even when `parent` allows `user:*`.
          const wildcard = t.type === def.name ? undefined : this.#wildcardVia(t.type, relation);
          if (wildcard !== undefined) {
            this.#error(
              `${where} includes ${t.type}#${relation}, which allows the wildcard ${wildcard.type}:* via ${wildcard.via}: wildcards cannot be included through a userset`,
              t.span.start,
            );
          }
        }
      }
      if (t.caveat !== undefined && !this.#caveatNodes.has(t.caveat)) {
        this.#error(`unknown caveat '${t.caveat}' in ${where}`, t.span.start);
      }
      if (t.expiration && !this.#features.has("expiration")) {
        this.#error(
          `'with expiration' in ${where} needs 'use expiration' at the top of the schema`,
          t.span.start,
        );
      }
      const key = `${t.type}|${relation ?? ""}|${t.wildcard}|${t.caveat ?? ""}|${t.expiration}`;
      if (seen.has(key)) {
        this.#error(`duplicate subject type in ${where}`, t.span.start);
        continue;
      }
      seen.add(key);
      allowed.push({
        type: t.type,
        ...(relation !== undefined ? { relation } : {}),
        wildcard: t.wildcard,
        ...(t.caveat !== undefined ? { caveat: t.caveat } : {}),
        expiration: t.expiration,
      });
    }
    return { kind: "relation", name: rel.name, definition: def.name, allowed };
  }

  /**
   * Whether the relation `type#name` admits a wildcard subject, directly or through the
   * usersets it allows; returns the wildcard type and the relation that admits it. Walks the
   * userset chain with an explicit stack, in the order a depth-first walk would.
   */
  #wildcardVia(type: string, name: string): { type: string; via: string } | undefined {
    const visited = new Set<string>();
    // A relation to walk, or a wildcard found (returned when popped, so the order is a walk's).
    type Step = { relation: [string, string] } | { wildcard: { type: string; via: string } };
    const stack: Step[] = [{ relation: [type, name] }];
    while (stack.length > 0) {
      const step = stack.pop()!;
      if ("wildcard" in step) return step.wildcard;
      const [t, n] = step.relation;
      const key = `${t}#${n}`;
      if (visited.has(key)) continue;
      visited.add(key);
      const member = this.#members.get(t)?.get(n);
      if (member === undefined || member.kind !== "relation") continue;
      for (let i = member.types.length - 1; i >= 0; i--) {
        const x = member.types[i]!;
        if (x.wildcard) stack.push({ wildcard: { type: x.type, via: key } });
        else if (x.relation !== undefined && x.relation !== "...") {
          stack.push({ relation: [x.type, x.relation] });
        }
      }
    }
    return undefined;
  }

  #compilePermission(def: DefinitionNode, perm: PermissionNode): PermissionDefinition {
    return {
      kind: "permission",
      name: perm.name,
      definition: def.name,
      rewrite: this.#compileExpr(def, perm, perm.expr),
    };
  }

  #compileExpr(def: DefinitionNode, perm: PermissionNode, e: ExprNode): Rewrite {
    const members = this.#members.get(def.name)!;
    const where = `permission ${def.name}#${perm.name}`;
    switch (e.kind) {
      case "nil":
        return { kind: "nil" };
      case "self":
        return { kind: "self" };
      case "ref":
        if (!members.has(e.name)) {
          this.#error(`unknown relation or permission '${e.name}' in ${where}`, e.span.start);
        }
        return { kind: "computed", member: e.name };
      case "arrow":
        this.#checkArrow(def, where, e);
        return {
          kind: "arrow",
          tupleset: e.relation,
          computed: e.target,
          mode: e.op === "all" ? "all" : "any",
        };
      case "union":
      case "intersection": {
        const children: Rewrite[] = [];
        const flatten = (node: ExprNode): void => {
          if (node.kind === e.kind) {
            flatten(node.left);
            flatten(node.right);
          } else {
            children.push(this.#compileExpr(def, perm, node));
          }
        };
        flatten(e);
        return { kind: e.kind, children };
      }
      case "exclusion":
        return {
          kind: "exclusion",
          base: this.#compileExpr(def, perm, e.left),
          subtract: this.#compileExpr(def, perm, e.right),
        };
    }
  }

  #checkArrow(def: DefinitionNode, where: string, e: Extract<ExprNode, { kind: "arrow" }>): void {
    const left = this.#members.get(def.name)!.get(e.relation);
    if (left === undefined) {
      this.#error(`unknown relation '${e.relation}' in ${where}`, e.relationSpan.start);
      return;
    }
    if (left.kind === "permission") {
      this.#error(
        `permissions cannot be used on the left side of an arrow: '${e.relation}' in ${where} is a permission`,
        e.relationSpan.start,
      );
      return;
    }
    const wildcard = this.#wildcardVia(def.name, e.relation);
    if (wildcard !== undefined) {
      this.#error(
        `relation ${def.name}#${e.relation} allows the wildcard ${wildcard.type}:* (via ${wildcard.via}), so it cannot be the left side of an arrow in ${where}`,
        e.relationSpan.start,
      );
    }
    // A target that no subject type defines is accepted, as SpiceDB does: the arrow then
    // grants nothing (`.all()` included, as it needs every subject to have the target).
  }

  // ---- cycles ---------------------------------------------------------------------------

  /**
   * A permission that reaches itself through other permissions of the same object, with no
   * relation (no tuple) in between, has no meaning: refuse it, naming the cycle.
   */
  #checkPermissionCycles(): void {
    for (const def of this.#definitions.values()) {
      const members = this.#members.get(def.name)!;
      const edges = new Map<string, string[]>();
      for (const m of members.values()) {
        if (m.kind !== "permission") continue;
        const refs: string[] = [];
        collectRefs(m.expr, refs);
        edges.set(
          m.name,
          refs.filter((r) => members.get(r)?.kind === "permission"),
        );
      }
      this.#reportCycles(def, members, edges);
    }
  }

  /**
   * Reports each cycle of `edges` once, at its first permission, by a depth-first walk with an
   * explicit stack (a chain of permissions is as long as a definition is large).
   */
  #reportCycles(
    def: DefinitionNode,
    members: Map<string, MemberNode>,
    edges: Map<string, string[]>,
  ): void {
    const state = new Map<string, "visiting" | "done">();
    const reported = new Set<string>();
    for (const root of edges.keys()) {
      if (state.has(root)) continue;
      const path: string[] = [root];
      const next: number[] = [0];
      state.set(root, "visiting");
      while (path.length > 0) {
        const name = path[path.length - 1]!;
        const i = next[next.length - 1]!;
        const successors = edges.get(name) ?? [];
        if (i >= successors.length) {
          state.set(name, "done");
          path.pop();
          next.pop();
          continue;
        }
        next[next.length - 1] = i + 1;
        const to = successors[i]!;
        const seen = state.get(to);
        if (seen === undefined) {
          state.set(to, "visiting");
          path.push(to);
          next.push(0);
        } else if (seen === "visiting") {
          const cycle = [...path.slice(path.indexOf(to)), to];
          const first = cycle[0]!;
          if (!reported.has(first)) {
            for (const c of cycle) reported.add(c);
            this.#error(
              `permission ${def.name}#${first} reaches itself through permissions only (${cycle.join(" -> ")}): put a relation or an arrow in between`,
              members.get(first)!.nameSpan.start,
            );
          }
        }
      }
    }
  }
}

/** The names an expression refers to directly, in source order (an explicit stack). */
function collectRefs(expr: ExprNode, out: string[]): void {
  const stack = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    switch (e.kind) {
      case "ref":
        out.push(e.name);
        break;
      case "union":
      case "intersection":
      case "exclusion":
        stack.push(e.right, e.left);
        break;
      case "arrow":
      case "nil":
      case "self":
        break;
    }
  }
}
