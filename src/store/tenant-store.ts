/** The tenants of a datastore: created once, never removed, listed for gc and operators. */
import type { TenantId } from "../core/index.js";

/**
 * Creates and lists tenants. The common rules of `Datastore` (datastore.ts) apply: bad ids are
 * INVALID_ARGUMENT, a closed or unreachable store UNAVAILABLE.
 */
export interface TenantStore {
  /** Creates an empty tenant at revision 0; ALREADY_EXISTS when the id is taken. */
  createTenant(id: TenantId): Promise<void>;

  /** Every tenant id, sorted. */
  listTenants(): Promise<TenantId[]>;
}
