/**
 * The syntax tree of the schema language: one readonly interface per node kind, discriminated
 * by `kind`. Spans locate every node in the source; equality "positions aside" means equal
 * after `stripSpans`. Binary operators are left-associative binary nodes exactly as written;
 * parentheses are not nodes (the formatter prints the ones the tree needs).
 */
import type { SourcePosition } from "../core/errors.js";

export interface Span {
  readonly start: SourcePosition;
  readonly end: SourcePosition;
}

/** Comments written directly before a node (`// …`, `/* … *\/`, `/** … *\/`), raw text. */
export type Comments = readonly string[];

export interface SchemaAst {
  readonly kind: "schema";
  readonly uses: readonly UseNode[];
  /** `import "path.zed"` statements (with `use import`), in source order. */
  readonly imports: readonly ImportNode[];
  /** Definitions, caveats and partials in source order. */
  readonly items: readonly TopLevelNode[];
  /** Comments after the last item. */
  readonly trailingComments: Comments;
  readonly span: Span;
}

export type TopLevelNode = DefinitionNode | CaveatNode | PartialNode;

/**
 * `use expiration`: opts the schema into a language feature. Every `use` comes before the
 * first definition, caveat or partial; the feature's name is a keyword from then on.
 */
export interface UseNode {
  readonly kind: "use";
  readonly feature: string;
  readonly comments: Comments;
  readonly span: Span;
}

/**
 * `import "relative/path.zed"` (with `use import`): the definitions, caveats and partials of
 * another file, resolved relative to the importing file where the files are (the CLI, the
 * SDK). A server accepts only schemas whose imports are resolved (`trellis schema compile`).
 */
export interface ImportNode {
  readonly kind: "import";
  /** The path as written between the quotes. */
  readonly path: string;
  readonly pathSpan: Span;
  readonly comments: Comments;
  readonly span: Span;
}

/**
 * `partial name { … }` (with `use partial`): relations, permissions and partial references
 * that `...name` splices into a definition. A partial no definition references is ignored.
 */
export interface PartialNode {
  readonly kind: "partial";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  readonly members: readonly MemberNode[];
  /** Comments after the last member, before the closing brace. */
  readonly trailingComments: Comments;
  readonly span: Span;
}

/** `definition name { … }`; `name` may carry `prefix/` segments. */
export interface DefinitionNode {
  readonly kind: "definition";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  readonly members: readonly MemberNode[];
  /** Comments after the last member, before the closing brace. */
  readonly trailingComments: Comments;
  readonly span: Span;
}

export type MemberNode = RelationNode | PermissionNode | PartialRefNode;

/** `...name`: the members of partial `name`, spliced here. */
export interface PartialRefNode {
  readonly kind: "partialRef";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  readonly span: Span;
}

/** `relation name: user | group#member | user:* | user with caveat and expiration`. */
export interface RelationNode {
  readonly kind: "relation";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  readonly types: readonly TypeRefNode[];
  readonly span: Span;
}

/** One allowed subject type of a relation. */
export interface TypeRefNode {
  readonly kind: "typeRef";
  /** The subject's object type (`user`, `acme/user`). */
  readonly type: string;
  /** `group#member` → `member`; `group#...` → `...`; absent for a plain object type. */
  readonly relation?: string;
  /** `user:*`. */
  readonly wildcard: boolean;
  /** `with some_caveat`. */
  readonly caveat?: string;
  /** `with expiration` (alone or after `and`). */
  readonly expiration: boolean;
  readonly span: Span;
}

/**
 * `permission name = expression`, or `permission name: user | group = expression` with a type
 * annotation: the subject types the permission may yield. Under `use typechecking` the
 * annotation must name every type the expression can reach; without it, it is kept unchecked.
 */
export interface PermissionNode {
  readonly kind: "permission";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  /** The annotated subject types, as written; absent without an annotation. */
  readonly annotation?: readonly AnnotatedTypeNode[];
  readonly expr: ExprNode;
  readonly span: Span;
}

/** One type of a permission's type annotation: a plain definition name (`user`). */
export interface AnnotatedTypeNode {
  readonly kind: "annotatedType";
  readonly type: string;
  readonly span: Span;
}

export type ExprNode =
  | UnionNode
  | IntersectionNode
  | ExclusionNode
  | ArrowNode
  | RefNode
  | NilNode
  | SelfNode;

/** `left + right`: subjects of either side. */
export interface UnionNode {
  readonly kind: "union";
  readonly left: ExprNode;
  readonly right: ExprNode;
  readonly span: Span;
}

/** `left & right`: subjects of both sides. */
export interface IntersectionNode {
  readonly kind: "intersection";
  readonly left: ExprNode;
  readonly right: ExprNode;
  readonly span: Span;
}

/** `left - right`: subjects of the left side that are not on the right side. */
export interface ExclusionNode {
  readonly kind: "exclusion";
  readonly left: ExprNode;
  readonly right: ExprNode;
  readonly span: Span;
}

/**
 * Walks `relation` to its subjects and evaluates `target` on each: `relation->target` and
 * `relation.any(target)` (any subject grants), `relation.all(target)` (every subject must).
 */
export interface ArrowNode {
  readonly kind: "arrow";
  /** How it was written; `->` and `any` mean the same. */
  readonly op: "->" | "any" | "all";
  readonly relation: string;
  readonly relationSpan: Span;
  readonly target: string;
  readonly targetSpan: Span;
  readonly span: Span;
}

/** A relation or permission of the same definition. */
export interface RefNode {
  readonly kind: "ref";
  readonly name: string;
  readonly span: Span;
}

/** `nil`: no subjects. */
export interface NilNode {
  readonly kind: "nil";
  readonly span: Span;
}

/** `self` (with `use self`): the object itself, as a subject. */
export interface SelfNode {
  readonly kind: "self";
  readonly span: Span;
}

/** `caveat name(param type, …) { cel expression }`. */
export interface CaveatNode {
  readonly kind: "caveat";
  readonly name: string;
  readonly nameSpan: Span;
  readonly comments: Comments;
  readonly params: readonly CaveatParamNode[];
  /** The CEL expression, as written between the braces (trimmed). */
  readonly expression: string;
  /** Where the expression text starts and ends in the source. */
  readonly expressionSpan: Span;
  readonly span: Span;
}

export interface CaveatParamNode {
  readonly kind: "caveatParam";
  readonly name: string;
  readonly type: CaveatTypeNode;
  readonly span: Span;
}

/** A caveat parameter type: `int`, `list<string>`, `map<list<int>>`. */
export interface CaveatTypeNode {
  readonly kind: "caveatType";
  readonly name: string;
  readonly args: readonly CaveatTypeNode[];
  readonly span: Span;
}

export type AstNode =
  | SchemaAst
  | UseNode
  | ImportNode
  | DefinitionNode
  | PartialNode
  | PartialRefNode
  | RelationNode
  | TypeRefNode
  | PermissionNode
  | AnnotatedTypeNode
  | ExprNode
  | CaveatNode
  | CaveatParamNode
  | CaveatTypeNode;

export type AstNodeKind = AstNode["kind"];

/** A copy of the tree without spans, for comparing trees "positions aside". */
export function stripSpans(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripSpans);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "span" || k.endsWith("Span")) continue;
    out[k] = stripSpans(v);
  }
  return out;
}
