/**
 * SpiceDB's request messages as domain values. SpiceDB's `ObjectReference`, `SubjectReference`,
 * `RelationshipFilter`, `Cursor` and `PartialCaveatInfo` have the field names and numbers of
 * trellis.v1's, so they go through `../convert.ts` unchanged and get its validation and its
 * field-named INVALID_ARGUMENTs; what differs on the wire is adapted here first: caveat context
 * as a `google.protobuf.Struct`, expirations as `Timestamp`s, the consistency oneof, SpiceDB's
 * precondition numbers and `optional_resource_id_prefix`.
 */
import { v1 } from "@authzed/authzed-node";
import { invalidArgument, TrellisError } from "../../core/errors.js";
import { isValidObjectId } from "../../core/names.js";
import type { CaveatContext, Relationship } from "../../core/relationship.js";
import type { Consistency } from "../../core/revision.js";
import type * as pb from "../../gen/trellis/v1/core.js";
import type { RelationshipUpdate_Operation } from "../../gen/trellis/v1/relationship_service.js";
import type { Mutation, Precondition, RelationshipFilter } from "../../store/datastore.js";
import {
  consistencyFromRequest,
  contextFromRequest,
  filterFromRequest,
  mutationFromRequest,
  relationshipFromRequest,
} from "../../wire/trellis-v1.js";

/** A filter with SpiceDB's `optional_resource_id_prefix`, which the store filter lacks. */
export interface PrefixedFilter {
  readonly filter: RelationshipFilter;
  readonly resourceIdPrefix?: string;
}

/** A request's caveat context (a Struct) as JSON; `undefined` when absent or empty. */
export function contextFromAuthzed(
  struct: v1.PbStruct | undefined,
  field = "context",
): CaveatContext | undefined {
  if (struct === undefined) return undefined;
  let json: unknown;
  try {
    json = v1.PbStruct.toJson(struct);
  } catch (cause) {
    throw new TrellisError("INVALID_ARGUMENT", "the context is not valid JSON", { cause, field });
  }
  return contextFromRequest(json as Record<string, unknown>);
}

function timestampToDate(ts: { seconds: string; nanos: number }): Date {
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
}

/** SpiceDB's relationship in trellis.v1's shape (context as JSON, expiration as a Date). */
function asTrellisRelationship(
  rel: v1.Relationship | undefined,
  field: string,
): pb.Relationship | undefined {
  if (rel === undefined) return undefined;
  const caveat = rel.optionalCaveat;
  return {
    resource: rel.resource,
    relation: rel.relation,
    subject: rel.subject,
    optionalCaveat:
      caveat === undefined
        ? undefined
        : {
            caveatName: caveat.caveatName,
            context: contextFromAuthzed(caveat.context, `${field}.optional_caveat.context`),
          },
    optionalExpiresAt:
      rel.optionalExpiresAt === undefined ? undefined : timestampToDate(rel.optionalExpiresAt),
  };
}

export function relationshipFromAuthzed(
  rel: v1.Relationship | undefined,
  field: string,
  maxContextBytes: number,
): Relationship {
  return relationshipFromRequest(asTrellisRelationship(rel, field), field, maxContextBytes);
}

/** SpiceDB's update operations have trellis.v1's numbers: CREATE 1, TOUCH 2, DELETE 3. */
export function mutationFromAuthzed(
  update: v1.RelationshipUpdate,
  field: string,
  maxContextBytes: number,
): Mutation {
  return mutationFromRequest(
    {
      operation: update.operation as number as RelationshipUpdate_Operation,
      relationship: asTrellisRelationship(update.relationship, `${field}.relationship`),
    },
    field,
    maxContextBytes,
  );
}

/**
 * A filter; SpiceDB lets `resource_type` be empty when another field is set, Trellis requires
 * it (INVALID_ARGUMENT). `optional_resource_id` and `optional_resource_id_prefix` exclude each
 * other, as in SpiceDB.
 */
export function filterFromAuthzed(
  filter: v1.RelationshipFilter | undefined,
  field: string,
): PrefixedFilter {
  const prefix = filter?.optionalResourceIdPrefix ?? "";
  if (prefix === "") return { filter: filterFromRequest(filter, field) };
  if (filter!.optionalResourceId !== "") {
    throw invalidArgument(
      "optional_resource_id and optional_resource_id_prefix cannot both be set",
      `${field}.optional_resource_id_prefix`,
    );
  }
  if (!isValidObjectId(prefix)) {
    throw invalidArgument(
      "the prefix must be 1-1024 characters of [A-Za-z0-9/_|-=+@.:]",
      `${field}.optional_resource_id_prefix`,
    );
  }
  return { filter: filterFromRequest(filter, field), resourceIdPrefix: prefix };
}

/** A filter where the store must do the matching: no id prefix (UNIMPLEMENTED otherwise). */
export function storeFilterFromAuthzed(
  filter: v1.RelationshipFilter | undefined,
  field: string,
): RelationshipFilter {
  const parsed = filterFromAuthzed(filter, field);
  if (parsed.resourceIdPrefix !== undefined) {
    throw new TrellisError(
      "UNIMPLEMENTED",
      "optional_resource_id_prefix is supported in reads, exports and watches, not in deletes or preconditions",
      { field: `${field}.optional_resource_id_prefix` },
    );
  }
  return parsed.filter;
}

const PRECONDITION_OPS: Readonly<Partial<Record<v1.Precondition_Operation, Precondition["op"]>>> = {
  [v1.Precondition_Operation.MUST_MATCH]: "MUST_MATCH",
  [v1.Precondition_Operation.MUST_NOT_MATCH]: "MUST_NOT_MATCH",
};

export function preconditionFromAuthzed(p: v1.Precondition, field: string): Precondition {
  const op = PRECONDITION_OPS[p.operation];
  if (op === undefined) {
    throw invalidArgument(
      "operation must be OPERATION_MUST_MATCH or OPERATION_MUST_NOT_MATCH",
      `${field}.operation`,
    );
  }
  return { op, filter: storeFilterFromAuthzed(p.filter, `${field}.filter`) };
}

/**
 * The request's consistency; `minimize_latency` when absent, as SpiceDB defaults. The oneof is
 * trellis.v1's, spelled by protobuf-ts (`oneofKind`) rather than ts-proto (`$case`).
 */
export function consistencyFromAuthzed(c: v1.Consistency | undefined): Consistency {
  const requirement = c?.requirement;
  if (requirement === undefined || requirement.oneofKind === undefined) return "minimize_latency";
  const { oneofKind, ...value } = requirement;
  return consistencyFromRequest({
    requirement: { $case: oneofKind, ...value } as pb.Consistency["requirement"],
  });
}
