/**
 * Reading what callers pass to `TrellisApi` methods — string or object forms of objects,
 * subjects, relationships, write items, filters — into core's types, with the same checks in
 * both entry points. Malformed input is INVALID_ARGUMENT naming the field; a value of the wrong
 * JavaScript type is a TypeError (misuse, not data).
 */
import { invalidArgument, TrellisError } from "../core/errors.js";
import {
  checkMemberName,
  checkTypeName,
  ELLIPSIS,
  isValidObjectId,
  WILDCARD_ID,
} from "../core/names.js";
import {
  type CaveatContext,
  type ObjectRef,
  parseObjectRef,
  parseRelationship,
  parseSubjectRef,
  type Relationship,
  type SubjectRef,
  validateObjectRef,
  validateRelationship,
  validateSubjectRef,
} from "../core/relationship.js";
import type { Consistency } from "../core/revision.js";
import { caveatContextToWire } from "./caveat-values.js";
import type {
  CheckBulkItemInput,
  ListedObject,
  ListedSubject,
  MutationOp,
  ObjectInput,
  Precondition,
  RelationshipFilter,
  RelationshipInput,
  SubjectInput,
  WriteItem,
} from "./trellis-api.js";

function isObject<T>(value: T): value is T & object {
  return typeof value === "object" && value !== null;
}

export function objectRefOf(input: ObjectInput, field = "resource"): ObjectRef {
  if (typeof input === "string") return parseObjectRef(input, field);
  if (!isObject(input)) throw new TypeError(`${field} must be "type:id" or { type, id }`);
  // A copy, so that extra properties of the caller's object go no further.
  const ref: ObjectRef = { type: input.type, id: input.id };
  validateObjectRef(ref, field);
  if (ref.id === WILDCARD_ID) {
    throw invalidArgument("a resource id cannot be the wildcard '*'", `${field}.id`);
  }
  return ref;
}

export function subjectRefOf(input: SubjectInput, field = "subject"): SubjectRef {
  if (typeof input === "string") return parseSubjectRef(input, field);
  if (!isObject(input)) {
    throw new TypeError(`${field} must be "type:id[#relation]" or { type, id, relation? }`);
  }
  const ref: SubjectRef =
    input.relation === undefined || input.relation === ELLIPSIS
      ? { type: input.type, id: input.id }
      : { type: input.type, id: input.id, relation: input.relation };
  validateSubjectRef(ref, field);
  return ref;
}

export function relationshipOf(input: RelationshipInput, field = "relationship"): Relationship {
  if (typeof input === "string") return parseRelationship(input, field);
  if (!isObject(input)) throw new TypeError(`${field} must be a tuple string or a Relationship`);
  validateRelationship(input, field);
  const context = input.caveat?.context;
  if (context === undefined) return input;
  // Dates, `{ seconds }` durations, bigints and bytes in the written context: in wire form.
  const wire = caveatContextToWire(context, `${field}.caveat.context`);
  return wire === context ? input : { ...input, caveat: { ...input.caveat!, context: wire } };
}

const MUTATION_OPS: ReadonlySet<string> = new Set<MutationOp>(["CREATE", "TOUCH", "DELETE"]);

/** A write item as a mutation; a bare tuple string is a TOUCH. */
export function mutationOf(
  item: WriteItem,
  field: string,
): { op: MutationOp; relationship: Relationship } {
  if (typeof item === "string") return { op: "TOUCH", relationship: relationshipOf(item, field) };
  if (!isObject(item))
    throw new TypeError(`${field} must be a tuple string or { op, relationship }`);
  if (!MUTATION_OPS.has(item.op)) {
    throw invalidArgument(
      `op must be CREATE, TOUCH or DELETE, got ${JSON.stringify(item.op)}`,
      `${field}.op`,
    );
  }
  return { op: item.op, relationship: relationshipOf(item.relationship, `${field}.relationship`) };
}

/** The mutations of a write, which needs at least one. */
export function mutationsOf(
  items: readonly WriteItem[],
): { op: MutationOp; relationship: Relationship }[] {
  if (!Array.isArray(items)) throw new TypeError("items must be an array");
  if (items.length === 0) throw invalidArgument("a write needs at least one item", "items");
  return items.map((item, i) => mutationOf(item, `items[${i}]`));
}

/** A relation or permission name. */
export function memberNameOf(name: string, field = "permission"): string {
  return checkMemberName(name, field);
}

/** An object type name (`document`, `acme/document`). */
export function typeNameOf(name: string, field: string): string {
  return checkTypeName(name, field);
}

/** ListSubjects' subject type: `user`, or `group#member` for the usersets of a relation. */
export function subjectTypeOf(
  text: string,
  field = "subjectType",
): { type: string; relation?: string } {
  if (typeof text !== "string") throw new TypeError(`${field} must be a string`);
  const hash = text.indexOf("#");
  if (hash < 0) return { type: typeNameOf(text, field) };
  const type = typeNameOf(text.slice(0, hash), field);
  const relation = text.slice(hash + 1);
  return relation === ELLIPSIS ? { type } : { type, relation: memberNameOf(relation, field) };
}

/** `type:id`, `type:id#relation` or `type:*`: how listed subjects are printed. */
/** The objects of a detailed listing that are ALLOWED outright (what `listObjects` yields). */
export async function* allowedObjects(
  listed: AsyncIterable<ListedObject>,
): AsyncGenerator<string, void, undefined> {
  for await (const l of listed) if (l.permissionship === "ALLOWED") yield l.object;
}

