/**
 * Conversions between the wire messages (`src/gen/`) and the domain types of `core/`,
 * `engine/` and `store/`, with the validation every request gets on the way in: required
 * fields, names, ids and sizes, each failure INVALID_ARGUMENT naming the field as the proto
 * spells it (`updates[2].relationship.subject.object.object_id`). The rules themselves are
 * core's; this module only renames the fields.
 */
import { invalidArgument, type SchemaDiagnostic, TrellisError } from "../core/errors.js";
import { ELLIPSIS, isValidIdentifier, isValidObjectId, isValidTypeName } from "../core/names.js";
import type { CheckTrace as DomainCheckTrace } from "../core/permission.js";
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
import type { Consistency, Zookie } from "../core/revision.js";
import type { Permissionship } from "../engine/engine.js";
import type { ExpandNode } from "../engine/expand.js";
import * as pb from "../gen/trellis/v1/core.js";
import {
  AlgebraicSubjectSet_Operation,
  type CheckTrace,
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
import type { SchemaDifference, SchemaDifferenceKind } from "../schema/schema-diff.js";
import type {
  Mutation,
  Precondition,
  RelationshipChange,
  RelationshipFilter,
} from "../store/datastore.js";

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

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) throw invalidArgument(`${field} is required`, field);
  return value;
}

// ---- names ------------------------------------------------------------------------------

/** A relation or permission name. */
export function memberName(name: string, field: string): string {
  if (name === "") throw invalidArgument(`${field} is required`, field);
  if (!isValidIdentifier(name)) {
    throw invalidArgument(
      `invalid name ${quoteInput(name)}: expected lowercase letters, digits and '_', 3-64 characters`,
      field,
    );
  }
  return name;
}

/** An object type name (`document`, `acme/document`). */
export function typeName(name: string, field: string): string {
  if (name === "") throw invalidArgument(`${field} is required`, field);
  if (!isValidTypeName(name)) {
    throw invalidArgument(
      `invalid object type ${quoteInput(name)}: expected lowercase letters, digits and '_', 3-64 characters, optionally with 'prefix/' segments`,
      field,
    );
  }
  return name;
}

// ---- objects, subjects, relationships -----------------------------------------------------

export function objectRefFromProto(ref: pb.ObjectReference | undefined, field: string): ObjectRef {
  const r = required(ref, field);
  const out: ObjectRef = { type: r.objectType, id: r.objectId };
  renamed(field, OBJECT_FIELDS, () => validateObjectRef(out, ROOT));
  return out;
}

export function objectRefToProto(ref: ObjectRef): pb.ObjectReference {
  return { objectType: ref.type, objectId: ref.id };
}

