/**
 * Validation of names and ids, with the rules SpiceDB enforces so that a schema or a tuple
 * moves between the two systems unchanged.
 */

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
