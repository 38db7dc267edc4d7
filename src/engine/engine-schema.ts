/**
 * The compiled schema as the traversal uses it: every member reference resolved to the member
 * object once, so evaluation follows pointers instead of looking names up. Resolving recurses
 * along a permission's rewrite, whose depth the schema's limits bound (`schema-limits.ts`).
 */
import type { CompiledCaveat } from "../schema/caveat.js";
import type {
  CompiledSchema,
  PermissionDefinition,
  RelationDefinition,
  Rewrite,
} from "../schema/types.js";

export interface EngineRelation {
  readonly kind: "relation";
  /** `type#name`, the member part of cache keys. */
  readonly key: string;
  readonly type: string;
  readonly name: string;
  readonly definition: RelationDefinition;
}

export interface EnginePermission {
  readonly kind: "permission";
  readonly key: string;
  readonly type: string;
  readonly name: string;
  readonly definition: PermissionDefinition;
  rewrite: EngineRewrite;
}

export type EngineMember = EngineRelation | EnginePermission;

export type EngineRewrite =
  | { readonly kind: "union"; readonly children: readonly EngineRewrite[] }
  | { readonly kind: "intersection"; readonly children: readonly EngineRewrite[] }
  | { readonly kind: "exclusion"; readonly base: EngineRewrite; readonly subtract: EngineRewrite }
  | { readonly kind: "computed"; readonly member: EngineMember }
  | {
      readonly kind: "arrow";
      readonly tupleset: EngineRelation;
      readonly computed: string;
      readonly mode: "any" | "all";
      /** The computed member on each subject type of the tupleset; absent where undefined. */
      readonly targets: ReadonlyMap<string, EngineMember>;
    }
  | { readonly kind: "nil" }
  | { readonly kind: "self" };

export class EngineSchema {
  readonly compiled: CompiledSchema;
  readonly #types = new Map<string, Map<string, EngineMember>>();

  constructor(compiled: CompiledSchema) {
    this.compiled = compiled;
    const permissions: EnginePermission[] = [];
    for (const def of compiled.definitions.values()) {
      const members = new Map<string, EngineMember>();
      for (const m of def.members.values()) {
        const key = `${def.name}#${m.name}`;
        if (m.kind === "relation") {
          members.set(m.name, {
            kind: "relation",
            key,
            type: def.name,
            name: m.name,
            definition: m,
          });
        } else {
          const p: EnginePermission = {
            kind: "permission",
            key,
            type: def.name,
            name: m.name,
            definition: m,
            rewrite: { kind: "nil" },
          };
          permissions.push(p);
          members.set(m.name, p);
        }
      }
      this.#types.set(def.name, members);
    }
    for (const p of permissions) p.rewrite = this.#resolve(p.type, p.definition.rewrite);
  }

  #resolve(type: string, r: Rewrite): EngineRewrite {
    switch (r.kind) {
      case "nil":
      case "self":
        return r;
      case "union":
      case "intersection":
        return { kind: r.kind, children: r.children.map((c) => this.#resolve(type, c)) };
      case "exclusion":
        return {
          kind: "exclusion",
          base: this.#resolve(type, r.base),
          subtract: this.#resolve(type, r.subtract),
        };
      case "computed":
        return { kind: "computed", member: this.member(type, r.member)! };
      case "arrow": {
        const tupleset = this.member(type, r.tupleset) as EngineRelation;
        const targets = new Map<string, EngineMember>();
        for (const allowed of tupleset.definition.allowed) {
          const target = this.member(allowed.type, r.computed);
          if (target !== undefined) targets.set(allowed.type, target);
        }
        return { kind: "arrow", tupleset, computed: r.computed, mode: r.mode, targets };
      }
    }
  }

  member(type: string, name: string): EngineMember | undefined {
    return this.#types.get(type)?.get(name);
  }

  membersOf(type: string): ReadonlyMap<string, EngineMember> | undefined {
    return this.#types.get(type);
  }

  get types(): ReadonlyMap<string, ReadonlyMap<string, EngineMember>> {
    return this.#types;
  }

  caveat(name: string): CompiledCaveat | undefined {
    return this.compiled.caveats.get(name);
  }
}
