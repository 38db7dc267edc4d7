/**
 * The failures of a write that callers branch on, worded once for every engine. Each names the
 * tuple, filter or batch at fault; callers branch on `code` (SpiceDB's face also on the class), never
 * on the wording.
 */
import {
  DeleteLimitExceededError,
  PreconditionFailedError,
  RelationshipExistsError,
  SchemaOrphansError,
} from "../core/errors.js";
import { type Relationship, relationshipKey, TrellisError } from "../core/index.js";
import { formatFilter, type NormalizedFilter } from "./relationship-filter.js";
import type { CheckedPrecondition } from "./validate-write.js";

export function preconditionFailed(
  precondition: CheckedPrecondition,
  index: number,
): PreconditionFailedError {
  const expectation =
    precondition.op === "MUST_MATCH"
      ? "requires a relationship matching"
      : "requires no relationship matching";
  return new PreconditionFailedError(
    `precondition ${index} (${precondition.op}) failed: it ${expectation} ${formatFilter(precondition.filter)}`,
    { field: `preconditions[${index}]` },
  );
}

export function createOfExisting(rel: Relationship, field: string): RelationshipExistsError {
  return new RelationshipExistsError(
    `cannot CREATE ${relationshipKey(rel)}: the relationship already exists`,
    { field },
  );
}

export function deleteLimitExceeded(
  filter: NormalizedFilter,
  limit: number,
): DeleteLimitExceededError {
  return new DeleteLimitExceededError(
    `more than ${limit} relationships match ${formatFilter(filter)}; nothing was deleted (allow a partial delete or raise the limit)`,
    { field: "limit" },
  );
}

export function schemaWouldOrphan(
  matches: readonly { filter: NormalizedFilter; count: number }[],
): SchemaOrphansError {
  const list = matches
    .map(
      ({ filter, count }) =>
        `${count} relationship${count === 1 ? "" : "s"} of ${formatFilter(filter)}`,
    )
    .join("; ");
  return new SchemaOrphansError(`the schema change would orphan stored relationships: ${list}`, {
    field: "schema",
  });
}

/**
 * Wraps the failure of one import batch: keeps the code of the cause (INVALID_ARGUMENT for a bad
 * tuple, FAILED_PRECONDITION for an existing one) and says where the batch stood.
 */
export function importBatchFailed(
  cause: TrellisError,
  batch: number,
  firstLine: number,
  lastLine: number,
  importedBefore: number,
): TrellisError {
  return new TrellisError(
    cause.code,
    `bulk import batch ${batch} (lines ${firstLine}-${lastLine}) was rolled back, ${importedBefore} relationships from earlier batches stay imported: ${cause.message}`,
    { cause, field: cause.field },
  );
}
