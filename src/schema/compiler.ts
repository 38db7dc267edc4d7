/**
 * Compiles a schema tree into the type system, checking every semantic rule SpiceDB enforces so
 * that a schema moves between the two systems unchanged: valid and unique names, known types,
 * relations and caveats, arrows only over relations that exist and reach no wildcard, no
 * wildcard included through a userset, no permission that reaches itself through permissions
 * alone, `with expiration` only under `use expiration`, and well-typed caveats.
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
export const KNOWN_FEATURES: ReadonlySet<string> = new Set(["expiration", "self"]);

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

/** Compiles a parsed schema; never throws on a bad schema, reporting diagnostics instead. */
export function compileSchema(ast: SchemaAst): CompileResult {
  return new Compiler(ast).run();
}

class Compiler {
  readonly #ast: SchemaAst;
  readonly #diagnostics: SchemaDiagnostic[] = [];
  readonly #definitions = new Map<string, DefinitionNode>();
  readonly #caveatNodes = new Map<string, CaveatNode>();
  /** Members of each definition by name, first occurrence wins. */
  readonly #members = new Map<string, Map<string, MemberNode>>();
  readonly #features = new Set<string>();

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
    for (const item of this.#ast.items) {
      const what = item.kind === "definition" ? "definition" : "caveat";
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
      members.set(
        m.name,
        m.kind === "relation" ? this.#compileRelation(def, m) : this.#compilePermission(def, m),
      );
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
          const wildcard = this.#wildcardVia(t.type, relation, new Set());
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
   * usersets it allows; returns the wildcard type and the relation that admits it.
   */
  #wildcardVia(
    type: string,
    name: string,
    visiting: Set<string>,
  ): { type: string; via: string } | undefined {
    const key = `${type}#${name}`;
    if (visiting.has(key)) return undefined;
    visiting.add(key);
    const member = this.#members.get(type)?.get(name);
    if (member === undefined || member.kind !== "relation") return undefined;
    for (const t of member.types) {
      if (t.wildcard) return { type: t.type, via: key };
      if (t.relation !== undefined && t.relation !== "...") {
        const found = this.#wildcardVia(t.type, t.relation, visiting);
        if (found !== undefined) return found;
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
    const wildcard = this.#wildcardVia(def.name, e.relation, new Set());
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
      const state = new Map<string, "visiting" | "done">();
      const reported = new Set<string>();
      const visit = (name: string, path: string[]): void => {
        state.set(name, "visiting");
        for (const next of edges.get(name) ?? []) {
          if (state.get(next) === "visiting") {
            const cycle = [...path.slice(path.indexOf(next)), next];
            const first = cycle[0]!;
            if (!reported.has(first)) {
              for (const c of cycle) reported.add(c);
              const node = members.get(first)!;
              this.#error(
                `permission ${def.name}#${first} reaches itself through permissions only (${cycle.join(" -> ")}): put a relation or an arrow in between`,
                node.nameSpan.start,
              );
            }
          } else if (state.get(next) === undefined) {
            visit(next, [...path, next]);
          }
        }
        state.set(name, "done");
      };
      for (const name of edges.keys()) {
        if (state.get(name) === undefined) visit(name, [name]);
      }
    }
  }
}

function collectRefs(e: ExprNode, out: string[]): void {
  switch (e.kind) {
    case "ref":
      out.push(e.name);
      return;
    case "union":
    case "intersection":
    case "exclusion":
      collectRefs(e.left, out);
      collectRefs(e.right, out);
      return;
    case "arrow":
    case "nil":
    case "self":
      return;
  }
}
