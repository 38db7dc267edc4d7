/**
 * Conversions between the client's vocabulary (core types, `trellis-api.ts`) and the wire
 * messages of `src/gen/`. Inputs are checked before they get here (`request-inputs.ts`); a
 * response the server should never send (an unspecified permissionship) is INTERNAL.
 */
import { TrellisError } from "../core/errors.js";
import { ELLIPSIS } from "../core/names.js";
import type { ObjectRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { Consistency, Zookie } from "../core/revision.js";
import * as pb from "../gen/trellis/v1/core.js";
import {
  AlgebraicSubjectSet_Operation,
  type CheckTrace as PbCheckTrace,
  type PermissionTree,
} from "../gen/trellis/v1/permission_service.js";
import {
  type Precondition as PbPrecondition,
  Precondition_Operation,
  type RelationshipUpdate,
  RelationshipUpdate_Operation,
} from "../gen/trellis/v1/relationship_service.js";
import type {
  CheckTrace,
  ExpandTree,
  MutationOp,
  PermissionAnswer,
  Permissionship,
  Precondition,
  RelationshipChange,
  RelationshipFilter,
} from "./trellis-api.js";

// ---- requests ---------------------------------------------------------------------------

export function objectRefToWire(ref: ObjectRef): pb.ObjectReference {
  return { objectType: ref.type, objectId: ref.id };
}

export function subjectRefToWire(ref: SubjectRef): pb.SubjectReference {
  return { object: objectRefToWire(ref), optionalRelation: ref.relation ?? "" };
}

export function relationshipToWire(rel: Relationship): pb.Relationship {
  return {
    resource: objectRefToWire(rel.resource),
    relation: rel.relation,
    subject: subjectRefToWire(rel.subject),
    optionalCaveat:
      rel.caveat === undefined
        ? undefined
        : { caveatName: rel.caveat.name, context: rel.caveat.context ?? {} },
    optionalExpiresAt: rel.expiration,
  };
}

const UPDATE_OPERATION: Readonly<Record<MutationOp, RelationshipUpdate_Operation>> = {
  CREATE: RelationshipUpdate_Operation.OPERATION_CREATE,
  TOUCH: RelationshipUpdate_Operation.OPERATION_TOUCH,
  DELETE: RelationshipUpdate_Operation.OPERATION_DELETE,
};

export function mutationToWire(m: {
  op: MutationOp;
  relationship: Relationship;
}): RelationshipUpdate {
  return { operation: UPDATE_OPERATION[m.op], relationship: relationshipToWire(m.relationship) };
}

/** Absent fields become the wire's empty strings ("any"); the filter was checked non-empty. */
export function filterToWire(filter: RelationshipFilter): pb.RelationshipFilter {
  const { subjectType, subjectId, subjectRelation } = filter;
  return {
    resourceType: filter.resourceType,
    optionalResourceId: filter.resourceId ?? "",
    optionalRelation: filter.relation ?? "",
    optionalSubjectFilter:
      subjectType === undefined
        ? undefined
        : {
            subjectType,
            optionalSubjectId: subjectId ?? "",
            optionalRelation:
              subjectRelation === undefined
                ? undefined
                : {
                    relation:
                      subjectRelation === null || subjectRelation === ELLIPSIS
                        ? ""
                        : subjectRelation,
                  },
          },
  };
}

export function preconditionToWire(p: Precondition): PbPrecondition {
  return {
    operation:
      p.op === "MUST_MATCH"
        ? Precondition_Operation.OPERATION_MUST_MATCH
        : Precondition_Operation.OPERATION_MUST_NOT_MATCH,
    filter: filterToWire(p.filter),
  };
}

/**
 * A consistency checked by `consistencyOf`; `undefined` leaves the server's default
 * (minimize_latency; fully consistent for schema reads).
 */
export function consistencyToWire(c: Consistency | undefined): pb.Consistency | undefined {
  if (c === undefined) return undefined;
  if (c === "minimize_latency") {
    return { requirement: { $case: "minimizeLatency", minimizeLatency: true } };
  }
  if (c === "fully_consistent") {
    return { requirement: { $case: "fullyConsistent", fullyConsistent: true } };
  }
  if ("atLeastAsFresh" in c) {
    return {
      requirement: { $case: "atLeastAsFresh", atLeastAsFresh: { token: c.atLeastAsFresh } },
    };
  }
  return {
    requirement: { $case: "atExactSnapshot", atExactSnapshot: { token: c.atExactSnapshot } },
  };
}

// ---- responses --------------------------------------------------------------------------

function malformedResponse(what: string): TrellisError {
  return new TrellisError("INTERNAL", `the server sent a malformed response: ${what}`);
}

/** The token of a zookie the response must carry. */
export function zookieFromWire(z: pb.Zookie | undefined, what: string): Zookie {
  if (z === undefined || z.token === "") throw malformedResponse(`${what} has no zookie`);
  return z.token as Zookie;
}

/** The commit time a Watch message must carry. */
export function committedAtFromWire(at: Date | undefined): Date {
  if (at === undefined) throw malformedResponse("Watch message has no committed_at");
  return at;
}

const PERMISSIONSHIP: Readonly<Partial<Record<pb.Permissionship, Permissionship>>> = {
  [pb.Permissionship.PERMISSIONSHIP_HAS_PERMISSION]: "ALLOWED",
  [pb.Permissionship.PERMISSIONSHIP_NO_PERMISSION]: "DENIED",
  [pb.Permissionship.PERMISSIONSHIP_CONDITIONAL_PERMISSION]: "CONDITIONAL",
};

export function permissionshipFromWire(p: pb.Permissionship): Permissionship {
  const name = PERMISSIONSHIP[p];
  if (name === undefined) throw malformedResponse(`unknown permissionship ${p}`);
  return name;
}

/** An answer; `missingContext` only on a CONDITIONAL one, as the engine gives it. */
export function answerFromWire(
  p: pb.Permissionship,
  info: pb.PartialCaveatInfo | undefined,
): PermissionAnswer {
  const permissionship = permissionshipFromWire(p);
  return permissionship === "CONDITIONAL"
    ? { permissionship, missingContext: info?.missingRequiredContext ?? [] }
    : { permissionship };
}

export function objectRefFromWire(ref: pb.ObjectReference | undefined): ObjectRef {
  if (ref === undefined) throw malformedResponse("an object reference is missing");
  return { type: ref.objectType, id: ref.objectId };
}

export function subjectRefFromWire(ref: pb.SubjectReference | undefined): SubjectRef {
  const object = objectRefFromWire(ref?.object);
  const relation = ref?.optionalRelation ?? "";
  return relation === "" || relation === ELLIPSIS ? object : { ...object, relation };
}

export function relationshipFromWire(rel: pb.Relationship | undefined): Relationship {
  if (rel === undefined) throw malformedResponse("a relationship is missing");
  const caveat = rel.optionalCaveat;
  const context = caveat?.context;
  return {
    resource: objectRefFromWire(rel.resource),
    relation: rel.relation,
    subject: subjectRefFromWire(rel.subject),
    ...(caveat !== undefined
      ? {
          caveat:
            context === undefined || Object.keys(context).length === 0
              ? { name: caveat.caveatName }
              : { name: caveat.caveatName, context },
        }
      : {}),
    ...(rel.optionalExpiresAt !== undefined ? { expiration: rel.optionalExpiresAt } : {}),
  };
}

export function changeFromWire(update: RelationshipUpdate): RelationshipChange {
  const op =
    update.operation === RelationshipUpdate_Operation.OPERATION_DELETE
      ? "DELETE"
      : update.operation === RelationshipUpdate_Operation.OPERATION_TOUCH ||
          update.operation === RelationshipUpdate_Operation.OPERATION_CREATE
        ? "TOUCH"
        : undefined;
  if (op === undefined) throw malformedResponse(`unknown change operation ${update.operation}`);
  return { op, relationship: relationshipFromWire(update.relationship) };
}

export function traceFromWire(t: PbCheckTrace): CheckTrace {
  return {
    resource: t.resource,
    relation: t.relation,
    kind: t.isPermission ? "permission" : "relation",
    result: permissionshipFromWire(t.result),
    ...(t.cached === "memo" || t.cached === "shared" ? { cached: t.cached } : {}),
    ...(t.cycle ? { cycle: true } : {}),
    children: t.children.map(traceFromWire),
  };
}

const OPERATION: Readonly<
  Partial<Record<AlgebraicSubjectSet_Operation, "union" | "intersection" | "exclusion">>
> = {
  [AlgebraicSubjectSet_Operation.OPERATION_UNION]: "union",
  [AlgebraicSubjectSet_Operation.OPERATION_INTERSECTION]: "intersection",
  [AlgebraicSubjectSet_Operation.OPERATION_EXCLUSION]: "exclusion",
};

export function expandTreeFromWire(node: PermissionTree | undefined): ExpandTree {
  if (node?.node === undefined) throw malformedResponse("an expand node is empty");
  const resource = objectRefFromWire(node.resource);
  if (node.node.$case === "leaf") {
    return {
      kind: "leaf",
      resource,
      relation: node.relation,
      subjects: node.node.leaf.relationships.map((r) => {
        const rel = relationshipFromWire(r);
        return {
          subject: rel.subject,
          ...(rel.caveat !== undefined ? { caveat: rel.caveat } : {}),
          ...(rel.expiration !== undefined ? { expiration: rel.expiration } : {}),
        };
      }),
    };
  }
  const kind = OPERATION[node.node.intermediate.operation];
  if (kind === undefined) {
    throw malformedResponse(`unknown expand operation ${node.node.intermediate.operation}`);
  }
  return {
    kind,
    resource,
    relation: node.relation,
    children: node.node.intermediate.children.map(expandTreeFromWire),
  };
}
