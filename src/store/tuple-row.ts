/**
 * How a relationship is laid out in a row, shared by the engines: the subject relation is
 * stored as `...` when absent (so equality and unique indexes work without NULL), the caveat
 * context as JSON text, the expiration as epoch milliseconds.
 */
import { type CaveatContext, ELLIPSIS, type Relationship, type SubjectRef } from "../core/index.js";

/** The tuple columns of a row as every engine returns them (`pg` returns int8 as a string). */
export interface TupleRow {
  resource_type: string;
  resource_id: string;
  relation: string;
  subject_type: string;
  subject_id: string;
  subject_relation: string;
  caveat_name: string | null;
  caveat_context: string | null;
  expires_at: number | string | null;
}

/** The column list matching `TupleRow`, in insert order. */
export const TUPLE_COLUMNS =
  "resource_type, resource_id, relation, subject_type, subject_id, subject_relation, caveat_name, caveat_context, expires_at";

/** The columns identifying a tuple, in stable order. */
export const IDENTITY_COLUMNS =
  "resource_type, resource_id, relation, subject_type, subject_id, subject_relation";

/** The values of `TUPLE_COLUMNS` for one relationship. */
export type TupleValues = [
  resourceType: string,
  resourceId: string,
  relation: string,
  subjectType: string,
  subjectId: string,
  subjectRelation: string,
  caveatName: string | null,
  caveatContext: string | null,
  expiresAt: number | null,
];

export function tupleValues(rel: Relationship): TupleValues {
  const caveat = rel.caveat;
  return [
    rel.resource.type,
    rel.resource.id,
    rel.relation,
    rel.subject.type,
    rel.subject.id,
    rel.subject.relation ?? ELLIPSIS,
    caveat === undefined ? null : caveat.name,
    caveat?.context === undefined ? null : JSON.stringify(caveat.context),
    rel.expiration === undefined ? null : rel.expiration.getTime(),
  ];
}

export function rowToRelationship(row: TupleRow): Relationship {
  const subject: SubjectRef =
    row.subject_relation === ELLIPSIS
      ? { type: row.subject_type, id: row.subject_id }
      : { type: row.subject_type, id: row.subject_id, relation: row.subject_relation };
  const rel: {
    resource: { type: string; id: string };
    relation: string;
    subject: SubjectRef;
    caveat?: { name: string; context?: CaveatContext };
    expiration?: Date;
  } = {
    resource: { type: row.resource_type, id: row.resource_id },
    relation: row.relation,
    subject,
  };
  if (row.caveat_name !== null) {
    rel.caveat =
      row.caveat_context === null
        ? { name: row.caveat_name }
        : { name: row.caveat_name, context: JSON.parse(row.caveat_context) as CaveatContext };
  }
  if (row.expires_at !== null) rel.expiration = new Date(Number(row.expires_at));
  return rel;
}

/** The identity of a relationship in stable-order column order (the cursor key). */
export type IdentityKey = [string, string, string, string, string, string];

export function identityKey(rel: Relationship): IdentityKey {
  return [
    rel.resource.type,
    rel.resource.id,
    rel.relation,
    rel.subject.type,
    rel.subject.id,
    rel.subject.relation ?? ELLIPSIS,
  ];
}

/** The identity of a row in stable-order column order (where the next page starts). */
export function rowIdentityKey(row: TupleRow): IdentityKey {
  return [
    row.resource_type,
    row.resource_id,
    row.relation,
    row.subject_type,
    row.subject_id,
    row.subject_relation,
  ];
}
