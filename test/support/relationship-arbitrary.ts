/**
 * Valid relationships, every field shape included (usersets, wildcards, caveats with and
 * without context, expirations), for properties of anything that carries them.
 */
import fc from "fast-check";
import type { Relationship } from "../../src/core/relationship.js";

export const name = fc.stringMatching(/^[a-z][a-z0-9_]{1,6}[a-z0-9]$/);
export const typeName = fc.array(name, { minLength: 1, maxLength: 3 }).map((p) => p.join("/"));
export const id = fc.stringMatching(/^[A-Za-z0-9/_|\-=+@.:]{1,20}$/);
const jsonValue = fc.jsonValue({ maxDepth: 2 });
export const relationship: fc.Arbitrary<Relationship> = fc
  .record({
    resourceType: typeName,
    resourceId: id,
    relation: name,
    subjectType: typeName,
    subjectId: fc.oneof(id, fc.constant("*")),
    subjectRelation: fc.option(name, { nil: undefined }),
    caveat: fc.option(
      fc.record({
        name: typeName,
        context: fc.option(fc.dictionary(name, jsonValue, { maxKeys: 3 }), { nil: undefined }),
      }),
      { nil: undefined },
    ),
    expiration: fc.option(
      fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms)),
      { nil: undefined },
    ),
  })
  .map((r) => ({
    resource: { type: r.resourceType, id: r.resourceId },
    relation: r.relation,
    subject:
      r.subjectRelation === undefined || r.subjectId === "*"
        ? { type: r.subjectType, id: r.subjectId }
        : { type: r.subjectType, id: r.subjectId, relation: r.subjectRelation },
    ...(r.caveat !== undefined
      ? {
          caveat:
            r.caveat.context === undefined || Object.keys(r.caveat.context).length === 0
              ? { name: r.caveat.name }
              : { name: r.caveat.name, context: r.caveat.context },
        }
      : {}),
    ...(r.expiration !== undefined ? { expiration: r.expiration } : {}),
  }));
