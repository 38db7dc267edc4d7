/**
 * Partials (`use partial`): `partial name { … }` blocks whose members `...name` splices into a
 * definition, as SpiceDB's composable schemas define them. Every partial is resolved (so a
 * reference to an unknown partial, to a definition or caveat, or a cycle of partials is an
 * error wherever it is), but the members of a partial are checked only where they are spliced:
 * a partial nothing references is ignored.
 *
 * Unlike SpiceDB, two partials of the same name are refused rather than the later one silently
 * winning: with imports, that is two files defining one name, which is a conflict.
 */
import type { SchemaDiagnostic } from "../core/errors.js";
import type {
  DefinitionNode,
  MemberNode,
  PartialNode,
  PartialRefNode,
  SchemaAst,
  TopLevelNode,
} from "./ast.js";

export interface SplicedSchema {
  /** The schema with every partial spliced in and the partials removed. */
  readonly ast: SchemaAst;
  readonly diagnostics: readonly SchemaDiagnostic[];
}

/** Members without partial references: what a definition holds once partials are spliced. */
type PlainMember = Exclude<MemberNode, PartialRefNode>;

/** Splices partials into the definitions that reference them. Never throws on a bad schema. */
export function splicePartials(ast: SchemaAst): SplicedSchema {
  const hasPartials =
    ast.items.some((i) => i.kind === "partial") ||
    ast.items.some((i) => i.kind === "definition" && i.members.some(isRef));
  if (!hasPartials) return { ast, diagnostics: [] };
  return new Splicer(ast).run();
}

function isRef(m: MemberNode): m is PartialRefNode {
  return m.kind === "partialRef";
}

class Splicer {
  readonly #ast: SchemaAst;
  readonly #diagnostics: SchemaDiagnostic[] = [];
  readonly #partials = new Map<string, PartialNode>();
  /** Names of definitions and caveats, to tell a misdirected `...name` from an unknown one. */
  readonly #others = new Map<string, TopLevelNode>();
  /** The members of each partial, resolved; undefined while being resolved (a cycle). */
  readonly #resolved = new Map<string, readonly PlainMember[] | undefined>();

  constructor(ast: SchemaAst) {
    this.#ast = ast;
  }

  #error(
    message: string,
    node: { readonly nameSpan: { readonly start: SchemaDiagnostic["position"] } },
  ): void {
    this.#diagnostics.push({ message, position: node.nameSpan.start });
  }

  run(): SplicedSchema {
    for (const item of this.#ast.items) {
      if (item.kind === "partial") {
        const other = this.#others.get(item.name);
        if (this.#partials.has(item.name)) {
          this.#error(`duplicate partial '${item.name}'`, item);
        } else if (other !== undefined) {
          this.#error(`partial '${item.name}' has the name of a ${other.kind}`, item);
        } else {
          this.#partials.set(item.name, item);
        }
      } else {
        if (this.#partials.has(item.name)) {
          this.#error(`${item.kind} '${item.name}' has the name of a partial`, item);
        }
        if (!this.#others.has(item.name)) this.#others.set(item.name, item);
      }
    }
    for (const name of this.#partials.keys()) this.#resolve(name, []);
    const items: TopLevelNode[] = [];
    for (const item of this.#ast.items) {
      if (item.kind === "partial") continue;
      items.push(item.kind === "definition" ? this.#spliceDefinition(item) : item);
    }
    const uses = this.#ast.uses.filter((u) => u.feature !== "partial");
    return { ast: { ...this.#ast, uses, items }, diagnostics: this.#diagnostics };
  }

  /**
   * The members a partial brings, its own references spliced. `path` holds the partials being
   * resolved around this one; meeting one of them again is a cycle. The depth is at most the
   * number of partials.
   */
  #resolve(name: string, path: readonly string[]): readonly PlainMember[] {
    if (this.#resolved.has(name)) return this.#resolved.get(name) ?? [];
    const partial = this.#partials.get(name)!;
    this.#resolved.set(name, undefined);
    const members = this.#splice(partial.members, `partial ${name}`, [...path, name]);
    this.#resolved.set(name, members);
    return members;
  }

  #spliceDefinition(def: DefinitionNode): DefinitionNode {
    if (!def.members.some(isRef)) return def;
    return { ...def, members: this.#splice(def.members, `definition ${def.name}`, []) };
  }

  /** Replaces each `...name` in `members` by the partial's members, refusing name clashes. */
  #splice(members: readonly MemberNode[], where: string, path: readonly string[]): PlainMember[] {
    const out: PlainMember[] = [];
    const spliced = new Map<string, string>();
    const direct = new Set<string>();
    for (const m of members) {
      if (m.kind !== "partialRef") {
        const from = spliced.get(m.name);
        if (from !== undefined) {
          this.#error(`'${m.name}' in ${where} is also brought by partial ${from}`, m);
          continue;
        }
        direct.add(m.name);
        out.push(m);
        continue;
      }
      const brought = this.#bring(m, path);
      for (const b of brought) {
        if (direct.has(b.name) || spliced.has(b.name)) {
          const other = spliced.get(b.name);
          this.#error(
            `partial ${m.name} brings '${b.name}', which ${where} already has${other === undefined ? "" : ` from partial ${other}`}`,
            m,
          );
          continue;
        }
        spliced.set(b.name, m.name);
        out.push(b);
      }
    }
    return out;
  }

  /** The members `...name` stands for, or none (with a diagnostic) when it names no partial. */
  #bring(ref: PartialRefNode, path: readonly string[]): readonly PlainMember[] {
    if (path.includes(ref.name)) {
      const cycle = [...path.slice(path.indexOf(ref.name)), ref.name].join(" -> ");
      this.#error(`partials reference each other in a cycle (${cycle})`, ref);
      return [];
    }
    if (this.#partials.has(ref.name)) {
      if (this.#resolved.has(ref.name) && this.#resolved.get(ref.name) === undefined) return [];
      return this.#resolve(ref.name, path);
    }
    const other = this.#others.get(ref.name);
    this.#error(
      other === undefined
        ? `unknown partial '${ref.name}'`
        : `'...${ref.name}' names a ${other.kind}: only a partial can be spliced`,
      ref,
    );
    return [];
  }
}
