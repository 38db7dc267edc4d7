/**
 * Who is calling, and on which tenant. Caller authentication (JWT, API keys, scopes) is a later
 * piece of work; until it exists the server runs only in insecure-dev mode, where every caller
 * is anonymous and acts on the default tenant, or on the tenant its `trellis-tenant` metadata
 * names. When authentication arrives, the tenant comes from the credential and this header is
 * refused (DESIGN.md §1: never from the request alone).
 */
import type { Metadata } from "@grpc/grpc-js";
import type { TenantId } from "../core/revision.js";
import { checkTenantId } from "../store/argument-checks.js";

/** Metadata key naming the tenant in insecure-dev mode. */
export const TENANT_HEADER = "trellis-tenant";

export interface Caller {
  readonly tenant: TenantId;
  /** Names the caller in logs; never a secret. */
  readonly id: string;
}

export interface CallerResolver {
  /** The caller of a request; throws a TrellisError (INVALID_ARGUMENT, UNAUTHENTICATED). */
  resolve(metadata: Metadata): Caller;
}

/** Every caller is anonymous; the tenant is the default one or the header's. */
export class InsecureDevCallers implements CallerResolver {
  readonly #default: Caller;

  constructor(defaultTenant: TenantId) {
    this.#default = { tenant: defaultTenant, id: "insecure-dev" };
  }

  resolve(metadata: Metadata): Caller {
    const values = metadata.get(TENANT_HEADER);
    if (values.length === 0) return this.#default;
    const tenant = String(values[0]);
    checkTenantId(tenant, `${TENANT_HEADER} metadata`);
    return { tenant, id: this.#default.id };
  }
}
