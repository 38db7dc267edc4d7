/**
 * API keys: minted here, stored (hash only) by the datastore, verified on every call. Verified
 * records are cached for a few seconds so that the hot path does not read the store; the cache
 * is dropped for a key the moment this process revokes it, and other processes sharing the
 * store see a revocation within `cacheTtlMs`.
 */
import { LRUCache } from "lru-cache";
import type { Clock } from "../core/clock.js";
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { TenantId } from "../core/revision.js";
import type { ApiKeyRecord, Datastore } from "../store/datastore.js";
import { mintApiKey, NO_MATCH_HASH, parseApiKey, secretMatches } from "./api-key-token.js";
import { AuthFailure, type Principal } from "./principal.js";
import { knownScopes, parseScopes } from "./scopes.js";

export interface ApiKeysOptions {
  readonly clock: Clock;
  /** How long a verified key record is trusted without a store read. Default 5000 ms. */
  readonly cacheTtlMs?: number;
  /** Records kept. Default 10 000. */
  readonly cacheEntries?: number;
}

export interface NewApiKey {
  readonly tenant: TenantId;
  readonly scopes: readonly string[];
  readonly description?: string;
  readonly expiresAt?: Date;
}

export interface CreatedApiKey {
  readonly record: ApiKeyRecord;
  /** `trls_<id>_<secret>`: exists only in this answer. */
  readonly token: string;
}

const MAX_DESCRIPTION = 200;

export class ApiKeys {
  readonly #store: Datastore;
  readonly #clock: Clock;
  /** Verified records and the principal each stands for, by key id. */
  readonly #cache: LRUCache<string, CacheEntry>;
  /**
   * Whole tokens verified against an entry of `#cache`, so that a repeated call costs one map
   * lookup instead of parsing and hashing; trusted only while that very entry is still cached.
   */
  readonly #verified = new Map<string, CacheEntry>();
  readonly #maxVerified: number;

  constructor(store: Datastore, options: ApiKeysOptions) {
    this.#store = store;
    this.#clock = options.clock;
    this.#maxVerified = options.cacheEntries ?? 10_000;
    this.#cache = new LRUCache({
      max: options.cacheEntries ?? 10_000,
      ttl: options.cacheTtlMs ?? 5000,
      // The injected clock, read on every access (no cached time), so tests can move it.
      perf: { now: () => options.clock.now() },
      ttlResolution: 0,
    });
  }

  async create(request: NewApiKey): Promise<CreatedApiKey> {
    const scopes = parseScopes(request.scopes);
    const description = request.description ?? "";
    if (description.length > MAX_DESCRIPTION) {
      throw invalidArgument(
        `the description has ${description.length} characters; at most ${MAX_DESCRIPTION}`,
        "description",
      );
    }
    const now = this.#clock.now();
    if (request.expiresAt !== undefined && request.expiresAt.getTime() <= now) {
      throw invalidArgument("the expiration must be in the future", "expires_at");
    }
    // A clash of two random 16-character ids is astronomically rare; one retry covers it.
    for (let attempt = 0; ; attempt++) {
      const minted = mintApiKey();
      const record: ApiKeyRecord = {
        id: minted.id,
        tenant: request.tenant,
        secretHash: minted.secretHash,
        scopes,
        description,
        createdAt: new Date(now),
        ...(request.expiresAt !== undefined ? { expiresAt: request.expiresAt } : {}),
      };
      try {
        await this.#store.createApiKey(record);
        return { record, token: minted.token };
      } catch (err) {
        if (!(err instanceof TrellisError && err.code === "ALREADY_EXISTS") || attempt > 0) {
          throw err;
        }
      }
    }
  }

  list(tenant: TenantId): Promise<ApiKeyRecord[]> {
    return this.#store.listApiKeys(tenant);
  }

  get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#store.getApiKey(id);
  }

  /** Revokes at once for this process; see the file comment for other processes. */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    const record = await this.#store.revokeApiKey(id, new Date(this.#clock.now()));
    this.#cache.delete(id);
    return record;
  }

  /** The principal of a token verified before and still valid; undefined: call `verify`. */
  verifyCached(token: string): Principal | undefined {
    const entry = this.#verified.get(token);
    if (entry === undefined) return undefined;
    if (this.#cache.get(entry.record.id) !== entry || this.#refusal(entry.record) !== undefined) {
      this.#verified.delete(token);
      return undefined;
    }
    return entry.principal;
  }

  /** The principal of a valid token; `AuthFailure` otherwise. */
  async verify(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (parsed === undefined) throw new AuthFailure("malformed", "malformed API key");
    let entry = this.#cache.get(parsed.id);
    if (entry === undefined) {
      const stored = await this.#store.getApiKey(parsed.id);
      if (stored !== undefined) {
        entry = { record: stored, principal: principalOf(stored) };
        this.#cache.set(parsed.id, entry);
      }
    }
    const record = entry?.record;
    // The comparison runs for unknown ids too, so timing does not tell which ids exist.
    const matches = secretMatches(parsed.secret, record?.secretHash ?? NO_MATCH_HASH);
    if (record === undefined) throw new AuthFailure("unknown_key", "unknown key id", parsed.id);
    if (!matches) throw new AuthFailure("wrong_secret", "wrong secret", parsed.id);
    const refusal = this.#refusal(record);
    if (refusal !== undefined) throw refusal;
    if (this.#verified.size >= this.#maxVerified) this.#verified.clear();
    this.#verified.set(token, entry!);
    return entry!.principal;
  }

  /** Why a known key may not be used now; undefined when it may. */
  #refusal(record: ApiKeyRecord): AuthFailure | undefined {
    const now = this.#clock.now();
    if (record.revokedAt !== undefined && record.revokedAt.getTime() <= now) {
      return new AuthFailure("revoked", "the key is revoked", record.id);
    }
    if (record.expiresAt !== undefined && record.expiresAt.getTime() <= now) {
      return new AuthFailure("expired", "the key has expired", record.id);
    }
    return undefined;
  }
}

interface CacheEntry {
  readonly record: ApiKeyRecord;
  readonly principal: Principal;
}

function principalOf(record: ApiKeyRecord): Principal {
  return {
    tenant: record.tenant,
    id: `key:${record.id}`,
    scopes: knownScopes(record.scopes),
    kind: "api_key",
  };
}
