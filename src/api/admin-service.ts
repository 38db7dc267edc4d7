/**
 * AdminService: API keys and tenants. An `admin` credential manages the keys of its own
 * tenant, and grants a new key only scopes it holds itself; an operator (an `admin` credential
 * of the server's default tenant, or any caller in insecure-dev mode) also creates and lists
 * tenants and manages every tenant's keys. A key of another tenant is NOT_FOUND to a
 * non-operator, so that ids do not leak across tenants.
 */
import { type ApiKeys, parseScopes, type Scope } from "../auth/index.js";
import { invalidArgument, TrellisError } from "../core/errors.js";
import { NEW_TENANT_ID_PATTERN } from "../core/names.js";
import { quoteInput } from "../core/quote-input.js";
import type { TenantId } from "../core/revision.js";
import type { Engine } from "../engine/engine.js";
import type {
  AdminServiceServer,
  ApiKey,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  CreateTenantRequest,
  CreateTenantResponse,
  ListApiKeysRequest,
  ListApiKeysResponse,
  ListTenantsRequest,
  ListTenantsResponse,
  RevokeApiKeyRequest,
  RevokeApiKeyResponse,
} from "../gen/trellis/v1/admin_service.js";
import { API_KEY_ID, type ApiKeyRecord } from "../store/index.js";
import type { Caller } from "./caller.js";
import type { RequestPipeline } from "./request-pipeline.js";
import type { ServerMetrics } from "./server-metrics.js";

const SERVICE = "AdminService";

function keyToProto(record: ApiKeyRecord): ApiKey {
  return {
    keyId: record.id,
    tenant: record.tenant,
    scopes: [...record.scopes],
    description: record.description,
    createdAt: record.createdAt,
    optionalExpiresAt: record.expiresAt,
    optionalRevokedAt: record.revokedAt,
  };
}

/** The tenant a key request is about: the caller's own when the request names none. */
function keyTenant(caller: Caller, requested: string): TenantId {
  const tenant = requested === "" ? caller.tenant : requested;
  if (tenant !== caller.tenant && !caller.operator) {
    throw new TrellisError(
      "PERMISSION_DENIED",
      `this credential manages the keys of tenant ${caller.tenant} only`,
      { field: "tenant" },
    );
  }
  return tenant;
}

/**
 * The scopes a new key asks for, each one the caller holds itself: an admin credential cannot
 * mint a key more powerful than itself (INVALID_ARGUMENT for an unknown scope,
 * PERMISSION_DENIED for one it lacks).
 */
function grantableScopes(caller: Caller, requested: readonly string[]): Scope[] {
  const scopes = parseScopes(requested);
  for (const scope of scopes) {
    if (!caller.scopes.has(scope)) {
      throw new TrellisError(
        "PERMISSION_DENIED",
        `this credential cannot grant the ${scope} scope, which it does not hold itself`,
        { field: `scopes[${requested.indexOf(scope)}]` },
      );
    }
  }
  return scopes;
}

function requireOperator(caller: Caller, what: string): void {
  if (!caller.operator) {
    throw new TrellisError(
      "PERMISSION_DENIED",
      `${what} needs an admin credential of the server's default tenant`,
    );
  }
}

export function adminService(
  engine: Engine,
  apiKeys: ApiKeys,
  pipeline: RequestPipeline,
  metrics: ServerMetrics,
): AdminServiceServer {
  const store = engine.store;
  return {
    createApiKey: pipeline.unary<CreateApiKeyRequest, CreateApiKeyResponse>(
      `${SERVICE}/CreateApiKey`,
      async (req, ctx) => {
        const tenant = keyTenant(ctx.caller, req.tenant);
        const scopes = grantableScopes(ctx.caller, req.scopes);
        const created = await metrics.timeStore("createApiKey", () =>
          apiKeys.create({
            tenant,
            scopes,
            description: req.description,
            ...(req.optionalExpiresAt !== undefined ? { expiresAt: req.optionalExpiresAt } : {}),
          }),
        );
        ctx.audit({ keyId: created.record.id, keyTenant: tenant, scopes: scopes.join(" ") });
        return { key: keyToProto(created.record), token: created.token };
      },
    ),

    listApiKeys: pipeline.unary<ListApiKeysRequest, ListApiKeysResponse>(
      `${SERVICE}/ListApiKeys`,
      async (req, ctx) => {
        const tenant = keyTenant(ctx.caller, req.tenant);
        const keys = await metrics.timeStore("listApiKeys", () => apiKeys.list(tenant));
        return { keys: keys.map(keyToProto) };
      },
    ),

    revokeApiKey: pipeline.unary<RevokeApiKeyRequest, RevokeApiKeyResponse>(
      `${SERVICE}/RevokeApiKey`,
      async (req, ctx) => {
        if (!API_KEY_ID.test(req.keyId)) {
          throw invalidArgument("a key id is 16 lowercase letters and digits", "key_id");
        }
        ctx.audit({ keyId: req.keyId });
        const notFound = () =>
          new TrellisError("NOT_FOUND", `no API key ${req.keyId}`, { field: "key_id" });
        const existing = await metrics.timeStore("getApiKey", () => apiKeys.get(req.keyId));
        if (
          existing === undefined ||
          (existing.tenant !== ctx.caller.tenant && !ctx.caller.operator)
        ) {
          throw notFound();
        }
        const revoked = await metrics.timeStore("revokeApiKey", () => apiKeys.revoke(req.keyId));
        if (revoked === undefined) throw notFound();
        return { key: keyToProto(revoked) };
      },
    ),

    createTenant: pipeline.unary<CreateTenantRequest, CreateTenantResponse>(
      `${SERVICE}/CreateTenant`,
      async (req, ctx) => {
        requireOperator(ctx.caller, "CreateTenant");
        if (!NEW_TENANT_ID_PATTERN.test(req.tenant)) {
          throw invalidArgument(
            `invalid tenant id ${quoteInput(req.tenant)}: expected 1-64 characters of lowercase letters, digits, '_' and '-', starting with a letter or digit`,
            "tenant",
          );
        }
        ctx.audit({ newTenant: req.tenant });
        await metrics.timeStore("createTenant", () => store.createTenant(req.tenant));
        return { tenant: req.tenant };
      },
    ),

    listTenants: pipeline.unary<ListTenantsRequest, ListTenantsResponse>(
      `${SERVICE}/ListTenants`,
      async (_req, ctx) => {
        requireOperator(ctx.caller, "ListTenants");
        return { tenants: await metrics.timeStore("listTenants", () => store.listTenants()) };
      },
    ),
  };
}
