/**
 * Keeps one tenant's in-memory index and schema versions current from the store: a sequential
 * scan at the head when it starts (in the background: until it ends, the engine answers the
 * tenant from the store), then the changelog, applied in revision order. Requests wait here
 * (bounded) for a revision newer than the index has applied.
 *
 * The index is a cache: the mirror drops history older than its window (reads older than that
 * go to the store), rebuilds the index by a fresh scan when garbage versions fill half of it,
 * and gives up loading a tenant that does not fit the memory budget (`admit`).
 */
import type { Clock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import { yieldToEventLoop } from "../core/event-loop.js";
import type { Revision, TenantId } from "../core/revision.js";
import { compileSchemaText } from "../schema/compiler.js";
import type { ChangeEvent, Datastore } from "../store/datastore.js";
import { CompactIndex } from "./compact-index.js";
import { EngineSchema } from "./engine-schema.js";

export interface TenantMirrorOptions {
  readonly clock: Clock;
  /** How long deleted tuple versions stay readable in memory (snapshot reads at old zookies). */
  readonly historyWindowMs: number;
  /** Changelog entries fetched per round. */
  readonly batchSize?: number;
  /** Reports errors of the background follower (the store being down, typically). */
  readonly onError?: (err: unknown) => void;
  /**
   * Asked while the index loads and grows, with its estimated bytes: false stops the load
   * (the tenant is then served from the store).
   */
  readonly admit?: (bytes: number) => boolean;
  /** Told when the index has loaded (or reloaded), with its estimated bytes. */
  readonly onLoaded?: (bytes: number) => void;
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

/** Rows loaded between two yields to the event loop. */
const LOAD_SLICE = 4096;

export type MirrorState = "loading" | "ready" | "refused" | "failed" | "closed";

export class TenantMirror {
  readonly tenant: TenantId;
  readonly #store: Datastore;
  readonly #options: TenantMirrorOptions;
  #index: CompactIndex | undefined;
  #state: MirrorState = "loading";
  /** Everything at or before this revision has been applied. */
  #revision: Revision = -1;
  /** The oldest revision the index can still answer for. */
  #horizon: Revision = 0;
  #schemas: SchemaVersion[] = [];
  /** (time, revision) samples: which revision was current when, for the history window. */
  #samples: { at: number; revision: Revision }[] = [];
  readonly #waiters = new Set<{
    revision: Revision;
    resolve: () => void;
    reject: (err: unknown) => void;
  }>();
  readonly #abort = new AbortController();
  readonly #ready: Promise<void>;
  #follower: Promise<void> | undefined;
  #rebuilding: Promise<void> | undefined;
  #lastError: unknown;

  private constructor(store: Datastore, tenant: TenantId, options: TenantMirrorOptions) {
    this.#store = store;
    this.tenant = tenant;
    this.#options = options;
    this.#ready = this.#start();
    // A load that fails is reported through `ready`; nothing else awaits it.
    this.#ready.catch(() => {});
  }

  /** Starts loading the tenant in the background; `ready` settles when the load ends. */
  static start(store: Datastore, tenant: TenantId, options: TenantMirrorOptions): TenantMirror {
    return new TenantMirror(store, tenant, options);
  }

  /** Loads the tenant and resolves once its index answers. */
  static async open(
    store: Datastore,
    tenant: TenantId,
    options: TenantMirrorOptions,
  ): Promise<TenantMirror> {
    const mirror = TenantMirror.start(store, tenant, options);
    await mirror.ready;
    return mirror;
  }

  /** Settles when the first load ends: resolved when the index answers, rejected otherwise. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get state(): MirrorState {
    return this.#state;
  }

  /** The index, once loaded. */
  get index(): CompactIndex | undefined {
    return this.#state === "ready" ? this.#index : undefined;
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

  async #start(): Promise<void> {
    try {
      const loaded = await this.#load();
      if (loaded === undefined) {
        this.#state = this.#abort.signal.aborted ? "closed" : "refused";
        throw new TrellisError("UNAVAILABLE", `the index of tenant ${this.tenant} was not loaded`);
      }
      this.#install(loaded);
      this.#state = "ready";
      this.#options.onLoaded?.(loaded.index.bytes);
      this.#follower = this.#follow();
    } catch (err) {
      if (this.#state === "loading") this.#state = "failed";
      throw err;
    }
  }

  /** A fresh index of the store at its head, or undefined when stopped or refused. */
  async #load(): Promise<Loaded | undefined> {
    const head = await this.#store.headRevision(this.tenant);
    const stored = await this.#store.readSchema(this.tenant, head);
    const index = new CompactIndex();
    let n = 0;
    for await (const rel of this.#store.export(this.tenant, head)) {
      index.addLoaded(rel, head);
      if (++n % LOAD_SLICE === 0) {
        // The store's reads may be synchronous: let other requests run between slices.
        await yieldToEventLoop();
        if (this.#abort.signal.aborted) return undefined;
        if (this.#options.admit !== undefined && !this.#options.admit(index.bytes))
          return undefined;
      }
    }
    index.seal();
    if (this.#options.admit !== undefined && !this.#options.admit(index.bytes)) return undefined;
    return {
      index,
      head,
      schema: {
        revision: stored?.revision ?? 0,
        schema: stored === undefined ? undefined : engineSchemaFor(stored.text),
      },
    };
  }

  #install(loaded: Loaded): void {
    this.#index = loaded.index;
    this.#revision = loaded.head;
    this.#horizon = loaded.head;
    this.#schemas = [loaded.schema];
    this.#samples = [{ at: this.#options.clock.now(), revision: loaded.head }];
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
   * burst of requests waiting for freshness costs one changelog read. Waiters fail with the
   * round's error (the store being down is UNAVAILABLE), not after their timeout.
   */
  catchUp(): Promise<void> {
    if (this.#catchingUp === undefined) {
      this.#catchingUp = this.#catchUpOnce()
        .catch((err: unknown) => {
          for (const w of this.#waiters) {
            this.#waiters.delete(w);
            w.reject(err);
          }
          throw err;
        })
        .finally(() => {
          this.#catchingUp = undefined;
        });
    }
    return this.#catchingUp;
  }

  async #catchUpOnce(): Promise<void> {
    const index = this.#index;
    if (index === undefined) return;
    const batch = this.#options.batchSize ?? 10_000;
    for (;;) {
      // Head first: every change at or before it is in the changelog read next, so the mirror
      // may claim head even when its last revisions changed nothing.
      const head = await this.#store.headRevision(this.tenant);
      if (head <= this.#revision) return;
      const changes = await this.#store.changesSince(this.tenant, this.#revision, batch);
      if (this.#index !== index) return;
      for (const change of changes) this.#apply(index, change);
      const last = changes.length > 0 ? changes[changes.length - 1]!.revision : this.#revision;
      const reached = changes.length >= batch ? last : Math.max(last, head);
      this.#advance(reached);
      if (changes.length < batch) return;
    }
  }

  #apply(index: CompactIndex, change: ChangeEvent): void {
    switch (change.op) {
      case "TOUCH":
        index.touch(change.relationship, change.revision);
        return;
      case "DELETE":
        index.delete(change.relationship, change.revision);
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

  /** Drops history older than the window, at most once a minute; rebuilds when due. */
  #compactIfDue(now: number): void {
    if (now - this.#lastCompaction < 60_000) return;
    this.#lastCompaction = now;
    const cutoff = now - this.#options.historyWindowMs;
    let horizon = this.#horizon;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= cutoff) {
      this.#samples.shift();
      horizon = this.#samples[0]!.revision;
    }
    const index = this.#index;
    if (index === undefined) return;
    if (horizon > this.#horizon) {
      this.#horizon = horizon;
      while (this.#schemas.length > 1 && this.#schemas[1]!.revision <= horizon) {
        this.#schemas.shift();
      }
    }
    index.compact(this.#horizon, now);
    if (index.garbage > index.slots / 2 && index.slots > 50_000) this.#rebuild();
    else if (this.#options.admit !== undefined && !this.#options.admit(index.bytes)) {
      this.#options.onError?.(
        new TrellisError("RESOURCE_EXHAUSTED", `the index of ${this.tenant} outgrew the budget`),
      );
    }
  }

  /**
   * Replaces the index by a fresh load, which drops garbage versions; the old index answers
   * until the new one has caught up. The new index holds history from its own load on, so
   * older reads go to the store meanwhile.
   */
  #rebuild(): void {
    if (this.#rebuilding !== undefined) return;
    this.#rebuilding = (async () => {
      const loaded = await this.#load();
      if (loaded === undefined) return;
      const batch = this.#options.batchSize ?? 10_000;
      // Bring the fresh index up to what the old one has applied, then swap without a pause.
      let applied = loaded.head;
      for (;;) {
        const changes = await this.#store.changesSince(this.tenant, applied, batch);
        if (this.#abort.signal.aborted) return;
        const limit = this.#revision;
        let complete = changes.length < batch;
        for (const change of changes) {
          if (change.revision > limit) {
            complete = true;
            break;
          }
          // Schema versions are the mirror's, recorded as the old index followed.
          if (change.op !== "SCHEMA") this.#apply(loaded.index, change);
          applied = change.revision;
        }
        if (complete) applied = Math.max(applied, limit);
        if (applied >= this.#revision) break;
      }
      this.#index = loaded.index;
      this.#horizon = Math.max(this.#horizon, loaded.head);
      this.#advance(applied);
      this.#options.onLoaded?.(loaded.index.bytes);
    })()
      .catch((err: unknown) => this.#options.onError?.(err))
      .finally(() => {
        this.#rebuilding = undefined;
      });
  }

  /** The schema in force at `revision` (undefined: none written yet). */
  schemaAt(revision: Revision): EngineSchema | undefined {
    for (let i = this.#schemas.length - 1; i >= 0; i--) {
      const v = this.#schemas[i]!;
      if (v.revision <= revision) return v.schema;
    }
    return undefined;
  }

  /**
   * Resolves once the mirror has applied `revision`; rejects with the store's error when
   * catching up fails, and DEADLINE_EXCEEDED after `timeoutMs`.
   */
  async waitFor(revision: Revision, timeoutMs: number): Promise<void> {
    if (this.#revision >= revision) return;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: unknown) => {
          clearTimeout(timer);
          reject(err);
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
      else void this.catchUp().catch(() => {});
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

  /** Stops loading and following; the index is dropped. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#state = "closed";
    for (const w of this.#waiters) {
      this.#waiters.delete(w);
      w.reject(new TrellisError("UNAVAILABLE", `tenant ${this.tenant} is no longer served here`));
    }
    await this.#ready.catch(() => {});
    await this.#follower;
    await this.#rebuilding;
    this.#index = undefined;
  }
}

interface Loaded {
  readonly index: CompactIndex;
  /** The revision the scan read: the index answers from it on. */
  readonly head: Revision;
  readonly schema: SchemaVersion;
}
