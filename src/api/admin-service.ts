/**
 * AdminService: tenants are real; API keys are not there yet. Keys belong to caller
 * authentication (hashed storage, scopes, revocation, DESIGN.md §9), which is a later piece of
 * work; until it lands the key RPCs answer UNIMPLEMENTED rather than hand out keys that would
 * protect nothing.
 */
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { Engine } from "../engine/engine.js";
import type {
  AdminServiceServer,
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
import type { RequestPipeline } from "./request-pipeline.js";
import type { ServerMetrics } from "./server-metrics.js";

const SERVICE = "AdminService";

/** The tenant ids AdminService creates (proto: lowercase letters, digits, `_`, `-`; 1-64). */
const NEW_TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const API_KEYS_LATER =
  "API keys are not available yet: caller authentication is not implemented in this release, and the server runs only with --insecure-dev, where no credential is checked";

async function apiKeysUnavailable(): Promise<never> {
  throw new TrellisError("UNIMPLEMENTED", API_KEYS_LATER);
}

export function adminService(
  engine: Engine,
  pipeline: RequestPipeline,
  metrics: ServerMetrics,
): AdminServiceServer {
  const store = engine.store;
  return {
    createApiKey: pipeline.unary<CreateApiKeyRequest, CreateApiKeyResponse>(
      `${SERVICE}/CreateApiKey`,
      apiKeysUnavailable,
    ),
    listApiKeys: pipeline.unary<ListApiKeysRequest, ListApiKeysResponse>(
      `${SERVICE}/ListApiKeys`,
      apiKeysUnavailable,
    ),
    revokeApiKey: pipeline.unary<RevokeApiKeyRequest, RevokeApiKeyResponse>(
      `${SERVICE}/RevokeApiKey`,
      apiKeysUnavailable,
    ),

    createTenant: pipeline.unary<CreateTenantRequest, CreateTenantResponse>(
      `${SERVICE}/CreateTenant`,
      async (req) => {
        if (!NEW_TENANT_ID.test(req.tenant)) {
          throw invalidArgument(
            `invalid tenant id ${JSON.stringify(req.tenant.slice(0, 80))}: expected 1-64 characters of lowercase letters, digits, '_' and '-', starting with a letter or digit`,
            "tenant",
          );
        }
        await metrics.timeStore("createTenant", () => store.createTenant(req.tenant));
        return { tenant: req.tenant };
      },
    ),

    listTenants: pipeline.unary<ListTenantsRequest, ListTenantsResponse>(
      `${SERVICE}/ListTenants`,
      async () => ({ tenants: await metrics.timeStore("listTenants", () => store.listTenants()) }),
    ),
  };
}
