/**
 * API keys: minted here, stored (hash only) by the datastore, verified on every call. Store
 * reads are cached for a few seconds (`cacheTtlMs`) so that the hot path does not read the
 * store — the records of known keys, and the ids the store does not know, so that a known and
 * an unknown id cost the same (no timing tells which ids exist).
 *
 * Revocation: this process drops a revoked key from its cache once the store has committed the
 * revocation, and a store read of that key that was already in flight is not cached (it is
 * read again), so no call verified after `revoke` resolves accepts the key. Other processes
 * sharing the store see a revocation within `cacheTtlMs`.
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
  /**
   * How long a key record (or the absence of one) is trusted without a store read: how late
   * another process's revocation takes effect here. Default 5000 ms.
   */
  readonly cacheTtlMs?: number;
  /** Records kept, and unknown ids kept (apart, so junk ids do not evict keys). Default 10 000. */
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
  /** Key ids the store did not have when last read. */
  readonly #unknown: LRUCache<string, true>;
  /**
   * Key ids with a store read in flight, and how many times this process changed each (revoked
   * or created it) since: a read that overlapped a change is not cached but read again.
   */
  readonly #reads = new Map<string, { changes: number; readers: number }>();
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
    const cacheOptions = {
      max: options.cacheEntries ?? 10_000,
      ttl: options.cacheTtlMs ?? 5000,
      // The injected clock, read on every access (no cached time), so tests can move it.
      perf: { now: () => options.clock.now() },
      ttlResolution: 0,
    };
    this.#cache = new LRUCache(cacheOptions);
    this.#unknown = new LRUCache(cacheOptions);
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
        this.#changed(record.id);
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
    this.#changed(id);
    return record;
  }

  /** After the store committed a change of key `id`: nothing read before it may be trusted. */
  #changed(id: string): void {
    this.#cache.delete(id);
    this.#unknown.delete(id);
    const read = this.#reads.get(id);
    if (read !== undefined) read.changes++;
  }

  /** The cached entry of key `id`, or the store's (then cached); undefined: no such key. */
  async #lookup(id: string): Promise<CacheEntry | undefined> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    if (this.#unknown.get(id) !== undefined) return undefined;
    let read = this.#reads.get(id);
    if (read === undefined) {
      read = { changes: 0, readers: 0 };
      this.#reads.set(id, read);
    }
    read.readers++;
    try {
      for (let attempt = 1; ; attempt++) {
        const changes = read.changes;
        const stored = await this.#store.getApiKey(id);
        const entry =
          stored === undefined ? undefined : { record: stored, principal: principalOf(stored) };
        if (read.changes === changes) {
          if (entry === undefined) this.#unknown.set(id, true);
          else this.#cache.set(id, entry);
          return entry;
        }
        // The key changed while it was read: this read may predate the change. A read begun
        // after the change is current; after a few changes in a row, answer without caching.
        if (attempt >= 4) return entry;
      }
    } finally {
      if (--read.readers === 0) this.#reads.delete(id);
    }
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
    const entry = await this.#lookup(parsed.id);
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
