/**
 * The callers of `trellis serve-testing` (as `spicedb serve-testing` treats its callers): no
 * credential is checked; every distinct bearer token acts on a tenant of its own, created empty
 * on first use, so that each test (or test file) that picks its own token gets a clean store and
 * tests run in parallel without clearing anything. A call without a token acts on the default
 * tenant. Every scope but `admin`.
 */
import { createHash } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { SCOPES, type Scope } from "../auth/index.js";
import type { TenantId } from "../core/revision.js";
import type { Caller, CallerResolver } from "./caller.js";

const SCOPES_GRANTED: ReadonlySet<Scope> = new Set(SCOPES.filter((s) => s !== "admin"));

/**
 * The tenant of a token: `t-` and the first 32 hex digits of its SHA-256, which the tenant-id
 * rule accepts whatever the token holds, and which does not show the token in logs.
 */
export function tenantOfToken(token: string): TenantId {
  return `t-${createHash("sha256").update(token).digest("hex").slice(0, 32)}`;
}

/** The token of an `authorization` value: after `Bearer `, or the whole value without it. */
function tokenOf(authorization: string): string {
  const match = /^bearer\s+(.*)$/is.exec(authorization.trim());
  return (match === null ? authorization : match[1]!).trim();
}

export class PerTokenTenants implements CallerResolver {
  readonly #defaultTenant: TenantId;
  readonly #ensureTenant: (tenant: TenantId) => Promise<void>;
  /** One caller per tenant seen, once its tenant exists. */
  readonly #callers = new Map<TenantId, Promise<Caller>>();

  /** `ensureTenant` creates a tenant unless it exists (and tolerates a concurrent creation). */
  constructor(defaultTenant: TenantId, ensureTenant: (tenant: TenantId) => Promise<void>) {
    this.#defaultTenant = defaultTenant;
    this.#ensureTenant = ensureTenant;
  }

  resolve(metadata: Metadata): Promise<Caller> {
    const values = metadata.get("authorization");
    const token = values.length === 0 ? "" : tokenOf(String(values[0]));
    const tenant = token === "" ? this.#defaultTenant : tenantOfToken(token);
    let caller = this.#callers.get(tenant);
    if (caller === undefined) {
      caller = this.#ensureTenant(tenant).then(() => ({
        tenant,
        id: token === "" ? "testing:no-token" : `testing:${tenant}`,
        scopes: SCOPES_GRANTED,
        operator: false,
      }));
      this.#callers.set(tenant, caller);
      // A failed creation (the store down) is tried again by the next call.
      caller.catch(() => this.#callers.delete(tenant));
    }
    return caller;
  }
}
