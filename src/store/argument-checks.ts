/**
 * Checks of per-call arguments shared by the engines. Arguments come from requests, so a bad
 * one is INVALID_ARGUMENT naming the field (a TypeError is kept for misused options).
 */
import { invalidArgument, type Revision, TrellisError } from "../core/index.js";

// Tenant ids are core's rule, re-exported beside the engines' other per-call checks.
export { checkTenantId } from "../core/names.js";

/**
 * Schema text: any string without NUL (PostgreSQL's text cannot hold one, so neither engine
 * stores one). Parsing is the schema layer's.
 */
export function checkSchemaText(text: unknown): asserts text is string {
  if (typeof text !== "string") {
    throw invalidArgument("the schema text must be a string", "schema");
  }
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    throw invalidArgument(`the schema text holds a NUL character at offset ${nul}`, "schema");
  }
}

export function checkRevision(revision: unknown, field = "revision"): asserts revision is Revision {
  if (typeof revision !== "number" || !Number.isSafeInteger(revision) || revision < 0) {
    throw invalidArgument(
      `invalid revision ${String(revision)}: expected a non-negative integer`,
      field,
    );
  }
}

export function checkPositiveInteger(value: unknown, field: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw invalidArgument(`${field} must be a positive integer, got ${String(value)}`, field);
  }
}

export function checkDuration(value: unknown, field: string): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(
      `${field} must be a non-negative number of milliseconds, got ${String(value)}`,
      field,
    );
  }
}

export function tenantNotFound(tenant: string): TrellisError {
  return new TrellisError("NOT_FOUND", `tenant "${tenant}" does not exist`, { field: "tenant" });
}

export function tenantExists(tenant: string): TrellisError {
  return new TrellisError("ALREADY_EXISTS", `tenant "${tenant}" already exists`, {
    field: "tenant",
  });
}

export function datastoreClosed(): TrellisError {
  return new TrellisError("UNAVAILABLE", "the datastore is closed");
}

/**
 * Throws unless `revision` is readable given the tenant's head and oldest readable revision,
 * both taken from the same snapshot as the read they guard.
 */
export function checkReadable(revision: Revision, head: Revision, oldest: Revision): void {
  if (revision > head) {
    throw invalidArgument(
      `revision ${revision} is newer than the head revision ${head}`,
      "revision",
    );
  }
  if (revision < oldest) {
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `revision ${revision} has been garbage-collected (the oldest readable revision is ${oldest})`,
      { field: "revision" },
    );
  }
}

/** The changelog after `afterRevision` is complete only from the oldest readable revision on. */
export function checkChangelogReadable(
  afterRevision: Revision,
  head: Revision,
  oldest: Revision,
): void {
  if (afterRevision > head) {
    throw invalidArgument(
      `revision ${afterRevision} is newer than the head revision ${head}`,
      "afterRevision",
    );
  }
  if (afterRevision < oldest) {
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `revision ${afterRevision} has been garbage-collected: changes after it are no longer complete (the oldest readable revision is ${oldest})`,
      { field: "afterRevision" },
    );
  }
}
