/** API-key records in PostgreSQL: one table, outside revisions and the changelog. */
import { type TenantId, TrellisError } from "../../core/index.js";
import {
  type ApiKeyRow,
  apiKeyExists,
  apiKeyValues,
  checkApiKeyId,
  checkDate,
  checkNewApiKey,
  rowToApiKey,
} from "../api-key-records.js";
import { checkTenantId, tenantNotFound } from "../argument-checks.js";
import type { ApiKeyRecord, CredentialStore } from "../credential-store.js";
import type { PostgresConnection } from "./postgres-connection.js";
import { isUniqueViolation } from "./postgres-errors.js";

const API_KEY_COLUMNS =
  "k.id, t.id AS tenant_id, k.secret_hash, k.scopes, k.description, k.created_at, k.expires_at, k.revoked_at";

export class PostgresCredentialStore implements CredentialStore {
  readonly #db: PostgresConnection;

  constructor(db: PostgresConnection) {
    this.#db = db;
  }

  get #select(): string {
    return `SELECT ${API_KEY_COLUMNS}
      FROM ${this.#db.s}.api_keys k JOIN ${this.#db.s}.tenants t ON t.pk = k.tenant`;
  }

  async createApiKey(record: ApiKeyRecord): Promise<void> {
    checkTenantId(record.tenant);
    checkNewApiKey(record);
    const s = this.#db.s;
    let rows: { id: string }[];
    try {
      rows = await this.#db.query<{ id: string }>(
        "createApiKey",
        `INSERT INTO ${s}.api_keys (id, tenant, secret_hash, scopes, description, created_at, expires_at)
         SELECT $1, t.pk, $3, $4, $5, $6, $7 FROM ${s}.tenants t WHERE t.id = $2
         RETURNING id`,
        [record.id, record.tenant, ...apiKeyValues(record)],
      );
    } catch (err) {
      if (err instanceof TrellisError && isUniqueViolation(err.cause)) {
        throw apiKeyExists(record.id);
      }
      throw err;
    }
    if (rows.length === 0) throw tenantNotFound(record.tenant);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    const rows = await this.#db.query<ApiKeyRow>(
      "getApiKey",
      `${this.#select} WHERE k.id = $1`,
      [id],
      true,
    );
    return rows[0] === undefined ? undefined : rowToApiKey(rows[0]);
  }

  async listApiKeys(tenant: TenantId): Promise<ApiKeyRecord[]> {
    checkTenantId(tenant);
    const rows = await this.#db.query<ApiKeyRow>(
      "listApiKeys",
      `SELECT ${API_KEY_COLUMNS} FROM ${this.#db.s}.tenants t
       LEFT JOIN ${this.#db.s}.api_keys k ON k.tenant = t.pk
       WHERE t.id = $1 ORDER BY k.created_at DESC, k.id`,
      [tenant],
    );
    if (rows.length === 0) throw tenantNotFound(tenant);
    return rows.filter((row) => row.id !== null).map(rowToApiKey);
  }

  async revokeApiKey(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    checkApiKeyId(id);
    checkDate(at, "at");
    const s = this.#db.s;
    const rows = await this.#db.query<ApiKeyRow>(
      "revokeApiKey",
      `WITH revoked AS (
         UPDATE ${s}.api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
         RETURNING *)
       SELECT ${API_KEY_COLUMNS} FROM revoked k JOIN ${s}.tenants t ON t.pk = k.tenant`,
      [id, at.getTime()],
    );
    return rows[0] === undefined ? undefined : rowToApiKey(rows[0]);
  }
}
