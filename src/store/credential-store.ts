/**
 * API-key records: what `auth/` stores to verify a key later. The store keeps records only;
 * minting, hashing and verifying keys belong to `auth/`.
 */
import type { TenantId } from "../core/index.js";

/**
 * A stored API key. The store keeps the hash of the key's secret, never the secret; it knows
 * nothing of what scopes mean.
 */
export interface ApiKeyRecord {
  /** 16 lowercase letters and digits; unique across tenants. */
  readonly id: string;
  readonly tenant: TenantId;
  /** Lowercase hex SHA-256 of the secret. */
  readonly secretHash: string;
  /** Non-empty strings without NUL. */
  readonly scopes: readonly string[];
  /** At most 200 characters without NUL, for people. */
  readonly description: string;
  readonly createdAt: Date;
  /** Absent: the key does not expire. */
  readonly expiresAt?: Date;
  /** Absent while the key is not revoked. */
  readonly revokedAt?: Date;
}

/**
 * API-key records, outside revisions and the changelog (they are not versioned). The common
 * rules of `Datastore` (datastore.ts) apply.
 */
export interface CredentialStore {
  /**
   * Stores a new API key of an existing tenant (NOT_FOUND otherwise); ALREADY_EXISTS when the
   * id is taken; INVALID_ARGUMENT naming the field for a malformed record.
   */
  createApiKey(record: ApiKeyRecord): Promise<void>;

  /** The key with this id, revoked and expired ones included; undefined when there is none. */
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;

  /** The keys of a tenant, newest first (ties by id); NOT_FOUND for an unknown tenant. */
  listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]>;

  /**
   * Marks the key revoked at `at` and returns it; a key revoked before keeps its first
   * revocation time. Undefined when there is no such key.
   */
  revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined>;
}
