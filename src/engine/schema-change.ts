/**
 * What a schema change would orphan: the tuples the old schema allowed and the new one does
 * not, as store filters. The store refuses the schema write while any of them matches.
 */
import type { CompiledSchema } from "../schema/types.js";
import type { RelationshipFilter } from "../store/datastore.js";

/**
 * Filters for the tuples a change from `before` to `after` leaves without a meaning: removed
 * definitions, removed relations (or relations turned into permissions), and removed subject
 * types of a kept relation. Caveat and expiration variants are compared by subject type only:
 * removing `user with cav` while `user` stays is not detected here.
 */
export function orphanFilters(before: CompiledSchema, after: CompiledSchema): RelationshipFilter[] {
  const filters: RelationshipFilter[] = [];
  for (const [typeName, def] of before.definitions) {
    const next = after.definitions.get(typeName);
    if (next === undefined) {
      filters.push({ resourceType: typeName });
      continue;
    }
    for (const member of def.members.values()) {
      if (member.kind !== "relation") continue;
      const kept = next.members.get(member.name);
      if (kept === undefined || kept.kind !== "relation") {
        filters.push({ resourceType: typeName, relation: member.name });
        continue;
      }
      const allowedAfter = new Set(kept.allowed.map(subjectKey));
      const removed = new Set<string>();
      for (const allowed of member.allowed) {
        const key = subjectKey(allowed);
        if (allowedAfter.has(key) || removed.has(key)) continue;
        removed.add(key);
        filters.push({
          resourceType: typeName,
          relation: member.name,
          subjectType: allowed.type,
          ...(allowed.wildcard ? { subjectId: "*" } : {}),
          subjectRelation: allowed.relation ?? null,
        });
      }
    }
  }
  return filters;
}

function subjectKey(a: { type: string; relation?: string; wildcard: boolean }): string {
  return `${a.type}#${a.relation ?? "..."}${a.wildcard ? ":*" : ""}`;
}
