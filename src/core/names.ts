/**
 * Validation of names and ids, with the rules SpiceDB enforces so that a schema or a tuple
 * moves between the two systems unchanged, and of tenant ids. Every face checks with these,
 * so a bad name gets the same message whichever way it arrives.
 */
import { invalidArgument } from "./errors.js";
import { quoteInput } from "./quote-input.js";

/** Relation, permission, caveat-parameter-free names: 3–64 chars, lowercase, no trailing `_`. */
export const IDENTIFIER_PATTERN = /^[a-z][a-z0-9_]{1,62}[a-z0-9]$/;

/** Type and caveat names: an identifier, optionally behind `prefix/` segments. */
export const TYPE_NAME_PATTERN =
  /^(?:[a-z][a-z0-9_]{1,61}[a-z0-9]\/)*[a-z][a-z0-9_]{1,62}[a-z0-9]$/;

/** Object ids (DESIGN.md §1). */
export const OBJECT_ID_PATTERN = /^[A-Za-z0-9/_|\-=+@.:]{1,1024}$/;

export const WILDCARD_ID = "*";

/** The subject relation that means "the object itself"; printed as no relation at all. */
export const ELLIPSIS = "...";

export function isValidIdentifier(name: string): boolean {
  return IDENTIFIER_PATTERN.test(name);
}

export function isValidTypeName(name: string): boolean {
  return TYPE_NAME_PATTERN.test(name);
}

export function isValidObjectId(id: string): boolean {
  return OBJECT_ID_PATTERN.test(id);
}

/** Tenant ids: 1–128 characters of letters, digits and `_ - . /`, starting alphanumeric. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;

/**
 * The tenant ids AdminService creates: a stricter subset (lowercase letters, digits, `_`, `-`;
 * 1–64), so a created tenant's id is safe in any URL, file name or log without quoting.
 */
export const NEW_TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const TENANT_ID_RULE =
  "1-128 characters of [A-Za-z0-9_.-/], starting with a letter or digit";

export function isValidTenantId(id: string): boolean {
  return TENANT_ID_PATTERN.test(id);
}

/** A relation or permission name; INVALID_ARGUMENT naming `field` otherwise. */
export function checkMemberName(name: unknown, field: string): string {
  if (typeof name !== "string" || !isValidIdentifier(name)) {
    throw invalidArgument(
      `invalid name ${quoteInput(name)}: expected lowercase letters, digits and '_', 3-64 characters`,
      field,
    );
  }
  return name;
}

/** An object type name (`document`, `acme/document`); INVALID_ARGUMENT naming `field` otherwise. */
export function checkTypeName(name: unknown, field: string): string {
  if (typeof name !== "string" || !isValidTypeName(name)) {
    throw invalidArgument(
      `invalid object type ${quoteInput(name)}: expected lowercase letters, digits and '_', 3-64 characters, optionally with 'prefix/' segments`,
      field,
    );
  }
  return name;
}

/** A tenant id; INVALID_ARGUMENT naming `field` otherwise. */
export function checkTenantId(id: unknown, field = "tenant"): asserts id is string {
  if (typeof id !== "string" || !isValidTenantId(id)) {
    throw invalidArgument(`invalid tenant id ${quoteInput(id)}: expected ${TENANT_ID_RULE}`, field);
  }
}
