/**
 * Who is calling, on which tenant, with which scopes. With authentication on, the credential
 * says all three (DESIGN.md §9); the `trellis-tenant` metadata may repeat the credential's
 * tenant but never name another. In insecure-dev mode every caller is an anonymous operator
 * with every scope, on the default tenant or the one its `trellis-tenant` metadata names.
 */
import type { Metadata } from "@grpc/grpc-js";
import { ALL_SCOPES, type Authenticator, type Principal, type Scope } from "../auth/index.js";
import { TrellisError } from "../core/errors.js";
import { checkTenantId } from "../core/names.js";
import type { TenantId } from "../core/revision.js";

/** Metadata key naming the tenant. */
export const TENANT_HEADER = "trellis-tenant";
const AUTHORIZATION_HEADER = "authorization";

export interface Caller {
  readonly tenant: TenantId;
  /** Names the caller in logs; never a secret. */
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
  /**
   * May manage tenants and the keys of every tenant: an `admin` credential of the server's
   * default tenant (every caller in insecure-dev mode). Other admins manage their own tenant.
   */
  readonly operator: boolean;
}

export interface CallerResolver {
  /**
   * The caller of a request; throws (or rejects with) a TrellisError: INVALID_ARGUMENT,
   * UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED.
   */
  resolve(metadata: Metadata, peer: string, method: string): Caller | Promise<Caller>;
}

function tenantHeader(metadata: Metadata): string | undefined {
  const values = metadata.get(TENANT_HEADER);
  if (values.length === 0) return undefined;
  const tenant = String(values[0]);
  checkTenantId(tenant, `${TENANT_HEADER} metadata`);
  return tenant;
}

/** Every caller is an anonymous operator; the tenant is the default one or the header's. */
export class InsecureDevCallers implements CallerResolver {
  readonly #default: Caller;

  constructor(defaultTenant: TenantId) {
    this.#default = {
      tenant: defaultTenant,
      id: "insecure-dev",
      scopes: ALL_SCOPES,
      operator: true,
    };
  }

  resolve(metadata: Metadata): Caller {
    const tenant = tenantHeader(metadata);
    return tenant === undefined ? this.#default : { ...this.#default, tenant };
  }
}

/** Callers proven by an API key or a JWT (`authorization: Bearer …`). */
export class AuthenticatedCallers implements CallerResolver {
  readonly #authenticator: Authenticator;
  readonly #defaultTenant: TenantId;
  /** One Caller per principal: verified principals are cached, so this is a hit mostly. */
  readonly #callers = new WeakMap<Principal, Caller>();

  constructor(authenticator: Authenticator, defaultTenant: TenantId) {
    this.#authenticator = authenticator;
    this.#defaultTenant = defaultTenant;
  }

  resolve(metadata: Metadata, peer: string, method: string): Caller | Promise<Caller> {
    // Every value (a request with several is refused; see authorization-header.ts for how
    // several reach the metadata at all).
    const values = metadata.get(AUTHORIZATION_HEADER) as string[];
    const principal = this.#authenticator.authenticate(values, peer, method);
    return principal instanceof Promise
      ? principal.then((p) => this.#callerOf(metadata, p))
      : this.#callerOf(metadata, principal);
  }

  #callerOf(metadata: Metadata, principal: Principal): Caller {
    const named = tenantHeader(metadata);
    if (named !== undefined && named !== principal.tenant) {
      throw new TrellisError(
        "PERMISSION_DENIED",
        `this credential acts on tenant ${principal.tenant} only; ${TENANT_HEADER} names ${named}`,
        { field: `${TENANT_HEADER} metadata` },
      );
    }
    let caller = this.#callers.get(principal);
    if (caller === undefined) {
      caller = {
        tenant: principal.tenant,
        id: principal.id,
        scopes: principal.scopes,
        operator: principal.scopes.has("admin") && principal.tenant === this.#defaultTenant,
      };
      this.#callers.set(principal, caller);
    }
    return caller;
  }
}
