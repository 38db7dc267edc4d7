/** Who a verified credential speaks for. */
import type { TenantId } from "../core/revision.js";
import type { Scope } from "./scopes.js";

export interface Principal {
  /** The one tenant the credential acts on. */
  readonly tenant: TenantId;
  /** Names the caller in logs and the audit log (`key:<id>`, `jwt:<sub>`); never a secret. */
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
  /** How the caller proved who it is. */
  readonly kind: "api_key" | "jwt" | "insecure_dev";
}

/**
 * Why a credential was refused. Logged and audited; the caller only ever learns the generic
 * "invalid or missing credentials".
 */
export type AuthFailureReason =
  | "missing"
  | "malformed"
  | "unknown_key"
  | "wrong_secret"
  | "revoked"
  | "expired"
  | "jwt_not_configured"
  | "jwt_invalid"
  | "no_tenant_claim"
  | "invalid_tenant_claim"
  | "duplicate_authorization";

/** A refused credential; the authenticator turns it into UNAUTHENTICATED. */
export class AuthFailure extends Error {
  readonly reason: AuthFailureReason;
  /** The key id a refused API key named, for the audit log. */
  readonly keyId: string | undefined;

  constructor(reason: AuthFailureReason, detail: string, keyId?: string) {
    super(detail);
    this.name = "AuthFailure";
    this.reason = reason;
    this.keyId = keyId;
  }
}