/** `optional_relation` empty or `...` is the object itself. */
export function subjectRefFromProto(
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

export function subjectRefToProto(ref: SubjectRef): pb.SubjectReference {
  return {
    object: { objectType: ref.type, objectId: ref.id },
    optionalRelation: ref.relation ?? "",
  };
}

/** A request's caveat context: a JSON object, or `undefined` when absent or empty. */
export function contextFromProto(
  struct: { [key: string]: unknown } | undefined,
): CaveatContext | undefined {
  if (struct === undefined || struct === null) return undefined;
  return Object.keys(struct).length === 0 ? undefined : struct;
}

export function relationshipFromProto(
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
    const context = contextFromProto(r.optionalCaveat.context);
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

export function relationshipToProto(rel: Relationship): pb.Relationship {
  return {
    resource: objectRefToProto(rel.resource),
    relation: rel.relation,
    subject: subjectRefToProto(rel.subject),
    optionalCaveat:
      rel.caveat === undefined
        ? undefined
        : {
            caveatName: rel.caveat.name,
            context: rel.caveat.context as { [key: string]: unknown },
          },
    optionalExpiresAt: rel.expiration,
  };
}

// ---- writes -----------------------------------------------------------------------------

const MUTATION_OPS: Readonly<Partial<Record<RelationshipUpdate_Operation, Mutation["op"]>>> = {
  [RelationshipUpdate_Operation.OPERATION_CREATE]: "CREATE",
  [RelationshipUpdate_Operation.OPERATION_TOUCH]: "TOUCH",
  [RelationshipUpdate_Operation.OPERATION_DELETE]: "DELETE",
};

export function mutationFromProto(
  update: RelationshipUpdate,
  field: string,
  maxContextBytes: number,
): Mutation {
  const op = MUTATION_OPS[update.operation];
  if (op === undefined) {
    throw invalidArgument(
      "operation must be OPERATION_CREATE, OPERATION_TOUCH or OPERATION_DELETE",
      `${field}.operation`,
    );
  }
  return {
    op,
    relationship: relationshipFromProto(
      update.relationship,
      `${field}.relationship`,
      maxContextBytes,
    ),
  };
}

/** A changelog entry as a Watch update: a written tuple is a TOUCH, a removed one a DELETE. */
export function changeToProto(change: RelationshipChange): RelationshipUpdate {
  return {
    operation:
      change.op === "TOUCH"
        ? RelationshipUpdate_Operation.OPERATION_TOUCH
        : RelationshipUpdate_Operation.OPERATION_DELETE,
    relationship: relationshipToProto(change.relationship),
  };
}

export function filterFromProto(
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

export function preconditionFromProto(p: PbPrecondition, field: string): Precondition {
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
  return { op, filter: filterFromProto(p.filter, `${field}.filter`) };
}

// ---- consistency, zookies, cursors ------------------------------------------------------

/** The request's consistency; `fallback` when the message or its requirement is absent. */
export function consistencyFromProto(
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
      return { atLeastAsFresh: zookieFromProto(requirement.atLeastAsFresh, "at_least_as_fresh") };
    case "atExactSnapshot":
      return {
        atExactSnapshot: zookieFromProto(requirement.atExactSnapshot, "at_exact_snapshot"),
      };
  }
}

function zookieFromProto(z: pb.Zookie | undefined, name: string): string {
  const token = z?.token ?? "";
  if (token === "") {
    throw invalidArgument("the zookie token is empty", `consistency.${name}.token`);
  }
  return token;
}

export function zookieToProto(zookie: Zookie): pb.Zookie {
  return { token: zookie };
}

/** A cursor token, or `undefined` when absent or empty. */
export function cursorFromProto(cursor: pb.Cursor | undefined): string | undefined {
  return cursor === undefined || cursor.token === "" ? undefined : cursor.token;
}

// ---- answers ----------------------------------------------------------------------------

const PERMISSIONSHIP: Readonly<Record<Permissionship, pb.Permissionship>> = {
  ALLOWED: pb.Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
  DENIED: pb.Permissionship.PERMISSIONSHIP_NO_PERMISSION,
  CONDITIONAL: pb.Permissionship.PERMISSIONSHIP_CONDITIONAL_PERMISSION,
};

export function permissionshipToProto(p: Permissionship): pb.Permissionship {
  return PERMISSIONSHIP[p];
}

/** The caveat parameters a conditional answer needs; absent for a decided one. */
export function partialCaveatInfoToProto(
  missing: readonly string[] | undefined,
): pb.PartialCaveatInfo | undefined {
  return missing === undefined ? undefined : { missingRequiredContext: [...missing] };
}

/** The sub-problems a check visited, as `CheckTrace`. */
export function traceToProto(node: DomainCheckTrace): CheckTrace {
  return {
    resource: node.resource,
    relation: node.relation,
    isPermission: node.kind === "permission",
    result: permissionshipToProto(node.result),
    cached: node.cached ?? "",
    cycle: node.cycle === true,
    children: node.children.map(traceToProto),
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
export function expandTreeToProto(node: ExpandNode): PermissionTree {
  const resource = objectRefToProto(node.resource);
  if (node.kind === "leaf") {
    return {
      resource,
      relation: node.relation,
      node: {
        $case: "leaf",
        leaf: {
          relationships: node.subjects.map((s) =>
            relationshipToProto({
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
        children: node.children.map(expandTreeToProto),
      },
    },
  };
}

// ---- schemas ----------------------------------------------------------------------------

export function schemaErrorToProto(d: SchemaDiagnostic): SchemaError {
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

export function schemaDiffToProto(d: SchemaDifference): SchemaDiff {
  return { kind: DIFF_KIND[d.kind], target: d.target, description: d.description };
}
