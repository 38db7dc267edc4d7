/**
 * The vocabulary of `TrellisClient`'s AdminService methods (API keys and tenants). Client-only:
 * the embedded `Trellis` manages keys and tenants through its datastore.
 */

/** An API key as listed: never its secret. */
export interface ApiKeyInfo {
  /** The `<id>` of `trls_<id>_<secret>`. */
  readonly id: string;
  readonly tenant: string;
  readonly scopes: readonly string[];
  readonly description: string;
  readonly createdAt: Date;
  readonly expiresAt?: Date;
  readonly revokedAt?: Date;
}

export interface CreateApiKeyInput {
  /** The scopes it grants: check, read, write, schema, watch, admin. */
  readonly scopes: readonly string[];
  /** Default: the caller's tenant. Another tenant needs an operator credential. */
  readonly tenant?: string;
  readonly description?: string;
  /** Default: never. */
  readonly expiresAt?: Date;
}

export interface CreatedApiKey {
  readonly key: ApiKeyInfo;
  /** The whole token, `trls_<id>_<secret>`: shown once. */
  readonly token: string;
}
