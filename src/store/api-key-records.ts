/**
 * The engine-independent half of API-key storage: argument checks and the row format every
 * engine shares. The store keeps records only; minting, hashing and verifying keys belong to
 * `auth/`.
 */
import { invalidArgument, TrellisError } from "../core/index.js";
import type { ApiKeyRecord } from "./credential-store.js";

/** Key ids: 16 lowercase letters and digits (the `<id>` of `trls_<id>_<secret>`). */
export const API_KEY_ID = /^[a-z0-9]{16}$/;
const SECRET_HASH = /^[0-9a-f]{64}$/;
const MAX_DESCRIPTION = 200;

/**
 * A key's row as the SQL engines select it and the memory engine keeps it (times as epoch ms;
 * pg returns int8 as strings).
 */
export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  secret_hash: string;
  scopes: string;
  description: string;
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

export function checkApiKeyId(id: unknown, field = "id"): asserts id is string {
  if (typeof id !== "string" || !API_KEY_ID.test(id)) {
    throw invalidArgument("an API key id is 16 lowercase letters and digits", field);
  }
}

/** Checks a record to insert; throws INVALID_ARGUMENT naming the field. */
export function checkNewApiKey(record: ApiKeyRecord): void {
  checkApiKeyId(record.id, "id");
  if (typeof record.secretHash !== "string" || !SECRET_HASH.test(record.secretHash)) {
    throw invalidArgument("secretHash must be 64 lowercase hex digits", "secretHash");
  }
  if (
    !Array.isArray(record.scopes) ||
    !record.scopes.every((s) => typeof s === "string" && s !== "" && !s.includes("\0"))
  ) {
    throw invalidArgument("scopes must be an array of non-empty strings without NUL", "scopes");
  }
  if (
    typeof record.description !== "string" ||
    record.description.length > MAX_DESCRIPTION ||
    record.description.includes("\0")
  ) {
    throw invalidArgument(
      `description must be a string of at most ${MAX_DESCRIPTION} characters without NUL`,
      "description",
    );
  }
  checkDate(record.createdAt, "createdAt");
  if (record.expiresAt !== undefined) checkDate(record.expiresAt, "expiresAt");
  if (record.revokedAt !== undefined) {
    throw invalidArgument("a new key cannot be revoked already", "revokedAt");
  }
}

export function checkDate(value: unknown, field: string): asserts value is Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalidArgument(`${field} must be a valid Date`, field);
  }
}

export function apiKeyExists(id: string): TrellisError {
  return new TrellisError("ALREADY_EXISTS", `an API key with id ${id} exists already`, {
    field: "id",
  });
}

/** The values to insert, in the column order `id, tenant, secret_hash, scopes, description, created_at, expires_at`. */
export function apiKeyValues(
  record: ApiKeyRecord,
): [string, string, string, number, number | null] {
  return [
    record.secretHash,
    JSON.stringify(record.scopes),
    record.description,
    record.createdAt.getTime(),
    record.expiresAt?.getTime() ?? null,
  ];
}

export function rowToApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenant: row.tenant_id,
    secretHash: row.secret_hash,
    scopes: JSON.parse(row.scopes) as string[],
    description: row.description,
    createdAt: new Date(Number(row.created_at)),
    ...(row.expires_at !== null ? { expiresAt: new Date(Number(row.expires_at)) } : {}),
    ...(row.revoked_at !== null ? { revokedAt: new Date(Number(row.revoked_at)) } : {}),
  };
}
