/**
 * Validation and printing of `RelationshipFilter`s, and their normal form: the subject
 * relation spelled as stored (`...` for "no relation"), absent fields left out.
 */
import {
  ELLIPSIS,
  invalidArgument,
  isValidIdentifier,
  isValidObjectId,
  isValidTypeName,
  quoteInput,
  WILDCARD_ID,
} from "../core/index.js";
import type {
  RelationshipFilter,
  ResourceRelationQuery,
  SubjectRelationQuery,
} from "./relationship-reader.js";

/** A checked filter whose `subjectRelation` is the stored column value (`...` = none). */
export interface NormalizedFilter {
  readonly resourceType: string;
  readonly resourceId?: string;
  readonly relation?: string;
  readonly subjectType?: string;
  readonly subjectId?: string;
  readonly subjectRelation?: string;
}

/** The filter columns in stable-order position, with the filter field each one matches. */
export const FILTER_COLUMNS = [
  ["resourceType", "resource_type"],
  ["resourceId", "resource_id"],
  ["relation", "relation"],
  ["subjectType", "subject_type"],
  ["subjectId", "subject_id"],
  ["subjectRelation", "subject_relation"],
] as const satisfies readonly (readonly [keyof NormalizedFilter, string])[];

/** Throws INVALID_ARGUMENT naming the field (under `field`) when the filter is malformed. */
export function normalizeFilter(filter: RelationshipFilter, field = "filter"): NormalizedFilter {
  if (filter === null || typeof filter !== "object") {
    throw invalidArgument("a relationship filter must be an object", field);
  }
  const { resourceType, resourceId, relation, subjectType, subjectId, subjectRelation } = filter;
  if (typeof resourceType !== "string" || !isValidTypeName(resourceType)) {
    throw invalidArgument(
      `invalid resource type ${quoteInput(resourceType)}`,
      `${field}.resourceType`,
    );
  }
  const out: {
    resourceType: string;
    resourceId?: string;
    relation?: string;
    subjectType?: string;
    subjectId?: string;
    subjectRelation?: string;
  } = { resourceType };
  if (resourceId !== undefined) {
    if (typeof resourceId !== "string" || !isValidObjectId(resourceId)) {
      throw invalidArgument(`invalid resource id ${quoteInput(resourceId)}`, `${field}.resourceId`);
    }
    out.resourceId = resourceId;
  }
  if (relation !== undefined) {
    if (typeof relation !== "string" || !isValidIdentifier(relation)) {
      throw invalidArgument(`invalid relation ${quoteInput(relation)}`, `${field}.relation`);
    }
    out.relation = relation;
  }
  if (subjectType !== undefined) {
    if (typeof subjectType !== "string" || !isValidTypeName(subjectType)) {
      throw invalidArgument(
        `invalid subject type ${quoteInput(subjectType)}`,
        `${field}.subjectType`,
      );
    }
    out.subjectType = subjectType;
  }
  if (subjectId !== undefined) {
    if (out.subjectType === undefined) {
      throw invalidArgument("subjectId needs subjectType", `${field}.subjectType`);
    }
    if (
      typeof subjectId !== "string" ||
      !(subjectId === WILDCARD_ID || isValidObjectId(subjectId))
    ) {
      throw invalidArgument(`invalid subject id ${quoteInput(subjectId)}`, `${field}.subjectId`);
    }
    out.subjectId = subjectId;
  }
  if (subjectRelation !== undefined) {
    if (out.subjectType === undefined) {
      throw invalidArgument("subjectRelation needs subjectType", `${field}.subjectType`);
    }
    if (subjectRelation === null || subjectRelation === ELLIPSIS) {
      out.subjectRelation = ELLIPSIS;
    } else if (typeof subjectRelation !== "string" || !isValidIdentifier(subjectRelation)) {
      throw invalidArgument(
        `invalid subject relation ${quoteInput(subjectRelation)}`,
        `${field}.subjectRelation`,
      );
    } else {
      out.subjectRelation = subjectRelation;
    }
  }
  return out;
}

/**
 * A short human form for messages, naming only the fields the filter sets:
 * `document#viewer`, `document#viewer with subject type user`, `document:readme with subject
 * group:eng#member`.
 */
export function formatFilter(filter: NormalizedFilter): string {
  let s = filter.resourceType;
  if (filter.resourceId !== undefined) s += `:${filter.resourceId}`;
  if (filter.relation !== undefined) s += `#${filter.relation}`;
  if (filter.subjectType !== undefined) {
    s +=
      filter.subjectId === undefined
        ? ` with subject type ${filter.subjectType}`
        : ` with subject ${filter.subjectType}:${filter.subjectId}`;
    if (filter.subjectRelation !== undefined) {
      s += filter.subjectRelation === ELLIPSIS ? " (no relation)" : `#${filter.subjectRelation}`;
    }
  }
  return s;
}

/** The filter of a `readByResource` query; INVALID_ARGUMENT unless type, id and relation are set. */
export function resourceQueryFilter(query: ResourceRelationQuery): NormalizedFilter {
  const filter = normalizeFilter(
    { resourceType: query?.type, resourceId: query?.id, relation: query?.relation },
    "query",
  );
  if (filter.resourceId === undefined || filter.relation === undefined) {
    throw invalidArgument("readByResource needs type, id and relation", "query");
  }
  return filter;
}

/** The filter of a `readBySubject` query; INVALID_ARGUMENT unless relation and subject are set. */
export function subjectQueryFilter(query: SubjectRelationQuery): NormalizedFilter {
  const filter = normalizeFilter(
    {
      resourceType: query?.resourceType,
      relation: query?.relation,
      subjectType: query?.subject?.type,
      subjectId: query?.subject?.id,
      subjectRelation: query?.subject?.relation ?? null,
    },
    "query",
  );
  if (filter.relation === undefined || filter.subjectId === undefined) {
    throw invalidArgument("readBySubject needs resourceType, relation and subject", "query");
  }
  return filter;
}