/** The subjects of a detailed listing that are ALLOWED outright (what `listSubjects` yields). */
export async function* allowedSubjects(
  listed: AsyncIterable<ListedSubject>,
): AsyncGenerator<string, void, undefined> {
  for await (const l of listed) if (l.permissionship === "ALLOWED") yield l.subject;
}

export function formatListedSubject(type: string, id: string, relation?: string): string {
  return relation === undefined ? `${type}:${id}` : `${type}:${id}#${relation}`;
}

export interface ParsedCheckItem {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly context?: CaveatContext;
}

/** A batch item, or the INVALID_ARGUMENT that is its answer (the others are still checked). */
export function checkItemOf(
  item: CheckBulkItemInput,
  field: string,
): ParsedCheckItem | TrellisError {
  try {
    if (typeof item === "string") {
      const rel = parseRelationship(item, field);
      if (rel.caveat !== undefined || rel.expiration !== undefined) {
        throw invalidArgument("a check item carries no caveat or expiration", field);
      }
      return { resource: rel.resource, permission: rel.relation, subject: rel.subject };
    }
    if (!isObject(item)) throw invalidArgument("a check item must be a string or an object", field);
    const context = contextOf(item.context, `${field}.context`);
    return {
      resource: objectRefOf(item.resource, `${field}.resource`),
      permission: memberNameOf(item.permission, `${field}.permission`),
      subject: subjectRefOf(item.subject, `${field}.subject`),
      ...(context !== undefined ? { context } : {}),
    };
  } catch (err) {
    if (err instanceof TrellisError) return err;
    if (err instanceof TypeError) return invalidArgument(err.message, field);
    throw err;
  }
}

/**
 * A request's caveat context: an object, or `undefined` when absent or empty. Its values are
 * put in wire form (`caveat-values.ts`: a `Date` as an RFC 3339 string, `{ seconds }` as a
 * duration string, …).
 */
export function contextOf(context: unknown, field = "context"): CaveatContext | undefined {
  if (context === undefined) return undefined;
  if (!isObject(context) || Array.isArray(context)) {
    throw invalidArgument("caveat context must be a JSON object", field);
  }
  if (Object.keys(context).length === 0) return undefined;
  return caveatContextToWire(context as CaveatContext, field);
}

/**
 * Checks a filter. Empty strings are refused rather than read as "absent": on the wire an
 * empty field means "any", and a delete must never widen by accident.
 */
export function filterOf(filter: RelationshipFilter, field = "filter"): RelationshipFilter {
  if (!isObject(filter)) throw new TypeError(`${field} must be an object`);
  const { resourceType, resourceId, relation, subjectType, subjectId, subjectRelation } = filter;
  typeNameOf(resourceType, `${field}.resourceType`);
  if (
    resourceId !== undefined &&
    (typeof resourceId !== "string" || !isValidObjectId(resourceId))
  ) {
    throw invalidArgument(
      `invalid resource id ${JSON.stringify(resourceId)}`,
      `${field}.resourceId`,
    );
  }
  if (relation !== undefined) memberNameOf(relation, `${field}.relation`);
  if (subjectType !== undefined) typeNameOf(subjectType, `${field}.subjectType`);
  if ((subjectId !== undefined || subjectRelation !== undefined) && subjectType === undefined) {
    throw invalidArgument("subjectId and subjectRelation need subjectType", `${field}.subjectType`);
  }
  if (
    subjectId !== undefined &&
    (typeof subjectId !== "string" || !(subjectId === WILDCARD_ID || isValidObjectId(subjectId)))
  ) {
    throw invalidArgument(`invalid subject id ${JSON.stringify(subjectId)}`, `${field}.subjectId`);
  }
  if (subjectRelation !== undefined && subjectRelation !== null && subjectRelation !== ELLIPSIS) {
    memberNameOf(subjectRelation, `${field}.subjectRelation`);
  }
  return filter;
}

export function preconditionsOf(
  preconditions: readonly Precondition[] | undefined,
): Precondition[] {
  if (preconditions === undefined) return [];
  if (!Array.isArray(preconditions)) throw new TypeError("preconditions must be an array");
  return preconditions.map((p, i) => {
    const field = `preconditions[${i}]`;
    if (!isObject(p)) throw new TypeError(`${field} must be { op, filter }`);
    if (p.op !== "MUST_MATCH" && p.op !== "MUST_NOT_MATCH") {
      throw invalidArgument(
        `op must be MUST_MATCH or MUST_NOT_MATCH, got ${JSON.stringify(p.op)}`,
        `${field}.op`,
      );
    }
    return { op: p.op, filter: filterOf(p.filter, `${field}.filter`) };
  });
}

/** A consistency option, checked; `undefined` leaves the default. */
export function consistencyOf(c: Consistency | undefined): Consistency | undefined {
  if (c === undefined || c === "minimize_latency" || c === "fully_consistent") return c;
  if (isObject(c)) {
    if ("atLeastAsFresh" in c && typeof c.atLeastAsFresh === "string") {
      return { atLeastAsFresh: c.atLeastAsFresh };
    }
    if ("atExactSnapshot" in c && typeof c.atExactSnapshot === "string") {
      return { atExactSnapshot: c.atExactSnapshot };
    }
  }
  throw new TypeError(
    'consistency must be "minimize_latency", "fully_consistent", { atLeastAsFresh: zookie } or { atExactSnapshot: zookie }',
  );
}

/** An optional positive integer option (`limit`). */
export function positiveIntegerOf(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw invalidArgument(`${field} must be a positive integer, got ${String(value)}`, field);
  }
  return value;
}
