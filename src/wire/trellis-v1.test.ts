import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { propertyParameters } from "../../test/support/property-runs.js";
import { id, name, relationship, typeName } from "../../test/support/relationship-arbitrary.js";
import { TrellisError } from "../core/errors.js";
import type { CheckTrace, ExpandTree, Permissionship } from "../core/permission.js";
import type { Relationship } from "../core/relationship.js";
import type { Precondition, RelationshipFilter } from "../core/relationship-filter.js";
import type { Consistency } from "../core/revision.js";
import * as pb from "../gen/trellis/v1/core.js";
import {
  CheckTrace as PbCheckTrace,
  PermissionTree,
} from "../gen/trellis/v1/permission_service.js";
import {
  Precondition as PbPrecondition,
  RelationshipUpdate,
} from "../gen/trellis/v1/relationship_service.js";
import {
  answerFromResponse,
  changeFromResponse,
  changeToWire,
  consistencyFromRequest,
  consistencyToWire,
  expandTreeFromResponse,
  expandTreeToWire,
  filterFromRequest,
  filterToWire,
  mutationFromRequest,
  mutationToWire,
  partialCaveatInfoToWire,
  permissionshipFromResponse,
  permissionshipToWire,
  preconditionFromRequest,
  preconditionToWire,
  relationshipFromRequest,
  relationshipFromResponse,
  relationshipToWire,
  traceFromResponse,
  traceToWire,
  zookieFromResponse,
} from "./trellis-v1.js";

const MAX_CONTEXT = 64 * 1024;

/** Through protobuf's bytes, as the other end reads them. */
function overTheWire<T>(
  fns: { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): T },
  m: T,
): T {
  return fns.decode(fns.encode(m).finish());
}

const filter: fc.Arbitrary<RelationshipFilter> = fc
  .record(
    {
      resourceType: typeName,
      resourceId: id,
      relation: name,
      subject: fc.record(
        {
          subjectType: typeName,
          subjectId: fc.oneof(id, fc.constant("*")),
          subjectRelation: fc.oneof(name, fc.constant(null)),
        },
        { requiredKeys: ["subjectType"] },
      ),
    },
    { requiredKeys: ["resourceType"] },
  )
  .map(({ subject, ...rest }) => ({ ...rest, ...subject }));

const permissionship = fc.constantFrom<Permissionship>("ALLOWED", "DENIED", "CONDITIONAL");

/** A trace `depth` levels deep at most. */
function traceOf(depth: number): fc.Arbitrary<CheckTrace> {
  return fc.record(
    {
      resource: fc.tuple(typeName, id).map(([t, i]) => `${t}:${i}`),
      relation: name,
      kind: fc.constantFrom("relation" as const, "permission" as const),
      result: permissionship,
      cached: fc.constantFrom("memo" as const, "shared" as const),
      cycle: fc.constant(true as const),
      children: depth === 0 ? fc.constant([]) : fc.array(traceOf(depth - 1), { maxLength: 3 }),
    },
    { requiredKeys: ["resource", "relation", "kind", "result", "children"] },
  );
}

