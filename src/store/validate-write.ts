/**
 * Checks a write before any engine opens a transaction, so that a malformed write costs no
 * lock and the engines share one set of messages.
 */
import { invalidArgument, relationshipKey, validateRelationship } from "../core/index.js";
import { type NormalizedFilter, normalizeFilter } from "./relationship-filter.js";
import type { Mutation, MutationOp, Precondition, PreconditionOp } from "./relationship-writer.js";

const MUTATION_OPS: ReadonlySet<MutationOp> = new Set(["CREATE", "TOUCH", "DELETE"]);
const PRECONDITION_OPS: ReadonlySet<PreconditionOp> = new Set(["MUST_MATCH", "MUST_NOT_MATCH"]);

export interface CheckedPrecondition {
  readonly op: PreconditionOp;
  readonly filter: NormalizedFilter;
}

/**
 * Throws INVALID_ARGUMENT naming the field for an empty write, an unknown op, an invalid tuple,
 * the same tuple twice, or a malformed precondition.
 */
export function validateWrite(
  mutations: readonly Mutation[],
  preconditions: readonly Precondition[] = [],
): CheckedPrecondition[] {
  if (!Array.isArray(mutations) || mutations.length === 0) {
    throw invalidArgument("a write needs at least one mutation", "mutations");
  }
  const seen = new Map<string, number>();
  mutations.forEach((mutation, i) => {
    const field = `mutations[${i}]`;
    if (mutation === null || typeof mutation !== "object" || !MUTATION_OPS.has(mutation.op)) {
      throw invalidArgument(
        `unknown mutation op ${JSON.stringify(mutation?.op)}: expected CREATE, TOUCH or DELETE`,
        `${field}.op`,
      );
    }
    validateRelationship(mutation.relationship, `${field}.relationship`);
    const key = relationshipKey(mutation.relationship);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw invalidArgument(
        `${key} appears twice in one write (mutations[${earlier}] and mutations[${i}])`,
        field,
      );
    }
    seen.set(key, i);
  });
  return validatePreconditions(preconditions);
}

/** Throws INVALID_ARGUMENT naming the field for a malformed precondition. */
export function validatePreconditions(
  preconditions: readonly Precondition[] = [],
): CheckedPrecondition[] {
  if (!Array.isArray(preconditions)) {
    throw invalidArgument("preconditions must be an array", "preconditions");
  }
  return preconditions.map((precondition, i) => {
    const field = `preconditions[${i}]`;
    if (
      precondition === null ||
      typeof precondition !== "object" ||
      !PRECONDITION_OPS.has(precondition.op)
    ) {
      throw invalidArgument(
        `unknown precondition op ${JSON.stringify(precondition?.op)}: expected MUST_MATCH or MUST_NOT_MATCH`,
        `${field}.op`,
      );
    }
    return { op: precondition.op, filter: normalizeFilter(precondition.filter, `${field}.filter`) };
  });
}
