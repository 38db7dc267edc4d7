/**
 * Expand: the userset tree of a permission on one object, one level of data deep as SpiceDB
 * gives it. Operators become union / intersection / exclusion nodes; a relation becomes a leaf
 * listing its direct subjects (usersets among them are named, not expanded); an arrow becomes a
 * union of the target's expansion on each object the tupleset points at.
 */
import { MaxDepthExceededError, TrellisError } from "../core/errors.js";
import type { ExpandedSubject, ExpandTree } from "../core/permission.js";
import type { ObjectRef } from "../core/relationship.js";
import type { EngineMember, EngineRewrite } from "./engine-schema.js";
import type { Snapshot } from "./evaluator.js";
import { isVisible } from "./tuple-index.js";

/** The tree Expand answers with (declared in core, for every face). */
export type ExpandNode = ExpandTree;

export function expand(
  snapshot: Snapshot,
  now: number,
  resource: ObjectRef,
  permission: string,
  maxDepth: number,
): ExpandNode {
  const member = snapshot.schema.member(resource.type, permission);
  if (snapshot.schema.membersOf(resource.type) === undefined) {
    throw new TrellisError("FAILED_PRECONDITION", `object definition '${resource.type}' not found`);
  }
  if (member === undefined) {
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `relation/permission '${permission}' not found under definition '${resource.type}'`,
    );
  }
  const { reader, revision } = snapshot;
  const onPath = new Set<string>();

  const expandMember = (m: EngineMember, id: string, depth: number): ExpandNode => {
    if (depth > maxDepth) throw new MaxDepthExceededError(maxDepth);
    const here = { type: m.type, id };
    const key = `${m.key}:${id}`;
    if (m.kind === "relation" || onPath.has(key)) {
      // A relation is a leaf; so is a member met again on its own path (a cycle in the data).
      if (m.kind !== "relation")
        return { kind: "leaf", resource: here, relation: m.name, subjects: [] };
      const subjects: ExpandedSubject[] = [];
      for (const v of reader.entry(m.type, m.name, id)?.all ?? []) {
        if (!isVisible(v, revision, now)) continue;
        subjects.push({
          subject: {
            type: v.subjectType,
            id: v.subjectId,
            ...(v.subjectRelation !== undefined ? { relation: v.subjectRelation } : {}),
          },
          ...(v.caveat !== undefined ? { caveat: v.caveat } : {}),
          ...(Number.isFinite(v.expiresAt) ? { expiration: new Date(v.expiresAt) } : {}),
        });
      }
      return { kind: "leaf", resource: here, relation: m.name, subjects };
    }
    onPath.add(key);
    try {
      return rewrite(m.rewrite, here, m.name, depth);
    } finally {
      onPath.delete(key);
    }
  };

  const rewrite = (
    r: EngineRewrite,
    at: ObjectRef,
    relation: string,
    depth: number,
  ): ExpandNode => {
    switch (r.kind) {
      case "computed":
        return expandMember(r.member, at.id, depth + 1);
      case "union":
      case "intersection":
        return {
          kind: r.kind,
          resource: at,
          relation,
          children: r.children.map((c) => rewrite(c, at, relation, depth)),
        };
      case "exclusion":
        return {
          kind: "exclusion",
          resource: at,
          relation,
          children: [
            rewrite(r.base, at, relation, depth),
            rewrite(r.subtract, at, relation, depth),
          ],
        };
      case "arrow": {
        const children: ExpandNode[] = [];
        for (const v of reader.entry(at.type, r.tupleset.name, at.id)?.all ?? []) {
          if (!isVisible(v, revision, now)) continue;
          const target = r.targets.get(v.subjectType);
          if (target !== undefined) children.push(expandMember(target, v.subjectId, depth + 1));
        }
        return {
          kind: r.mode === "all" ? "intersection" : "union",
          resource: at,
          relation,
          children,
        };
      }
      case "nil":
        return { kind: "leaf", resource: at, relation, subjects: [] };
      case "self":
        return { kind: "leaf", resource: at, relation, subjects: [{ subject: { ...at } }] };
    }
  };

  return expandMember(member, resource.id, 0);
}
