/** API-key records in SQLite: one table, outside revisions and the changelog. */
import type { TenantId } from "../../core/index.js";
import {
  type ApiKeyRow,
  apiKeyExists,
  apiKeyValues,
  checkApiKeyId,
  checkDate,
  checkNewApiKey,
  rowToApiKey,
} from "../api-key-records.js";
import { checkTenantId } from "../argument-checks.js";
import type { ApiKeyRecord, CredentialStore } from "../credential-store.js";
import type { SqliteConnection } from "./sqlite-connection.js";
import { isUniqueViolation } from "./sqlite-errors.js";

const API_KEY_SELECT = `SELECT k.id, t.id AS tenant_id, k.secret_hash, k.scopes, k.description, k.created_at, k.expires_at, k.revoked_at
  FROM api_keys k JOIN tenants t ON t.pk = k.tenant`;

export class SqliteCredentialStore implements CredentialStore {
  readonly #db: SqliteConnection;

  constructor(db: SqliteConnection) {
    this.#db = db;
  }

  async createApiKey(record: ApiKeyRecord): Promise<void> {
    checkTenantId(record.tenant);
    checkNewApiKey(record);
    return this.#db.write("createApiKey", () => {
      const t = this.#db.tenant(record.tenant);
      try {
        this.#db
          .stmt(
            "INSERT INTO api_keys (id, tenant, secret_hash, scopes, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          )
          .run(record.id, t.pk, ...apiKeyValues(record));
      } catch (err) {
        if (isUniqueViolation(err)) throw apiKeyExists(record.id);
        throw err;
      }
    });
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    return this.#db.run("getApiKey", () => {
      const row = this.#db.stmt<ApiKeyRow>(`${API_KEY_SELECT} WHERE k.id = ?`).get(id);
      return row === undefined ? undefined : rowToApiKey(row);
    });
  }

  async listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]> {
    checkTenantId(tenant);
    return this.#db.read("listApiKeys", () => {
      const t = this.#db.tenant(tenant);
      return this.#db
        .stmt<ApiKeyRow>(`${API_KEY_SELECT} WHERE k.tenant = ? ORDER BY k.created_at DESC, k.id`)
        .all(t.pk)
        .map(rowToApiKey);
    });
  }

  async revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    checkDate(at, "at");
    return this.#db.write("revokeApiKey", () => {
      this.#db
        .stmt("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?")
        .run(at.getTime(), id);
      const row = this.#db.stmt<ApiKeyRow>(`${API_KEY_SELECT} WHERE k.id = ?`).get(id);
      return row === undefined ? undefined : rowToApiKey(row);
    });
  }
}
