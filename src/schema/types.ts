/**
 * The type system the engine evaluates: a compiled schema, with names resolved and every
 * semantic rule checked. Permissions are rewrite trees whose unions and intersections are
 * flattened to n-ary nodes, the shape evaluation short-circuits over.
 */
import type { SchemaAst } from "./ast.js";
import type { CompiledCaveat } from "./caveat.js";

export interface CompiledSchema {
  /** Object types by name, in source order. */
  readonly definitions: ReadonlyMap<string, TypeDefinition>;
  /** Caveats by name, in source order. */
  readonly caveats: ReadonlyMap<string, CompiledCaveat>;
  /** Language features switched on with `use` (e.g. `expiration`). */
  readonly features: ReadonlySet<string>;
  /** The tree the schema was compiled from (formatting, diffs). */
  readonly ast: SchemaAst;
}

export interface TypeDefinition {
  readonly name: string;
  /** Relations and permissions by name (the two share one namespace). */
  readonly members: ReadonlyMap<string, Member>;
}

export type Member = RelationDefinition | PermissionDefinition;

/** A relation: tuples are written to it; it holds the subject types tuples may carry. */
export interface RelationDefinition {
  readonly kind: "relation";
  readonly name: string;
  /** The object type this relation belongs to. */
  readonly definition: string;
  readonly allowed: readonly AllowedSubjectType[];
}

/**
 * One allowed subject type. `relation` is absent for the object itself (`user`, `user#...`);
 * `wildcard` is `user:*`. A tuple matches when type, relation-or-wildcard, caveat and
 * expiration all fit.
 */
export interface AllowedSubjectType {
  readonly type: string;
  readonly relation?: string;
  readonly wildcard: boolean;
  readonly caveat?: string;
  readonly expiration: boolean;
}

/** A permission: computed from relations and other permissions; never written to. */
export interface PermissionDefinition {
  readonly kind: "permission";
  readonly name: string;
  readonly definition: string;
  readonly rewrite: Rewrite;
}

export type Rewrite =
  | { readonly kind: "union"; readonly children: readonly Rewrite[] }
  | { readonly kind: "intersection"; readonly children: readonly Rewrite[] }
  | { readonly kind: "exclusion"; readonly base: Rewrite; readonly subtract: Rewrite }
  /** Another member (relation or permission) of the same object. */
  | { readonly kind: "computed"; readonly member: string }
  /**
   * For each subject object of `tupleset` (a relation of the same object), `computed` on it:
   * any one grants (`any`), or every one must (`all`).
   */
  | {
      readonly kind: "arrow";
      readonly tupleset: string;
      readonly computed: string;
      readonly mode: "any" | "all";
    }
  | { readonly kind: "nil" }
  /** The object itself, as a subject (`use self`). */
  | { readonly kind: "self" };

export type RewriteKind = Rewrite["kind"];
