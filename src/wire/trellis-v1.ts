/**
 * The trellis.v1 wire messages (`src/gen/trellis/v1/`) and core's vocabulary, both ways, for
 * both ends: the server (`src/api/`) and the client (`src/sdk/`) convert with the same code, so
 * what one sends is what the other reads.
 *
 * Three kinds of function:
 * - `…ToWire` encodes core values; either end uses it.
 * - `…FromRequest` decodes what a caller sent, with the validation every request gets on the
 *   way in: required fields, names, ids and sizes, each failure INVALID_ARGUMENT naming the
 *   field as the proto spells it (`updates[2].relationship.subject.object.object_id`). The
 *   rules themselves are core's; this module only renames the fields.
 * - `…FromResponse` decodes what the server answered; a message the server should never send
 *   (an unspecified permissionship, a missing zookie) is INTERNAL.
 */
import { invalidArgument, type SchemaDiagnostic, TrellisError } from "../core/errors.js";
import { checkMemberName, checkTypeName, ELLIPSIS, isValidObjectId } from "../core/names.js";
import type {
  CheckTrace as DomainCheckTrace,
  ExpandTree,
  PermissionAnswer,
  Permissionship,
} from "../core/permission.js";
import { quoteInput } from "../core/quote-input.js";
import {
  type CaveatContext,
  type ObjectRef,
  type Relationship,
  type SubjectRef,
  validateObjectRef,
  validateRelationship,
  validateSubjectRef,
} from "../core/relationship.js";
import type {
  Mutation,
  MutationOp,
  Precondition,
  RelationshipFilter,
} from "../core/relationship-filter.js";
import type { Consistency, Zookie } from "../core/revision.js";
import type { SchemaDifference, SchemaDifferenceKind } from "../core/schema-difference.js";
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
import {
  type SchemaDiff,
  SchemaDiff_Kind,
  type SchemaError,
} from "../gen/trellis/v1/schema_service.js";

/** A relationship written (created or replaced: TOUCH) or deleted, as Watch streams it. */
export interface WireChange {
  readonly op: "TOUCH" | "DELETE";
  readonly relationship: Relationship;
}

// ---- field names ------------------------------------------------------------------------

/** Core's field suffixes (after the prefix it was given) and their proto spellings. */
const OBJECT_FIELDS: Readonly<Record<string, string>> = { type: "object_type", id: "object_id" };
const SUBJECT_FIELDS: Readonly<Record<string, string>> = {
  type: "object.object_type",
  id: "object.object_id",
  relation: "optional_relation",
};
const RELATIONSHIP_FIELDS: Readonly<Record<string, string>> = {
  "resource.type": "resource.object_type",
  "resource.id": "resource.object_id",
  relation: "relation",
  "subject.type": "subject.object.object_type",
  "subject.id": "subject.object.object_id",
  "subject.relation": "subject.optional_relation",
  "caveat.name": "optional_caveat.caveat_name",
  "caveat.context": "optional_caveat.context",
  expiration: "optional_expires_at",
};

const ROOT = "$";

/** Runs a core validator under the prefix `$` and re-throws its error under proto names. */
function renamed(field: string, names: Readonly<Record<string, string>>, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof TrellisError && err.field?.startsWith(`${ROOT}.`)) {
      const suffix = err.field.slice(ROOT.length + 1);
      throw new TrellisError(err.code, err.message, {
        field: `${field}.${names[suffix] ?? suffix}`,
        cause: err.cause,
      });
    }
    throw err;
  }
}

/**
 * Re-spells the field an engine or store error names inside a list of relationships
 * (`mutations[3].relationship.subject.type`, `relationships[0].resource.id`) as the request's
 * proto path (`updates[3].relationship.subject.object.object_type`); other errors pass through.
 */