const leaf: fc.Arbitrary<ExpandTree> = fc
  .tuple(relationship, fc.array(relationship, { maxLength: 3 }))
  .map(([r, subjects]) => ({
    kind: "leaf",
    resource: r.resource,
    relation: r.relation,
    subjects: subjects.map(({ subject, caveat, expiration }) => ({
      subject,
      ...(caveat !== undefined ? { caveat } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
    })),
  }));

/** An expand tree `depth` operator levels deep at most. */
function expandTreeOf(depth: number): fc.Arbitrary<ExpandTree> {
  if (depth === 0) return leaf;
  return fc.oneof(
    leaf,
    fc.record({
      kind: fc.constantFrom("union" as const, "intersection" as const, "exclusion" as const),
      resource: relationship.map((r) => r.resource),
      relation: name,
      children: fc.array(expandTreeOf(depth - 1), { maxLength: 3 }),
    }),
  );
}

describe("trellis.v1 conversions", () => {
  test("a relationship the client sends is the one the server reads, and back", () => {
    fc.assert(
      fc.property(relationship, (rel) => {
        const sent = overTheWire(pb.Relationship, relationshipToWire(rel));
        expect(relationshipFromRequest(sent, "relationship", MAX_CONTEXT)).toEqual(rel);
        expect(relationshipFromResponse(sent)).toEqual(rel);
      }),
      propertyParameters(300),
    );
  });

  test("mutations, filters and preconditions survive the trip", () => {
    fc.assert(
      fc.property(
        relationship,
        fc.constantFrom("CREATE" as const, "TOUCH" as const, "DELETE" as const),
        filter,
        fc.constantFrom("MUST_MATCH" as const, "MUST_NOT_MATCH" as const),
        (rel, op, f, pop) => {
          const update = overTheWire(RelationshipUpdate, mutationToWire({ op, relationship: rel }));
          expect(mutationFromRequest(update, "updates[0]", MAX_CONTEXT)).toEqual({
            op,
            relationship: rel,
          });
          expect(
            filterFromRequest(overTheWire(pb.RelationshipFilter, filterToWire(f)), "f"),
          ).toEqual(f);
          const p: Precondition = { op: pop, filter: f };
          expect(
            preconditionFromRequest(overTheWire(PbPrecondition, preconditionToWire(p)), "p"),
          ).toEqual(p);
        },
      ),
      propertyParameters(300),
    );
  });

  test("a filter's `...` subject relation reads as the object itself", () => {
    const f = filterToWire({ resourceType: "doc", subjectType: "user", subjectRelation: "..." });
    expect(filterFromRequest(f, "f")).toEqual({
      resourceType: "doc",
      subjectType: "user",
      subjectRelation: null,
    });
  });

  test.each<Consistency>([
    "minimize_latency",
    "fully_consistent",
    { atLeastAsFresh: "z1" },
    { atExactSnapshot: "z2" },
  ])("consistency %j survives the trip", (c) => {
    expect(consistencyFromRequest(overTheWire(pb.Consistency, consistencyToWire(c) ?? {}))).toEqual(
      c,
    );
  });

  test("no consistency is the server's fallback", () => {
    expect(consistencyFromRequest(consistencyToWire(undefined))).toBe("minimize_latency");
    expect(consistencyFromRequest(undefined, "fully_consistent")).toBe("fully_consistent");
  });

  test("answers, traces, expand trees and watch changes read back as the server wrote them", () => {
    fc.assert(
      fc.property(permissionship, traceOf(3), expandTreeOf(3), relationship, (p, t, tree, rel) => {
        const missing = p === "CONDITIONAL" ? ["ip"] : undefined;
        expect(
          answerFromResponse(permissionshipToWire(p), partialCaveatInfoToWire(missing)),
        ).toEqual(
          missing === undefined
            ? { permissionship: p }
            : { permissionship: p, missingContext: missing },
        );
        expect(traceFromResponse(overTheWire(PbCheckTrace, traceToWire(t)))).toEqual(t);
        expect(expandTreeFromResponse(overTheWire(PermissionTree, expandTreeToWire(tree)))).toEqual(
          tree,
        );
        for (const op of ["TOUCH", "DELETE"] as const) {
          const change = { op, relationship: rel };
          expect(changeFromResponse(overTheWire(RelationshipUpdate, changeToWire(change)))).toEqual(
            change,
          );
        }
      }),
      propertyParameters(200),
    );
  });

  test("a bad request names the field as the proto spells it", () => {
    const rel: Relationship = {
      resource: { type: "doc", id: "1" },
      relation: "viewer",
      subject: { type: "user", id: "a b" },
    };
    const err = (() => {
      try {
        mutationFromRequest(
          mutationToWire({ op: "TOUCH", relationship: rel }),
          "updates[2]",
          MAX_CONTEXT,
        );
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TrellisError);
    expect(err).toMatchObject({
      code: "INVALID_ARGUMENT",
      field: "updates[2].relationship.subject.object.object_id",
    });
  });

  test("a response the server should never send is INTERNAL", () => {
    expect(() => permissionshipFromResponse(pb.Permissionship.PERMISSIONSHIP_UNSPECIFIED)).toThrow(
      expect.objectContaining({ code: "INTERNAL" }),
    );
    expect(() => zookieFromResponse(undefined, "CheckPermission")).toThrow(
      /CheckPermission has no zookie/,
    );
    expect(() =>
      expandTreeFromResponse({ relation: "view", resource: undefined, node: undefined }),
    ).toThrow(expect.objectContaining({ code: "INTERNAL" }));
  });
});
