/**
 * Checks a relationship against the schema before it is written, with SpiceDB's rules and
 * codes: unknown types and relations are FAILED_PRECONDITION (the schema does not know them);
 * writing to a permission or with a subject type, caveat or expiration the relation does not
 * allow is INVALID_ARGUMENT. A DELETE that names no caveat matches any caveat and expiration.
 */
import { invalidArgument, TrellisError } from "../core/errors.js";
import { type Relationship, validateRelationship } from "../core/relationship.js";
import { checkCaveatContext } from "../schema/caveat.js";
import type { MutationOp } from "../store/datastore.js";
import type { EngineSchema } from "./engine-schema.js";

export function validateRelationshipAgainstSchema(
  schema: EngineSchema,
  rel: Relationship,
  op: MutationOp,
  field: string,
): void {
  validateRelationship(rel, field);
  const { resource, subject } = rel;
  if (schema.membersOf(resource.type) === undefined) {
    throw notFound(`object definition '${resource.type}' not found`, `${field}.resource.type`);
  }
  const member = schema.member(resource.type, rel.relation);
  if (member === undefined) {
    throw notFound(
      `relation '${rel.relation}' not found under definition '${resource.type}'`,
      `${field}.relation`,
    );
  }
  if (schema.membersOf(subject.type) === undefined) {
    throw notFound(`object definition '${subject.type}' not found`, `${field}.subject.type`);
  }
  if (
    subject.relation !== undefined &&
    schema.member(subject.type, subject.relation) === undefined
  ) {
    throw notFound(
      `relation '${subject.relation}' not found under definition '${subject.type}'`,
      `${field}.subject.relation`,
    );
  }
  if (member.kind === "permission") {
    throw invalidArgument(
      `cannot write a relationship to permission '${resource.type}#${rel.relation}': write to one of the relations it is computed from`,
      `${field}.relation`,
    );
  }
  const wildcard = subject.id === "*";
  const loose = op === "DELETE" && rel.caveat === undefined;
  const fits = member.definition.allowed.some(
    (a) =>
      a.type === subject.type &&
      a.relation === subject.relation &&
      a.wildcard === wildcard &&
      (loose || (a.caveat === rel.caveat?.name && a.expiration === (rel.expiration !== undefined))),
  );
  if (!fits) {
    const shown = `${subject.type}${wildcard ? ":*" : ""}${subject.relation ? `#${subject.relation}` : ""}${
      rel.caveat ? ` with ${rel.caveat.name}` : ""
    }${rel.expiration ? `${rel.caveat ? " and" : " with"} expiration` : ""}`;
    throw invalidArgument(
      `subjects of type '${shown}' are not allowed on relation '${resource.type}#${rel.relation}'`,
      `${field}.subject`,
    );
  }
  if (rel.caveat?.context !== undefined && Object.keys(rel.caveat.context).length > 0) {
    const caveat = schema.caveat(rel.caveat.name);
    if (caveat === undefined) {
      throw notFound(`caveat '${rel.caveat.name}' not found`, `${field}.caveat.name`);
    }
    checkCaveatContext(caveat, rel.caveat.context, `${field}.caveat.context`);
  }
}

function notFound(message: string, field: string): TrellisError {
  return new TrellisError("FAILED_PRECONDITION", message, { field });
}