export function respellRelationshipField(err: unknown, from: string, to: string): unknown {
  if (!(err instanceof TrellisError) || err.field === undefined || !err.field.startsWith(from)) {
    return err;
  }
  const m = /^(\[\d+\](?:\.relationship)?)(?:\.(.+))?$/.exec(err.field.slice(from.length));
  if (m === null) return err;
  const rest = m[2] === undefined ? "" : `.${RELATIONSHIP_FIELDS[m[2]] ?? m[2]}`;
  const renamed = new TrellisError(err.code, err.message, {
    field: `${to}${m[1]}${rest}`,
    cause: err.cause,
  });
  return renamed;
}

/** A table's inverse, for reading back what the table wrote. */
function inverse<K extends string, V>(table: Readonly<Record<K, V>>): ReadonlyMap<V, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as V, k as K]));
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) throw invalidArgument(`${field} is required`, field);
  return value;
}

// ---- names ------------------------------------------------------------------------------

/** A relation or permission name; the empty string is a missing field. */
export function memberName(name: string, field: string): string {
  if (name === "") throw invalidArgument(`${field} is required`, field);
  return checkMemberName(name, field);
}

/** An object type name (`document`, `acme/document`); the empty string is a missing field. */
export function typeName(name: string, field: string): string {
  if (name === "") throw invalidArgument(`${field} is required`, field);
  return checkTypeName(name, field);
}

// ---- objects, subjects, relationships -----------------------------------------------------

export function objectRefFromRequest(
  ref: pb.ObjectReference | undefined,
  field: string,
): ObjectRef {
  const r = required(ref, field);
  const out: ObjectRef = { type: r.objectType, id: r.objectId };
  renamed(field, OBJECT_FIELDS, () => validateObjectRef(out, ROOT));
  return out;
}

export function objectRefToWire(ref: ObjectRef): pb.ObjectReference {
  return { objectType: ref.type, objectId: ref.id };
}

/** `optional_relation` empty or `...` is the object itself. */
export function subjectRefFromRequest(
  ref: pb.SubjectReference | undefined,
  field: string,
): SubjectRef {
  const r = required(ref, field);
  const object = required(r.object, `${field}.object`);
  const relation = r.optionalRelation;
  const out: SubjectRef =
    relation === "" || relation === ELLIPSIS
      ? { type: object.objectType, id: object.objectId }
      : { type: object.objectType, id: object.objectId, relation };
  renamed(field, SUBJECT_FIELDS, () => validateSubjectRef(out, ROOT));
  return out;
}

export function subjectRefToWire(ref: SubjectRef): pb.SubjectReference {
  return {
    object: { objectType: ref.type, objectId: ref.id },
    optionalRelation: ref.relation ?? "",
  };
}

/** A request's caveat context: a JSON object, or `undefined` when absent or empty. */
export function contextFromRequest(
  struct: { [key: string]: unknown } | undefined,
): CaveatContext | undefined {
  if (struct === undefined || struct === null) return undefined;
  return Object.keys(struct).length === 0 ? undefined : struct;
}

export function relationshipFromRequest(
  rel: pb.Relationship | undefined,
  field: string,
  maxContextBytes: number,
): Relationship {
  const r = required(rel, field);
  const resource = required(r.resource, `${field}.resource`);
  const subject = required(r.subject, `${field}.subject`);
  const subjectObject = required(subject.object, `${field}.subject.object`);
  const subjectRelation = subject.optionalRelation;
  let caveat: Relationship["caveat"];
  if (r.optionalCaveat !== undefined) {
    if (r.optionalCaveat.caveatName === "") {
      throw invalidArgument("a caveat needs a name", `${field}.optional_caveat.caveat_name`);
    }
    const context = contextFromRequest(r.optionalCaveat.context);
    if (context !== undefined && JSON.stringify(context).length > maxContextBytes) {
      throw invalidArgument(
        `caveat context exceeds ${maxContextBytes} bytes`,
        `${field}.optional_caveat.context`,
      );
    }
    caveat =
      context === undefined
        ? { name: r.optionalCaveat.caveatName }
        : { name: r.optionalCaveat.caveatName, context };
  }
  const out: Relationship = {
    resource: { type: resource.objectType, id: resource.objectId },
    relation: r.relation,
    subject:
      subjectRelation === "" || subjectRelation === ELLIPSIS
        ? { type: subjectObject.objectType, id: subjectObject.objectId }
        : { type: subjectObject.objectType, id: subjectObject.objectId, relation: subjectRelation },
    ...(caveat !== undefined ? { caveat } : {}),
    ...(r.optionalExpiresAt !== undefined ? { expiration: r.optionalExpiresAt } : {}),
  };
  if (out.relation === "")
    throw invalidArgument(`${field}.relation is required`, `${field}.relation`);
  renamed(field, RELATIONSHIP_FIELDS, () => validateRelationship(out, ROOT));
  return out;
}

