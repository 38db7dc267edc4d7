/**
 * What replacing one schema by another changes, as DiffSchema reports it: definitions, their
 * relations and permissions, and caveats, each added, removed or changed. Relations compare by
 * their set of allowed subject types, permissions by their type annotation (as a set) and
 * canonical expression text, caveats by parameters and expression. Partials are compared by
 * what they splice into definitions (the compiled tree holds no partials).
 */

import type { SchemaDifference } from "../core/schema-difference.js";
import type { MemberNode } from "./ast.js";
import { formatCaveatType } from "./caveat-types.js";
import { formatExpr, formatTypeRef } from "./formatter.js";
import type { CompiledSchema } from "./types.js";

export type { SchemaDifference, SchemaDifferenceKind } from "../core/schema-difference.js";

/** Member texts by `definition#member`: `relation viewer: user | group#member`. */
function memberTexts(schema: CompiledSchema | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of schema?.ast.items ?? []) {
    if (item.kind !== "definition") continue;
    for (const member of item.members) out.set(`${item.name}#${member.name}`, memberText(member));
  }
  return out;
}

function memberText(m: MemberNode): string {
  switch (m.kind) {
    case "permission": {
      // Neither does the order of annotated types.
      const annotation =
        m.annotation === undefined
          ? ""
          : `: ${[...new Set(m.annotation.map((t) => t.type))].sort().join(" | ")}`;
      return `permission ${m.name}${annotation} = ${formatExpr(m.expr)}`;
    }
    case "relation": {
      // Order of the allowed types does not change meaning.
      const types = m.types.map(formatTypeRef).sort();
      return `relation ${m.name}: ${types.join(" | ")}`;
    }
    case "partialRef":
      return `...${m.name}`;
  }
}

function caveatText(schema: CompiledSchema, name: string): string {
  const caveat = schema.caveats.get(name)!;
  const params = [...caveat.params].map(([p, type]) => `${p} ${formatCaveatType(type)}`);
  return `caveat ${name}(${params.join(", ")}) { ${caveat.expression.trim()} }`;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The differences, definitions (each followed by its members) then caveats, in name order. */
export function diffSchemas(
  current: CompiledSchema | undefined,
  proposed: CompiledSchema,
): SchemaDifference[] {
  const diffs: SchemaDifference[] = [];
  const before = memberTexts(current);
  const after = memberTexts(proposed);
  const currentDefs = current?.definitions ?? new Map();
  const names = [...new Set([...currentDefs.keys(), ...proposed.definitions.keys()])].sort(byName);
  for (const def of names) {
    const old = currentDefs.get(def);
    const next = proposed.definitions.get(def);
    if (old === undefined) {
      diffs.push({
        kind: "DEFINITION_ADDED",
        target: def,
        description: `definition ${def} added`,
      });
    } else if (next === undefined) {
      diffs.push({
        kind: "DEFINITION_REMOVED",
        target: def,
        description: `definition ${def} removed`,
      });
    }
    const members = [
      ...new Set([...(old?.members.keys() ?? []), ...(next?.members.keys() ?? [])]),
    ].sort(byName);
    for (const member of members) {
      const target = `${def}#${member}`;
      const was = before.get(target);
      const is = after.get(target);
      if (was === undefined && is !== undefined) {
        diffs.push({ kind: "MEMBER_ADDED", target, description: `${is} added` });
      } else if (was !== undefined && is === undefined) {
        diffs.push({ kind: "MEMBER_REMOVED", target, description: `${was} removed` });
      } else if (was !== undefined && is !== undefined && was !== is) {
        diffs.push({ kind: "MEMBER_CHANGED", target, description: `${was} → ${is}` });
      }
    }
  }
  const currentCaveats = current?.caveats ?? new Map();
  const caveats = [...new Set([...currentCaveats.keys(), ...proposed.caveats.keys()])].sort(byName);
  for (const name of caveats) {
    const was =
      current !== undefined && currentCaveats.has(name) ? caveatText(current, name) : undefined;
    const is = proposed.caveats.has(name) ? caveatText(proposed, name) : undefined;
    if (was === undefined && is !== undefined) {
      diffs.push({ kind: "CAVEAT_ADDED", target: name, description: `${is} added` });
    } else if (was !== undefined && is === undefined) {
      diffs.push({ kind: "CAVEAT_REMOVED", target: name, description: `${was} removed` });
    } else if (was !== undefined && is !== undefined && was !== is) {
      diffs.push({ kind: "CAVEAT_CHANGED", target: name, description: `${was} → ${is}` });
    }
  }
  return diffs;
}
