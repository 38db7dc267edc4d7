/**
 * Keeps one tenant's in-memory index and schema versions current from the store: a snapshot
 * export at start, then the changelog, applied in revision order. Requests wait here (bounded)
 * for the revision their consistency asks for.
 */
import type { Clock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import type { Revision, TenantId } from "../core/revision.js";
import { compileSchemaText } from "../schema/compiler.js";
import type { ChangeEvent, Datastore } from "../store/datastore.js";
import { EngineSchema } from "./engine-schema.js";
import { TupleIndex } from "./tuple-index.js";

export interface TenantMirrorOptions {
  readonly clock: Clock;
  /** How long deleted tuple versions stay readable in memory (snapshot reads at old zookies). */
  readonly historyWindowMs: number;
  /** Changelog entries fetched per round. */
  readonly batchSize?: number;
  /** Reports errors of the background follower (the store being down, typically). */
  readonly onError?: (err: unknown) => void;
}

interface SchemaVersion {
  readonly revision: Revision;
  readonly schema: EngineSchema | undefined;
}

/** A compiled-schema cache shared by tenants: identical texts compile once. */
const compiledByText = new Map<string, EngineSchema>();

export function engineSchemaFor(text: string): EngineSchema {
  let schema = compiledByText.get(text);
  if (schema === undefined) {
    schema = new EngineSchema(compileSchemaText(text));
    if (compiledByText.size > 256) compiledByText.clear();
    compiledByText.set(text, schema);
  }
  return schema;
}

export class TenantMirror {
  readonly tenant: TenantId;
  readonly index = new TupleIndex();
  readonly #store: Datastore;
  readonly #options: TenantMirrorOptions;
  /** Everything at or before this revision has been applied. */
  #revision: Revision = -1;
  /** The oldest revision the index can still answer for. */
  #horizon: Revision = 0;
  readonly #schemas: SchemaVersion[] = [];
  /** (time, revision) samples: which revision was current when, for the history window. */
  readonly #samples: { at: number; revision: Revision }[] = [];
  readonly #waiters = new Set<{ revision: Revision; resolve: () => void }>();
  readonly #abort = new AbortController();
  #follower: Promise<void> | undefined;
  #lastError: unknown;

  private constructor(store: Datastore, tenant: TenantId, options: TenantMirrorOptions) {
    this.#store = store;
    this.tenant = tenant;
    this.#options = options;
  }

  /** Loads the tenant at its head revision and starts following the changelog. */
  static async open(
    store: Datastore,
    tenant: TenantId,
    options: TenantMirrorOptions,
  ): Promise<TenantMirror> {
    const mirror = new TenantMirror(store, tenant, options);
    await mirror.#load();
    mirror.#follower = mirror.#follow();
    return mirror;
  }

  get revision(): Revision {
    return this.#revision;
  }

  get horizon(): Revision {
    return this.#horizon;
  }

  /** The error of the follower's last failed round, cleared by the next good one. */
  get lastError(): unknown {
    return this.#lastError;
  }

  async #load(): Promise<void> {
    const head = await this.#store.headRevision(this.tenant);
    const stored = await this.#store.readSchema(this.tenant, head);
    this.#schemas.push({
      revision: stored?.revision ?? 0,
      schema: stored === undefined ? undefined : engineSchemaFor(stored.text),
    });
    for await (const rel of this.#store.export(this.tenant, head)) {
      // Versions loaded from a snapshot are visible from the horizon on.
      this.index.touch(rel, head);
    }
    this.#revision = head;
    this.#horizon = head;
    this.#samples.push({ at: this.#options.clock.now(), revision: head });
  }

  async #follow(): Promise<void> {
    const signal = this.#abort.signal;
    let backoff = 50;
    while (!signal.aborted) {
      try {
        await this.catchUp();
        this.#lastError = undefined;
        backoff = 50;
        await this.#store.waitForChanges(this.tenant, this.#revision, {
          signal,
          timeoutMs: 5000,
        });
      } catch (err) {
        if (signal.aborted) return;
        this.#lastError = err;
        this.#options.onError?.(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  #catchingUp: Promise<void> | undefined;

  /**
   * Applies every change up to the current head. Concurrent callers share one round, so a
   * burst of requests waiting for freshness costs one changelog read.
   */
  catchUp(): Promise<void> {
    if (this.#catchingUp === undefined) {
      this.#catchingUp = this.#catchUpOnce().finally(() => {
        this.#catchingUp = undefined;
      });
    }
    return this.#catchingUp;
  }

  async #catchUpOnce(): Promise<void> {
    const batch = this.#options.batchSize ?? 10_000;
    for (;;) {
      // Head first: every change at or before it is in the changelog read next, so the mirror
      // may claim head even when its last revisions changed nothing.
      const head = await this.#store.headRevision(this.tenant);
      if (head <= this.#revision) return;
      const changes = await this.#store.changesSince(this.tenant, this.#revision, batch);
      for (const change of changes) this.#apply(change);
      const last = changes.length > 0 ? changes[changes.length - 1]!.revision : this.#revision;
      const reached = changes.length >= batch ? last : Math.max(last, head);
      this.#advance(reached);
      if (changes.length < batch) return;
    }
  }

  #apply(change: ChangeEvent): void {
    switch (change.op) {
      case "TOUCH":
        this.index.touch(change.relationship, change.revision);
        return;
      case "DELETE":
        this.index.delete(change.relationship, change.revision);
        return;
      case "SCHEMA":
        this.#schemas.push({ revision: change.revision, schema: engineSchemaFor(change.text) });
        return;
    }
  }

  #advance(revision: Revision): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    const now = this.#options.clock.now();
    this.#samples.push({ at: now, revision });
    for (const w of this.#waiters) {
      if (w.revision <= revision) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
    this.#compactIfDue(now);
  }

  #lastCompaction = 0;

  /** Drops history older than the window, at most once a minute. */
  #compactIfDue(now: number): void {
    if (now - this.#lastCompaction < 60_000) return;
    this.#lastCompaction = now;
    const cutoff = now - this.#options.historyWindowMs;
    let horizon = this.#horizon;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= cutoff) {
      this.#samples.shift();
      horizon = this.#samples[0]!.revision;
    }
    if (horizon > this.#horizon) {
      this.#horizon = horizon;
      this.index.compact(horizon, now);
      while (this.#schemas.length > 1 && this.#schemas[1]!.revision <= horizon) {
        this.#schemas.shift();
      }
    }
  }

  /** The schema in force at `revision` (undefined: none written yet). */
  schemaAt(revision: Revision): EngineSchema | undefined {
    for (let i = this.#schemas.length - 1; i >= 0; i--) {
      const v = this.#schemas[i]!;
      if (v.revision <= revision) return v.schema;
    }
    return undefined;
  }

  /** Resolves once the mirror has applied `revision`; DEADLINE_EXCEEDED after `timeoutMs`. */
  async waitFor(revision: Revision, timeoutMs: number): Promise<void> {
    if (this.#revision >= revision) return;
    void this.catchUp().catch(() => {});
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new TrellisError(
            "DEADLINE_EXCEEDED",
            `revision ${revision} was not applied within ${timeoutMs} ms (at ${this.#revision})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
      if (this.#revision >= revision) waiter.resolve();
    });
  }

  #optimized = { window: -1, revision: 0 };

  /**
   * The revision that was current at the start of the present window of `maxStalenessMs`, so
   * that requests in one window share cache keys; never below the horizon, at most
   * `maxStalenessMs` (plus replication lag) old.
   */
  optimizedRevision(maxStalenessMs: number): Revision {
    if (maxStalenessMs <= 0) return this.#revision;
    const now = this.#options.clock.now();
    const window = Math.floor(now / maxStalenessMs) * maxStalenessMs;
    if (this.#optimized.window === window) return this.#optimized.revision;
    // Binary search: the last sample taken at or before the window start.
    const samples = this.#samples;
    let lo = 0;
    let hi = samples.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (samples[mid]!.at <= window) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const revision = Math.max(found < 0 ? this.#horizon : samples[found]!.revision, this.#horizon);
    this.#optimized = { window, revision };
    return revision;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#follower;
  }
}