export function relationshipToWire(rel: Relationship): pb.Relationship {
  return {
    resource: objectRefToWire(rel.resource),
    relation: rel.relation,
    subject: subjectRefToWire(rel.subject),
    optionalCaveat:
      rel.caveat === undefined
        ? undefined
        : {
            caveatName: rel.caveat.name,
            // Absent when the tuple has none: both ends read an absent and an empty context alike.
            context: rel.caveat.context as { [key: string]: unknown } | undefined,
          },
    optionalExpiresAt: rel.expiration,
  };
}

// ---- writes -----------------------------------------------------------------------------

const UPDATE_OPERATION: Readonly<Record<MutationOp, RelationshipUpdate_Operation>> = {
  CREATE: RelationshipUpdate_Operation.OPERATION_CREATE,
  TOUCH: RelationshipUpdate_Operation.OPERATION_TOUCH,
  DELETE: RelationshipUpdate_Operation.OPERATION_DELETE,
};

const MUTATION_OPS = inverse(UPDATE_OPERATION);

export function mutationFromRequest(
  update: RelationshipUpdate,
  field: string,
  maxContextBytes: number,
): Mutation {
  const op = MUTATION_OPS.get(update.operation);
  if (op === undefined) {
    throw invalidArgument(
      "operation must be OPERATION_CREATE, OPERATION_TOUCH or OPERATION_DELETE",
      `${field}.operation`,
    );
  }
  return {
    op,
    relationship: relationshipFromRequest(
      update.relationship,
      `${field}.relationship`,
      maxContextBytes,
    ),
  };
}

/** A changelog entry as a Watch update: a written tuple is a TOUCH, a removed one a DELETE. */
export function changeToWire(change: WireChange): RelationshipUpdate {
  return {
    operation:
      change.op === "TOUCH"
        ? RelationshipUpdate_Operation.OPERATION_TOUCH
        : RelationshipUpdate_Operation.OPERATION_DELETE,
    relationship: relationshipToWire(change.relationship),
  };
}

export function filterFromRequest(
  filter: pb.RelationshipFilter | undefined,
  field: string,
): RelationshipFilter {
  const f = required(filter, field);
  const out: {
    resourceType: string;
    resourceId?: string;
    relation?: string;
    subjectType?: string;
    subjectId?: string;
    subjectRelation?: string | null;
  } = { resourceType: typeName(f.resourceType, `${field}.resource_type`) };
  if (f.optionalResourceId !== "") {
    if (!isValidObjectId(f.optionalResourceId)) {
      throw invalidArgument(
        `invalid object id ${quoteInput(f.optionalResourceId)}: expected 1-1024 characters of [A-Za-z0-9/_|-=+@.:]`,
        `${field}.optional_resource_id`,
      );
    }
    out.resourceId = f.optionalResourceId;
  }
  if (f.optionalRelation !== "") {
    out.relation = memberName(f.optionalRelation, `${field}.optional_relation`);
  }
  const subject = f.optionalSubjectFilter;
  if (subject !== undefined) {
    const sf = `${field}.optional_subject_filter`;
    out.subjectType = typeName(subject.subjectType, `${sf}.subject_type`);
    if (subject.optionalSubjectId !== "") {
      renamed(sf, { id: "optional_subject_id" }, () =>
        validateSubjectRef({ type: subject.subjectType, id: subject.optionalSubjectId }, ROOT),
      );
      out.subjectId = subject.optionalSubjectId;
    }
    if (subject.optionalRelation !== undefined) {
      const relation = subject.optionalRelation.relation;
      out.subjectRelation =
        relation === "" || relation === ELLIPSIS
          ? null
          : memberName(relation, `${sf}.optional_relation.relation`);
    }
  }
  return out;
}

