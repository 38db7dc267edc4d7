/** The scopes a credential grants (DESIGN.md §9) and their parsing. */
import { invalidArgument } from "../core/errors.js";

export const SCOPES = ["check", "read", "write", "schema", "watch", "admin"] as const;

/**
 * - `check`: permission queries (Check, CheckBulk, Expand, ListObjects, ListSubjects);
 * - `read`: tuples and the schema (Read, Export, ReadSchema, ValidateSchema, DiffSchema);
 * - `write`: tuples (Write, Delete, Import);
 * - `schema`: schema writes;
 * - `watch`: the changelog;
 * - `admin`: API keys and tenants.
 */
export type Scope = (typeof SCOPES)[number];

const KNOWN: ReadonlySet<string> = new Set(SCOPES);

export function isScope(name: string): name is Scope {
  return KNOWN.has(name);
}

/**
 * The scopes a request asks a new key to grant: at least one, each known, no repeats; kept in
 * the canonical order of `SCOPES`. INVALID_ARGUMENT naming `field` otherwise.
 */
export function parseScopes(names: readonly string[], field = "scopes"): Scope[] {
  if (names.length === 0) throw invalidArgument("at least one scope is required", field);
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (!isScope(name)) {
      throw invalidArgument(
        `unknown scope ${JSON.stringify(name.slice(0, 40))}: expected one of ${SCOPES.join(", ")}`,
        `${field}[${i}]`,
      );
    }
    if (seen.has(name)) throw invalidArgument(`scope ${name} appears twice`, `${field}[${i}]`);
    seen.add(name);
  }
  return SCOPES.filter((s) => seen.has(s));
}

/**
 * The known scopes among a credential's claims; unknown names are ignored (an identity provider
 * may put other services' scopes in the same token).
 */
export function knownScopes(names: Iterable<string>): ReadonlySet<Scope> {
  const out = new Set<Scope>();
  for (const name of names) if (isScope(name)) out.add(name);
  return out;
}

export const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
