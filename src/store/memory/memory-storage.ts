/**
 * What a memory datastore holds: tenants, API-key records and shared secrets, in plain
 * JavaScript structures. Several `MemoryDatastore` instances may work on one storage, as
 * several processes do on one SQLite file; every commit is announced to all of them at once.
 */
import type { Revision } from "../../core/index.js";
import type { ApiKeyRow } from "../api-key-records.js";
import { tenantNotFound } from "../argument-checks.js";
import type { MemoryTenant } from "./memory-tenant.js";

/** Called after every commit to a tenant of the storage. */
export type CommitListener = (tenant: string, revision: Revision) => void;

export class MemoryStorage {
  /** Tenants by id. */
  readonly tenants = new Map<string, MemoryTenant>();
  /** API-key records by id, in the row format the SQL engines share. */
  readonly apiKeys = new Map<string, ApiKeyRow>();
  /** Shared secrets by name. */
  readonly secrets = new Map<string, string>();
  readonly #listeners = new Set<CommitListener>();

  /** The tenant; NOT_FOUND when there is none. */
  tenant(id: string): MemoryTenant {
    const tenant = this.tenants.get(id);
    if (tenant === undefined) throw tenantNotFound(id);
    return tenant;
  }

  /** Calls `listener` after every commit from now on, until the returned function is called. */
  listen(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Announces a commit to every listener. */
  committed(tenant: string, revision: Revision): void {
    for (const listener of this.#listeners) listener(tenant, revision);
  }
}