export function preconditionFromRequest(p: PbPrecondition, field: string): Precondition {
  const op =
    p.operation === Precondition_Operation.OPERATION_MUST_MATCH
      ? "MUST_MATCH"
      : p.operation === Precondition_Operation.OPERATION_MUST_NOT_MATCH
        ? "MUST_NOT_MATCH"
        : undefined;
  if (op === undefined) {
    throw invalidArgument(
      "operation must be OPERATION_MUST_MATCH or OPERATION_MUST_NOT_MATCH",
      `${field}.operation`,
    );
  }
  return { op, filter: filterFromRequest(p.filter, `${field}.filter`) };
}

export function mutationToWire(m: Mutation): RelationshipUpdate {
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

// ---- consistency, zookies, cursors ------------------------------------------------------

/** The request's consistency; `fallback` when the message or its requirement is absent. */
export function consistencyFromRequest(
  c: pb.Consistency | undefined,
  fallback: Consistency = "minimize_latency",
): Consistency {
  const requirement = c?.requirement;
  if (requirement === undefined) return fallback;
  switch (requirement.$case) {
    case "minimizeLatency":
      return "minimize_latency";
    case "fullyConsistent":
      return "fully_consistent";
    case "atLeastAsFresh":
      return { atLeastAsFresh: zookieFromRequest(requirement.atLeastAsFresh, "at_least_as_fresh") };
    case "atExactSnapshot":
      return {
        atExactSnapshot: zookieFromRequest(requirement.atExactSnapshot, "at_exact_snapshot"),
      };
  }
}

function zookieFromRequest(z: pb.Zookie | undefined, name: string): string {
  const token = z?.token ?? "";
  if (token === "") {
    throw invalidArgument("the zookie token is empty", `consistency.${name}.token`);
  }
  return token;
}

export function zookieToWire(zookie: Zookie): pb.Zookie {
  return { token: zookie };
}

/** A cursor token, or `undefined` when absent or empty. */
export function cursorFromRequest(cursor: pb.Cursor | undefined): string | undefined {
  return cursor === undefined || cursor.token === "" ? undefined : cursor.token;
}

// ---- answers ----------------------------------------------------------------------------

const PERMISSIONSHIP: Readonly<Record<Permissionship, pb.Permissionship>> = {
  ALLOWED: pb.Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
  DENIED: pb.Permissionship.PERMISSIONSHIP_NO_PERMISSION,
  CONDITIONAL: pb.Permissionship.PERMISSIONSHIP_CONDITIONAL_PERMISSION,
};

export function permissionshipToWire(p: Permissionship): pb.Permissionship {
  return PERMISSIONSHIP[p];
}

/** The caveat parameters a conditional answer needs; absent for a decided one. */
export function partialCaveatInfoToWire(
  missing: readonly string[] | undefined,
): pb.PartialCaveatInfo | undefined {
  return missing === undefined ? undefined : { missingRequiredContext: [...missing] };
}

/** The sub-problems a check visited, as `CheckTrace`. */
export function traceToWire(node: DomainCheckTrace): PbCheckTrace {
  return {
    resource: node.resource,
    relation: node.relation,
    isPermission: node.kind === "permission",
    result: permissionshipToWire(node.result),
    cached: node.cached ?? "",
    cycle: node.cycle === true,
    children: node.children.map(traceToWire),
  };
}

const OPERATION: Readonly<
  Record<"union" | "intersection" | "exclusion", AlgebraicSubjectSet_Operation>
> = {
  union: AlgebraicSubjectSet_Operation.OPERATION_UNION,
  intersection: AlgebraicSubjectSet_Operation.OPERATION_INTERSECTION,
  exclusion: AlgebraicSubjectSet_Operation.OPERATION_EXCLUSION,
};

/** An Expand tree; a leaf lists its subjects as the relationships that grant them. */
export function expandTreeToWire(node: ExpandTree): PermissionTree {
  const resource = objectRefToWire(node.resource);
  if (node.kind === "leaf") {
    return {
      resource,
      relation: node.relation,
      node: {
        $case: "leaf",
        leaf: {
          relationships: node.subjects.map((s) =>
            relationshipToWire({
              resource: node.resource,
              relation: node.relation,
              subject: s.subject,
              ...(s.caveat !== undefined ? { caveat: s.caveat } : {}),
              ...(s.expiration !== undefined ? { expiration: s.expiration } : {}),
            }),
          ),
        },
      },
    };
  }
  return {
    resource,
    relation: node.relation,
    node: {
      $case: "intermediate",
      intermediate: {
        operation: OPERATION[node.kind],
        children: node.children.map(expandTreeToWire),
      },
    },
  };
}

// ---- schemas ----------------------------------------------------------------------------

export function schemaErrorToWire(d: SchemaDiagnostic): SchemaError {
  return { message: d.message, line: d.position.line, column: d.position.column };
}

const DIFF_KIND: Readonly<Record<SchemaDifferenceKind, SchemaDiff_Kind>> = {
  DEFINITION_ADDED: SchemaDiff_Kind.KIND_DEFINITION_ADDED,
  DEFINITION_REMOVED: SchemaDiff_Kind.KIND_DEFINITION_REMOVED,
  MEMBER_ADDED: SchemaDiff_Kind.KIND_MEMBER_ADDED,
  MEMBER_REMOVED: SchemaDiff_Kind.KIND_MEMBER_REMOVED,
  MEMBER_CHANGED: SchemaDiff_Kind.KIND_MEMBER_CHANGED,
  CAVEAT_ADDED: SchemaDiff_Kind.KIND_CAVEAT_ADDED,
  CAVEAT_REMOVED: SchemaDiff_Kind.KIND_CAVEAT_REMOVED,
  CAVEAT_CHANGED: SchemaDiff_Kind.KIND_CAVEAT_CHANGED,
};

export function schemaDiffToWire(d: SchemaDifference): SchemaDiff {
  return { kind: DIFF_KIND[d.kind], target: d.target, description: d.description };
}

// ---- responses --------------------------------------------------------------------------

function malformedResponse(what: string): TrellisError {
  return new TrellisError("INTERNAL", `the server sent a malformed response: ${what}`);
}

/** The token of a zookie the response must carry. */
export function zookieFromResponse(z: pb.Zookie | undefined, what: string): Zookie {
  if (z === undefined || z.token === "") throw malformedResponse(`${what} has no zookie`);
  return z.token as Zookie;
}

/** The commit time a Watch message must carry. */
export function committedAtFromResponse(at: Date | undefined): Date {
  if (at === undefined) throw malformedResponse("Watch message has no committed_at");
  return at;
}

const PERMISSIONSHIP_FROM_WIRE = inverse(PERMISSIONSHIP);

export function permissionshipFromResponse(p: pb.Permissionship): Permissionship {
  const name = PERMISSIONSHIP_FROM_WIRE.get(p);
  if (name === undefined) throw malformedResponse(`unknown permissionship ${p}`);
  return name;
}

/** An answer; `missingContext` only on a CONDITIONAL one, as the engine gives it. */
export function answerFromResponse(
  p: pb.Permissionship,
  info: pb.PartialCaveatInfo | undefined,
): PermissionAnswer {
  const permissionship = permissionshipFromResponse(p);
  return permissionship === "CONDITIONAL"
    ? { permissionship, missingContext: info?.missingRequiredContext ?? [] }
    : { permissionship };
}

export function objectRefFromResponse(ref: pb.ObjectReference | undefined): ObjectRef {
  if (ref === undefined) throw malformedResponse("an object reference is missing");
  return { type: ref.objectType, id: ref.objectId };
}

export function subjectRefFromResponse(ref: pb.SubjectReference | undefined): SubjectRef {
  const object = objectRefFromResponse(ref?.object);
  const relation = ref?.optionalRelation ?? "";
  return relation === "" || relation === ELLIPSIS ? object : { ...object, relation };
}

export function relationshipFromResponse(rel: pb.Relationship | undefined): Relationship {
  if (rel === undefined) throw malformedResponse("a relationship is missing");
  const caveat = rel.optionalCaveat;
  const context = caveat?.context;
  return {
    resource: objectRefFromResponse(rel.resource),
    relation: rel.relation,
    subject: subjectRefFromResponse(rel.subject),
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

export function changeFromResponse(update: RelationshipUpdate): WireChange {
  const op =
    update.operation === RelationshipUpdate_Operation.OPERATION_DELETE
      ? "DELETE"
      : update.operation === RelationshipUpdate_Operation.OPERATION_TOUCH ||
          update.operation === RelationshipUpdate_Operation.OPERATION_CREATE
        ? "TOUCH"
        : undefined;
  if (op === undefined) throw malformedResponse(`unknown change operation ${update.operation}`);
  return { op, relationship: relationshipFromResponse(update.relationship) };
}

export function traceFromResponse(t: PbCheckTrace): DomainCheckTrace {
  return {
    resource: t.resource,
    relation: t.relation,
    kind: t.isPermission ? "permission" : "relation",
    result: permissionshipFromResponse(t.result),
    ...(t.cached === "memo" || t.cached === "shared" ? { cached: t.cached } : {}),
    ...(t.cycle ? { cycle: true } : {}),
    children: t.children.map(traceFromResponse),
  };
}

const OPERATION_FROM_WIRE = inverse(OPERATION);

export function expandTreeFromResponse(node: PermissionTree | undefined): ExpandTree {
  if (node?.node === undefined) throw malformedResponse("an expand node is empty");
  const resource = objectRefFromResponse(node.resource);
  if (node.node.$case === "leaf") {
    return {
      kind: "leaf",
      resource,
      relation: node.relation,
      subjects: node.node.leaf.relationships.map((r) => {
        const rel = relationshipFromResponse(r);
        return {
          subject: rel.subject,
          ...(rel.caveat !== undefined ? { caveat: rel.caveat } : {}),
          ...(rel.expiration !== undefined ? { expiration: rel.expiration } : {}),
        };
      }),
    };
  }
  const kind = OPERATION_FROM_WIRE.get(node.node.intermediate.operation);
  if (kind === undefined) {
    throw malformedResponse(`unknown expand operation ${node.node.intermediate.operation}`);
  }
  return {
    kind,
    resource,
    relation: node.relation,
    children: node.node.intermediate.children.map(expandTreeFromResponse),
  };
}

/** A schema problem as the server reported it: the message and where (1-based). */
export function schemaErrorFromResponse(e: SchemaError): {
  message: string;
  line: number;
  column: number;
} {
  return { message: e.message, line: e.line, column: e.column };
}

const DIFF_KIND_FROM_WIRE = inverse(DIFF_KIND);

export function schemaDiffFromResponse(d: SchemaDiff): SchemaDifference {
  const kind = DIFF_KIND_FROM_WIRE.get(d.kind);
  if (kind === undefined) throw malformedResponse(`unknown schema difference kind ${d.kind}`);
  return { kind, target: d.target, description: d.description };
}
