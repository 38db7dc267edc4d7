/**
 * The engine: answers permission questions for any tenant at the revision a request's
 * consistency asks for, and validates writes against the tenant's schema before they reach the
 * store. One per process.
 *
 * The store is the source of truth; the engine keeps, per tenant it serves, an in-memory index
 * (`TenantMirror`) as a cache, within a memory budget shared by all tenants (least recently
 * used tenants are evicted; a tenant larger than the whole budget is never loaded). A read the
 * index cannot answer — a revision older than its history, a tenant still loading, evicted or
 * too large — is answered from the store at that snapshot (`StoreReader`), with the same
 * answers. It also runs the store's garbage collection on a schedule.
 */

import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { invalidArgument, TrellisError } from "../core/errors.js";
import { unrefTimer, yieldToEventLoop } from "../core/event-loop.js";
import type { Permissionship } from "../core/permission.js";
import type { CaveatContext, ObjectRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { Consistency, Revision, TenantId, Zookie } from "../core/revision.js";
import {
  SPAN_ATTRIBUTES,
  type SpanStart,
  traced,
  tracedIteration,
  tracing,
  untraced,
} from "../core/tracing.js";
import {
  type CaveatLimits,
  CaveatMeter,
  checkContextLimits,
  DEFAULT_CAVEAT_LIMITS,
} from "../schema/caveat-limits.js";
import { compileSchemaText } from "../schema/compiler.js";
import type { CompiledSchema } from "../schema/types.js";
import type {
  Datastore,
  DeleteByFilterOptions,
  GcResult,
  Mutation,
  Precondition,
  RelationshipFilter,
} from "../store/datastore.js";
import type { EngineSchema } from "./engine-schema.js";
import { Evaluator, permissionshipName, type Snapshot, type TraceNode } from "./evaluator.js";
import { type ExpandNode, expand } from "./expand.js";
import {
  candidateWalk,
  confirmCandidates,
  decodeCursor,
  firstAfter,
  listObjectsPage,
  sortIdsPausing,
} from "./list-objects.js";
import { listSubjectsSteps } from "./list-subjects.js";
import { CONDITIONAL, type Outcome } from "./outcome.js";
import { type CacheStats, ResultCache, type ResultCacheOptions } from "./result-cache.js";
import { orphanFilters } from "./schema-change.js";
import { AdjacencyCache, type AdjacencyCacheStats, StoreReader } from "./store-reader.js";
import { engineSchemaFor, TenantMirror } from "./tenant-mirror.js";
import { validateRelationshipAgainstSchema } from "./write-validation.js";
import { ZookieCodec } from "./zookie.js";

export interface EngineOptions {
  /** Signs zookies; every replica serving a tenant must share it. At least 16 bytes. */
  readonly zookieSecret: string | Uint8Array;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Longest chain of sub-problems a check may follow. Default 50. */
  readonly maxDepth?: number;
  /** How stale `minimize_latency` may be, in ms. Default 5000. */
  readonly maxStalenessMs?: number;
  /** How long old tuple versions stay readable in memory, in ms. Default one hour. */
  readonly historyWindowMs?: number;
  /** How long a request waits for this replica to catch up to its revision. Default 5000 ms. */
  readonly catchUpTimeoutMs?: number;
  /** The shared sub-problem cache; `false` turns it off (each request still memoizes). */
  readonly cache?: ResultCacheOptions | false;
  /** Errors of background work (following a tenant's changelog). */
  readonly onBackgroundError?: (err: unknown, tenant: TenantId) => void;
  /** Caveat cost budgets per evaluation and per request. Default `DEFAULT_CAVEAT_LIMITS`. */
  readonly caveatLimits?: Partial<CaveatLimits>;
  /**
   * Bytes the tenants' in-memory indexes may hold together (estimated). Default
   * `DEFAULT_MEMORY_BUDGET_BYTES`, which assumes nothing of the machine (the engine also runs in
   * browsers); the CLI and the embedded `Trellis` pass `defaultMemoryBudget()` of
   * `machine-memory.ts`: a quarter of the machine's memory, at most half the V8 heap limit.
   */
  readonly memoryBudgetBytes?: number;
  /** `false`: load no index; answer every read from the store. Default true. */
  readonly indexTenants?: boolean;
  /**
   * Bytes of store reads cached for snapshots served from the store. Default: a quarter of the
   * memory budget, from 16 to 256 MiB.
   */
  readonly storeCacheBytes?: number;
  /**
   * Garbage collection of the store's history: `gc(windowMs)` every `intervalMs` (the first
   * run one interval after start). `false` turns it off (another process runs it). Default:
   * window 24 h, interval 10 minutes.
   */
  readonly gc?: { readonly windowMs?: number; readonly intervalMs?: number } | false;
  /** Told the outcome of each scheduled garbage collection. */
  readonly onGc?: (result: GcResult | undefined, ms: number, err?: unknown) => void;
}

const MB = 1024 * 1024;

/**
 * The memory budget of an engine whose caller names none: 512 MiB, what a browser tab or a
 * small container holds without strain. Nothing is allocated up front; it only bounds.
 */
export const DEFAULT_MEMORY_BUDGET_BYTES = 512 * MB;

export const GC_DEFAULTS = { windowMs: 24 * 60 * 60 * 1000, intervalMs: 10 * 60 * 1000 } as const;

/** A tenant found too large for the budget is tried again after this long. */
const REFUSAL_MS = 60 * 60 * 1000;

export interface GcStats {
  /** Scheduled or requested runs, failed ones included. */
  readonly runs: number;
  readonly failures: number;
  /** Rows removed, summed over the runs. */
  readonly relationships: number;
  readonly revisions: number;
  readonly schemas: number;
  /** Duration of the last run, in seconds. */
  readonly lastSeconds: number;
}

export interface IndexStats {
  /** Estimated bytes of every loaded index. */
  readonly bytes: number;
  readonly budgetBytes: number;
  /** Tenants whose index is loaded, with their estimated bytes and live tuples. */
  readonly tenants: ReadonlyMap<TenantId, { readonly bytes: number; readonly live: number }>;
  /** Tenants evicted to keep within the budget, since start. */
  readonly evictions: number;
  /** Reads answered from the store (snapshots the indexes did not hold), since start. */
  readonly storeReads: number;
  readonly storeCache: AdjacencyCacheStats;
}

export const ENGINE_DEFAULTS = {
  maxDepth: 50,
  maxStalenessMs: 5000,
  historyWindowMs: 60 * 60 * 1000,
  catchUpTimeoutMs: 5000,
} as const;

export type { Permissionship } from "../core/permission.js";

export interface CheckRequest {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly context?: CaveatContext;
  readonly consistency?: Consistency;
  /** Return the tree of sub-problems visited. */
  readonly trace?: boolean;
}

export interface CheckResponse {
  readonly permissionship: Permissionship;
  /** For CONDITIONAL: the caveat parameters whose values would decide it. */
  readonly missingContext?: readonly string[];
  readonly zookie: Zookie;
  readonly trace?: TraceNode;
}

export interface CheckBulkItem {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly context?: CaveatContext;
}

/** One answer of a CheckBulk: a result, or the error of that item alone. */
export type CheckBulkResult =
  | { readonly permissionship: Permissionship; readonly missingContext?: readonly string[] }
  | { readonly error: TrellisError };

/** A resolved read: one tenant at one revision with its schema. */
export interface ReadView extends Snapshot {
  readonly zookie: Zookie;
  /** Present when the snapshot is read from the store (see `StoreReader`). */
  readonly store?: StoreReader;
}

export class Engine {
  readonly store: Datastore;
  readonly #zookies: ZookieCodec;
  readonly #clock: Clock;
  readonly #options: Required<
    Pick<EngineOptions, "maxDepth" | "maxStalenessMs" | "historyWindowMs" | "catchUpTimeoutMs">
  >;
  readonly #cache: ResultCache | undefined;
  readonly #onBackgroundError: EngineOptions["onBackgroundError"];
  readonly #caveatLimits: CaveatLimits;
  readonly #indexTenants: boolean;
  readonly #budget: number;
  readonly #storeCache: AdjacencyCache;
  /**
   * Mirrors loading or loaded, with when each was last read. A loaded one has its `index`, so
   * that the common read needs no await to find its snapshot.
   */
  readonly #mirrors = new Map<TenantId, { mirror: TenantMirror; lastUsed: number }>();
  /** Tenants found too large for the budget, until when they are not tried again. */
  readonly #refused = new Map<TenantId, number>();
  /** The last view handed out per tenant: reads within one revision share it (and its zookie). */
  readonly #views = new Map<TenantId, ReadView>();
  /** Schemas of snapshots read from the store, by tenant and revision. */
  readonly #storeSchemas = new Map<string, EngineSchema | undefined>();
  #evictions = 0;
  #storeReads = 0;
  readonly #gcStats = {
    runs: 0,
    failures: 0,
    relationships: 0,
    revisions: 0,
    schemas: 0,
    lastSeconds: 0,
  };
  readonly #gcTimer: ReturnType<typeof setInterval> | undefined;
  #gcRunning: Promise<void> | undefined;
  #closed = false;

  constructor(store: Datastore, options: EngineOptions) {
    this.store = store;
    this.#zookies = new ZookieCodec(options.zookieSecret);
    this.#clock = options.clock ?? systemClock;
    const resolved = { ...ENGINE_DEFAULTS };
    for (const key of Object.keys(ENGINE_DEFAULTS) as (keyof typeof ENGINE_DEFAULTS)[]) {
      const value = options[key];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || value < (key === "maxStalenessMs" ? 0 : 1)) {
        throw new TypeError(`engine option ${key} must be a positive integer, got ${value}`);
      }
      (resolved as Record<string, number>)[key] = value;
    }
    this.#options = resolved;
    this.#cache = options.cache === false ? undefined : new ResultCache(options.cache);
    this.#onBackgroundError = options.onBackgroundError;
    this.#caveatLimits = { ...DEFAULT_CAVEAT_LIMITS, ...options.caveatLimits };
    for (const [key, value] of Object.entries(this.#caveatLimits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new TypeError(
          `engine option caveatLimits.${key} must be a positive integer, got ${value}`,
        );
      }
    }
    this.#indexTenants = options.indexTenants ?? true;
    this.#budget =
      positive(options.memoryBudgetBytes, "memoryBudgetBytes") ?? DEFAULT_MEMORY_BUDGET_BYTES;
    this.#storeCache = new AdjacencyCache({
      maxBytes:
        positive(options.storeCacheBytes, "storeCacheBytes") ??
        Math.min(256 * MB, Math.max(16 * MB, Math.floor(this.#budget / 4))),
    });
    if (options.gc !== false) {
      const windowMs = positive(options.gc?.windowMs, "gc.windowMs") ?? GC_DEFAULTS.windowMs;
      const intervalMs =
        positive(options.gc?.intervalMs, "gc.intervalMs") ?? GC_DEFAULTS.intervalMs;
      const onGc = options.onGc;
      this.#gcTimer = setInterval(() => void this.runGc(windowMs, onGc), intervalMs);
      unrefTimer(this.#gcTimer);
    }
  }

  get zookies(): ZookieCodec {
    return this.#zookies;
  }

  get clock(): Clock {
    return this.#clock;
  }

  get maxDepth(): number {
    return this.#options.maxDepth;
  }

  /** Hits, misses and size of the shared cache (zeros when it is off). */
  cacheStats(): CacheStats {
    return this.#cache?.stats() ?? { hits: 0, misses: 0, size: 0, bytes: 0 };
  }

  /** The in-memory indexes against their budget, and the reads served from the store. */
  indexStats(): IndexStats {
    const tenants = new Map<TenantId, { bytes: number; live: number }>();
    let bytes = 0;
    for (const [tenant, { mirror }] of this.#mirrors) {
      const index = mirror.index;
      if (index === undefined) continue;
      const b = index.bytes;
      bytes += b;
      tenants.set(tenant, { bytes: b, live: index.liveCount });
    }
    return {
      bytes,
      budgetBytes: this.#budget,
      tenants,
      evictions: this.#evictions,
      storeReads: this.#storeReads,
      storeCache: this.#storeCache.stats(),
    };
  }

  /**
   * Runs the store's garbage collection once (the schedule calls this); concurrent calls share
   * one run. Reports through `onGc`; never throws.
   */
  runGc(windowMs: number = GC_DEFAULTS.windowMs, onGc?: EngineOptions["onGc"]): Promise<void> {
    if (this.#gcRunning === undefined && !this.#closed) {
      const started = performance.now();
      const stats = this.#gcStats;
      const finished = () => {
        const ms = performance.now() - started;
        stats.runs++;
        stats.lastSeconds = ms / 1000;
        return ms;
      };
      this.#gcRunning = this.store
        .gc(windowMs)
        .then(
          (result) => {
            const ms = finished();
            stats.relationships += result.relationships;
            stats.revisions += result.revisions;
            stats.schemas += result.schemas;
            onGc?.(result, ms);
          },
          (err: unknown) => {
            const ms = finished();
            stats.failures++;
            onGc?.(undefined, ms, err);
          },
        )
        .finally(() => {
          this.#gcRunning = undefined;
        });
    }
    return this.#gcRunning ?? Promise.resolve();
  }

  /** What the scheduled garbage collections did, since start. */
  gcStats(): GcStats {
    return { ...this.#gcStats };
  }

  // ---- snapshots ------------------------------------------------------------------------

  /**
   * The mirror of a tenant, loaded. NOT_FOUND for an unknown tenant; UNAVAILABLE when the
   * tenant is not indexed (indexing off, or too large for the budget).
   */
  async mirror(tenant: TenantId): Promise<TenantMirror> {
    if (this.#closed) throw new TrellisError("UNAVAILABLE", "engine is closed");
    const mirror = this.#mirrorFor(tenant);
    if (mirror === undefined) {
      throw new TrellisError("UNAVAILABLE", `tenant ${tenant} is not indexed in memory`);
    }
    await mirror.ready;
    return mirror;
  }

  /** The tenant's mirror (loading or loaded), started when the budget allows; marks it used. */
  #mirrorFor(tenant: TenantId): TenantMirror | undefined {
    if (!this.#indexTenants || this.#closed) return undefined;
    const now = this.#clock.now();
    const known = this.#mirrors.get(tenant);
    if (known !== undefined) {
      known.lastUsed = now;
      return known.mirror;
    }
    const refusedUntil = this.#refused.get(tenant);
    if (refusedUntil !== undefined && refusedUntil > now) return undefined;
    // The load and the changelog following outlive the request that starts them: no span.
    const mirror = untraced(() =>
      TenantMirror.start(this.store, tenant, {
        clock: this.#clock,
        historyWindowMs: this.#options.historyWindowMs,
        onError: (err) => this.#onBackgroundError?.(err, tenant),
        admit: (bytes) => bytes <= this.#budget,
        onLoaded: () => this.#keepWithinBudget(tenant),
      }),
    );
    this.#mirrors.set(tenant, { mirror, lastUsed: now });
    mirror.ready.catch(() => {
      if (this.#mirrors.get(tenant)?.mirror !== mirror) return;
      this.#mirrors.delete(tenant);
      if (mirror.state === "refused") this.#refused.set(tenant, this.#clock.now() + REFUSAL_MS);
    });
    return mirror;
  }

  /** The tenant's mirror when it is done loading (has its index); else undefined. */
  #loadedMirror(tenant: TenantId): TenantMirror | undefined {
    const mirror = this.#mirrors.get(tenant)?.mirror;
    return mirror?.index !== undefined ? mirror : undefined;
  }

  /** Evicts the least recently used other tenants while the indexes exceed the budget. */
  #keepWithinBudget(keep: TenantId): void {
    let total = 0;
    for (const { mirror } of this.#mirrors.values()) total += mirror.index?.bytes ?? 0;
    while (total > this.#budget) {
      let victim: TenantId | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const [tenant, { mirror, lastUsed }] of this.#mirrors) {
        if (tenant === keep || mirror.index === undefined) continue;
        if (lastUsed < oldest) {
          oldest = lastUsed;
          victim = tenant;
        }
      }
      if (victim === undefined) return;
      total -= this.#evict(victim);
    }
  }

  /** Drops a tenant's index (it is served from the store until loaded again); its bytes. */
  #evict(tenant: TenantId): number {
    const known = this.#mirrors.get(tenant);
    if (known === undefined) return 0;
    const bytes = known.mirror.index?.bytes ?? 0;
    this.#mirrors.delete(tenant);
    this.#views.delete(tenant);
    this.#evictions++;
    void known.mirror.close().catch(() => {});
    return bytes;
  }

  /** Resolves a request's consistency to a snapshot this replica can read. */
  async view(tenant: TenantId, consistency: Consistency = "minimize_latency"): Promise<ReadView> {
    const quick = consistency === "minimize_latency" ? this.#quickView(tenant) : undefined;
    if (quick !== undefined) return quick;
    if (this.#closed) throw new TrellisError("UNAVAILABLE", "engine is closed");
    const mirror = this.#mirrorFor(tenant);
    const indexed = mirror?.index !== undefined ? mirror : undefined;
    const revision = await this.#revisionFor(tenant, indexed, consistency);
    if (indexed !== undefined && revision >= indexed.horizon) {
      if (indexed.revision < revision) {
        await indexed.waitFor(revision, this.#options.catchUpTimeoutMs);
      }
      if (indexed.index !== undefined && revision >= indexed.horizon) {
        return this.#viewAt(tenant, indexed, revision);
      }
    }
    // A recent revision may predate the tenant's first schema; a fresher one is allowed.
    const fresherAllowed = consistency === "minimize_latency" || isAtLeastAsFresh(consistency);
    return this.#storeView(tenant, revision, fresherAllowed);
  }

  /** The `minimize_latency` view, when the mirror is loaded and current enough; else undefined. */
  #quickView(tenant: TenantId): ReadView | undefined {
    const known = this.#mirrors.get(tenant);
    if (known === undefined || known.mirror.index === undefined || this.#closed) return undefined;
    known.lastUsed = this.#clock.now();
    const mirror = known.mirror;
    const revision = mirror.optimizedRevision(this.#options.maxStalenessMs);
    if (mirror.revision < revision) return undefined;
    return this.#viewAt(tenant, mirror, revision);
  }

  #viewAt(tenant: TenantId, mirror: TenantMirror, revision: Revision): ReadView {
    const index = mirror.index!;
    const last = this.#views.get(tenant);
    if (last !== undefined && last.revision === revision && last.reader === index) return last;
    const schema = mirror.schemaAt(revision);
    if (schema === undefined) {
      throw new TrellisError("FAILED_PRECONDITION", `tenant ${tenant} has no schema yet`);
    }
    const view: ReadView = {
      tenant,
      revision,
      reader: index,
      schema,
      // Signed once per tenant and revision, not per request.
      zookie: this.#zookies.encode(tenant, revision),
    };
    this.#views.set(tenant, view);
    return view;
  }

  /**
   * A snapshot read from the store: any revision the store still keeps. When the revision has
   * no schema yet and `fresherAllowed`, the head is read instead.
   */
  async #storeView(
    tenant: TenantId,
    revision: Revision,
    fresherAllowed = false,
  ): Promise<ReadView> {
    let schema = await this.#schemaAt(tenant, revision);
    if (schema === undefined && fresherAllowed) {
      revision = await this.store.headRevision(tenant);
      schema = await this.#schemaAt(tenant, revision);
    }
    if (schema === undefined) {
      throw new TrellisError("FAILED_PRECONDITION", `tenant ${tenant} has no schema yet`);
    }
    const reader = new StoreReader(this.store, this.#storeCache, tenant, revision);
    return {
      tenant,
      revision,
      reader,
      schema,
      zookie: this.#zookies.encode(tenant, revision),
      store: reader,
    };
  }

  /** The schema in force at a revision, read from the store (and remembered). */
  async #schemaAt(tenant: TenantId, revision: Revision): Promise<EngineSchema | undefined> {
    const key = `${tenant}\u0000${revision}`;
    if (this.#storeSchemas.has(key)) return this.#storeSchemas.get(key);
    const stored = await this.store.readSchema(tenant, revision);
    const schema = stored === undefined ? undefined : engineSchemaFor(stored.text);
    if (this.#storeSchemas.size >= 1024) this.#storeSchemas.clear();
    this.#storeSchemas.set(key, schema);
    return schema;
  }

  /**
   * Runs a synchronous computation over a view. Over an index it runs once; over the store it
   * runs in rounds: the reads a round missed are fetched, then it runs again, until a round
   * misses nothing (an error thrown by a round that missed reads is not an answer either).
   */
  async #compute<T>(view: ReadView, compute: () => T): Promise<T> {
    if (tracing.enabled) annotateView(view);
    const reader = view.store;
    if (reader === undefined) return compute();
    this.#storeReads++;
    for (let round = 1; ; round++) {
      let result: T;
      try {
        result = compute();
      } catch (err) {
        if (!reader.hasMisses) throw err;
        await fetchRound(reader, round);
        continue;
      }
      if (!reader.hasMisses) return result;
      await fetchRound(reader, round);
    }
  }

  /**
   * Runs a pausing computation (a generator) to its end and returns its value. Over an index it
   * runs `sliceMs` at a time with a turn of the event loop between slices; over the store it
   * runs whole, in rounds (`#compute`), each round from a fresh generator.
   */
  async #sliced<T>(
    view: ReadView,
    sliceMs: number,
    start: () => Generator<void, T, undefined>,
  ): Promise<T> {
    const drain = (steps: Generator<void, T, undefined>): T => {
      for (;;) {
        const r = steps.next();
        if (r.done === true) return r.value;
      }
    };
    if (view.store !== undefined) return this.#compute(view, () => drain(start()));
    const steps = start();
    for (;;) {
      const deadline = performance.now() + sliceMs;
      do {
        const r = steps.next();
        if (r.done === true) return r.value;
      } while (performance.now() < deadline);
      await yieldToEventLoop();
    }
  }

  async #revisionFor(
    tenant: TenantId,
    mirror: TenantMirror | undefined,
    consistency: Consistency,
  ): Promise<Revision> {
    const optimized = () =>
      mirror !== undefined
        ? Promise.resolve(mirror.optimizedRevision(this.#options.maxStalenessMs))
        : this.store.optimizedRevision(tenant, this.#options.maxStalenessMs);
    if (consistency === "minimize_latency") return optimized();
    if (consistency === "fully_consistent") return this.store.headRevision(tenant);
    if (typeof consistency === "object" && consistency !== null) {
      if ("atLeastAsFresh" in consistency) {
        const wanted = this.#zookies.decode(
          tenant,
          consistency.atLeastAsFresh,
          "consistency.at_least_as_fresh",
        );
        return Math.max(wanted, await optimized());
      }
      if ("atExactSnapshot" in consistency) {
        // Older than the index's history: the store answers (or says it is collected).
        return this.#zookies.decode(
          tenant,
          consistency.atExactSnapshot,
          "consistency.at_exact_snapshot",
        );
      }
    }
    throw invalidArgument("unknown consistency", "consistency");
  }

  /** The caveat budgets of one request, made only when it meets a caveat. */
  readonly #newCaveatMeter = (): CaveatMeter => new CaveatMeter(this.#caveatLimits);

  /** One request's evaluator; `meter` shares the request's caveat budget among several. */
  #evaluator(
    view: Snapshot,
    context: CaveatContext | undefined,
    trace = false,
    meter: CaveatMeter | (() => CaveatMeter) = this.#newCaveatMeter,
  ): Evaluator {
    if (context !== undefined) checkContextLimits(context, "context");
    return new Evaluator(view, {
      maxDepth: this.#options.maxDepth,
      now: this.#clock.now(),
      context,
      caveatMeter: meter,
      // A traced check shows every step it takes: the shared cache would answer whole
      // sub-trees in one step (it is still filled by every other check).
      ...(this.#cache !== undefined && !trace ? { cache: this.#cache } : {}),
      trace,
    });
  }

  // ---- permission queries -----------------------------------------------------------------

  check(tenant: TenantId, req: CheckRequest): Promise<CheckResponse> {
    if (!tracing.enabled) return this.#check(tenant, req);
    return traced(
      "engine.check",
      engineSpan(tenant),
      () => this.#check(tenant, req),
      (span, r) => span.setAttribute(SPAN_ATTRIBUTES.permissionship, r.permissionship),
    );
  }

  async #check(tenant: TenantId, req: CheckRequest): Promise<CheckResponse> {
    const view = await this.view(tenant, req.consistency);
    const result = await this.#compute(view, () =>
      this.#evaluator(view, req.context, req.trace).check(
        req.resource,
        req.permission,
        req.subject,
      ),
    );
    return {
      ...describeOutcome(result.outcome),
      zookie: view.zookie,
      ...(result.trace !== undefined ? { trace: result.trace } : {}),
    };
  }

  /**
   * Many checks at one revision. Items with the same context share one evaluator, so common
   * sub-problems (a big group, a top folder) are computed once for the whole batch. An item's
   * error is that item's answer; the others still get theirs.
   */
  checkBulk(
    tenant: TenantId,
    items: readonly CheckBulkItem[],
    consistency?: Consistency,
  ): Promise<{ results: CheckBulkResult[]; zookie: Zookie }> {
    if (!tracing.enabled) return this.#checkBulk(tenant, items, consistency);
    return traced("engine.checkBulk", engineSpan(tenant, items.length), () =>
      this.#checkBulk(tenant, items, consistency),
    );
  }

  async #checkBulk(
    tenant: TenantId,
    items: readonly CheckBulkItem[],
    consistency?: Consistency,
  ): Promise<{ results: CheckBulkResult[]; zookie: Zookie }> {
    const view = await this.view(tenant, consistency);
    const results = await this.#compute(view, () => this.#checkItems(view, items));
    return { results, zookie: view.zookie };
  }

  #checkItems(view: ReadView, items: readonly CheckBulkItem[]): CheckBulkResult[] {
    const evaluators = new Map<string, Evaluator>();
    const meter = this.#newCaveatMeter();
    return items.map((item): CheckBulkResult => {
      try {
        const ctxKey = item.context === undefined ? "" : JSON.stringify(item.context);
        let evaluator = evaluators.get(ctxKey);
        if (evaluator === undefined) {
          evaluator = this.#evaluator(view, item.context, false, meter);
          evaluators.set(ctxKey, evaluator);
        }
        return describeOutcome(
          evaluator.check(item.resource, item.permission, item.subject).outcome,
        );
      } catch (err) {
        if (err instanceof TrellisError && err.code !== "INTERNAL") return { error: err };
        throw err;
      }
    });
  }

  expand(
    tenant: TenantId,
    req: { resource: ObjectRef; permission: string; consistency?: Consistency },
  ): Promise<{ tree: ExpandNode; zookie: Zookie }> {
    if (!tracing.enabled) return this.#expand(tenant, req);
    return traced("engine.expand", engineSpan(tenant), () => this.#expand(tenant, req));
  }

  async #expand(
    tenant: TenantId,
    req: { resource: ObjectRef; permission: string; consistency?: Consistency },
  ): Promise<{ tree: ExpandNode; zookie: Zookie }> {
    const view = await this.view(tenant, req.consistency);
    const now = this.#clock.now();
    const tree = await this.#compute(view, () =>
      expand(view, now, req.resource, req.permission, this.#options.maxDepth),
    );
    return { tree, zookie: view.zookie };
  }

  /**
   * One page of the objects of `resourceType` on which `subject` has `permission` (ALLOWED or
   * CONDITIONAL), in id order. Pass the returned cursor, with the returned zookie as an
   * `atExactSnapshot` consistency, to read the next page of the same snapshot.
   */
  listObjects(
    tenant: TenantId,
    req: {
      resourceType: string;
      permission: string;
      subject: SubjectRef;
      context?: CaveatContext;
      consistency?: Consistency;
      cursor?: string;
      limit?: number;
    },
  ): Promise<{
    objects: { id: string; permissionship: Permissionship; missingContext?: readonly string[] }[];
    cursor?: string;
    zookie: Zookie;
  }> {
    if (!tracing.enabled) return this.#listObjects(tenant, req);
    return traced(
      "engine.listObjects",
      engineSpan(tenant),
      () => this.#listObjects(tenant, req),
      (span, r) => span.setAttribute(SPAN_ATTRIBUTES.items, r.objects.length),
    );
  }

  async #listObjects(
    tenant: TenantId,
    req: Parameters<Engine["listObjects"]>[1],
  ): ReturnType<Engine["listObjects"]> {
    const view = await this.view(tenant, req.consistency);
    const now = this.#clock.now();
    const page = await this.#compute(view, () =>
      listObjectsPage(
        view,
        this.#evaluator(view, req.context),
        now,
        req.resourceType,
        req.permission,
        req.subject,
        {
          ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
          ...(req.limit !== undefined ? { limit: req.limit } : {}),
        },
      ),
    );
    return {
      objects: page.objects.map((o) => ({ id: o.id, ...describeOutcome(o.outcome) })),
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      zookie: view.zookie,
    };
  }

  /**
   * ListObjects as a stream of pages at one snapshot, for long listings: the candidates are
   * found once, then confirmed with Check a time slice (`sliceMs`) at a time, each slice a page
   * (at most `pageSize` objects) and a turn of the event loop for everyone else.
   */
  listObjectsPages(
    tenant: TenantId,
    req: {
      resourceType: string;
      permission: string;
      subject: SubjectRef;
      context?: CaveatContext;
      consistency?: Consistency;
      cursor?: string;
      limit?: number;
    },
    options: { pageSize?: number; sliceMs?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<
    {
      objects: { id: string; permissionship: Permissionship; missingContext?: readonly string[] }[];
      zookie: Zookie;
    },
    void,
    undefined
  > {
    const pages = this.#listObjectsPages(tenant, req, options);
    if (!tracing.enabled) return pages;
    return tracedIteration(
      "engine.listObjects",
      engineSpan(tenant),
      pages,
      (page) => page.objects.length,
    );
  }

  async *#listObjectsPages(
    tenant: TenantId,
    req: Parameters<Engine["listObjectsPages"]>[1],
    options: NonNullable<Parameters<Engine["listObjectsPages"]>[2]>,
  ): ReturnType<Engine["listObjectsPages"]> {
    const view = await this.view(tenant, req.consistency);
    const now = this.#clock.now();
    const pageSize = options.pageSize ?? 500;
    const sliceMs = options.sliceMs ?? 5;
    const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor);
    if (view.schema.member(req.resourceType, req.permission) === undefined) {
      // Let Check raise the precise error (unknown type or member).
      await this.#compute(view, () =>
        this.#evaluator(view, req.context).check(
          { type: req.resourceType, id: "_" },
          req.permission,
          req.subject,
        ),
      );
    }
    const found = await this.#sliced(view, sliceMs, () => {
      const ids: string[] = [];
      return (function* () {
        yield* candidateWalk(view, now, req.resourceType, req.permission, req.subject, ids);
        return ids;
      })();
    });
    const candidates = await this.#sliced(view, sliceMs, () => sortIdsPausing(found));
    let next = firstAfter(candidates, after);
    let remaining = req.limit ?? Number.POSITIVE_INFINITY;
    // Each slice has an evaluator (and a caveat budget) of its own; the shared result cache
    // carries what they have in common.
    while (next < candidates.length && remaining > 0) {
      options.signal?.throwIfAborted();
      const from = next;
      const slice = await this.#compute(view, () => {
        return confirmCandidates(
          this.#evaluator(view, req.context),
          req.resourceType,
          req.permission,
          req.subject,
          candidates,
          from,
          Math.min(pageSize, remaining),
          sliceMs,
        );
      });
      next = slice.next;
      remaining -= slice.objects.length;
      if (slice.objects.length > 0) {
        yield {
          objects: slice.objects.map((o) => ({ id: o.id, ...describeOutcome(o.outcome) })),
          zookie: view.zookie,
        };
      }
      if (next < candidates.length && remaining > 0) {
        await yieldToEventLoop();
      }
    }
  }

  /** Every subject of `subjectType` with `permission` on `resource`, and the wildcard's share. */
  listSubjects(
    tenant: TenantId,
    req: {
      resource: ObjectRef;
      permission: string;
      subjectType: string;
      subjectRelation?: string;
      context?: CaveatContext;
      consistency?: Consistency;
    },
  ): Promise<{
    subjects: { id: string; permissionship: Permissionship; missingContext?: readonly string[] }[];
    wildcard?: {
      permissionship: Permissionship;
      missingContext?: readonly string[];
      excluded: readonly string[];
    };
    zookie: Zookie;
  }> {
    if (!tracing.enabled) return this.#listSubjects(tenant, req);
    return traced(
      "engine.listSubjects",
      engineSpan(tenant),
      () => this.#listSubjects(tenant, req),
      (span, r) =>
        span.setAttribute(
          SPAN_ATTRIBUTES.items,
          r.subjects.length + (r.wildcard !== undefined ? 1 : 0),
        ),
    );
  }

  async #listSubjects(
    tenant: TenantId,
    req: Parameters<Engine["listSubjects"]>[1],
  ): ReturnType<Engine["listSubjects"]> {
    const view = await this.view(tenant, req.consistency);
    const now = this.#clock.now();
    // A slice of work at a time, with a turn of the event loop between slices.
    const result = await this.#sliced(view, 5, () =>
      listSubjectsSteps(
        view,
        () => this.#evaluator(view, req.context),
        now,
        req.resource,
        req.permission,
        req.subjectType,
        req.subjectRelation,
      ),
    );
    return {
      subjects: result.subjects.map((s) => ({ id: s.id, ...describeOutcome(s.outcome) })),
      ...(result.wildcard !== undefined
        ? {
            wildcard: {
              ...describeOutcome(result.wildcard.outcome),
              excluded: result.wildcard.excluded,
            },
          }
        : {}),
      zookie: view.zookie,
    };
  }

  // ---- schema ---------------------------------------------------------------------------

  /**
   * Compiles and stores a schema. Refuses (FAILED_PRECONDITION) a schema that would orphan
   * stored tuples: a removed definition or relation, or a removed subject type, that still has
   * tuples.
   */
  async writeSchema(
    tenant: TenantId,
    text: string,
  ): Promise<{ zookie: Zookie; schema: CompiledSchema }> {
    const schema = compileSchemaText(text);
    const head = await this.store.headRevision(tenant);
    const current = await this.store.readSchema(tenant, head);
    const refuseIfAnyMatch =
      current === undefined ? [] : orphanFilters(compileSchemaText(current.text), schema);
    const revision = await this.store.writeSchema(tenant, text, { refuseIfAnyMatch });
    return { zookie: this.#zookies.encode(tenant, revision), schema };
  }

  async readSchema(
    tenant: TenantId,
    consistency: Consistency = "fully_consistent",
  ): Promise<{ text: string; zookie: Zookie }> {
    const revision = await this.#revisionFor(tenant, this.#loadedMirror(tenant), consistency);
    const stored = await this.store.readSchema(tenant, revision);
    if (stored === undefined) throw new TrellisError("NOT_FOUND", `tenant ${tenant} has no schema`);
    return { text: stored.text, zookie: this.#zookies.encode(tenant, revision) };
  }

  /** The schema at head, compiled; FAILED_PRECONDITION when the tenant has none. */
  async #headSchema(tenant: TenantId): Promise<EngineSchema> {
    const mirror = this.#loadedMirror(tenant);
    let schema: EngineSchema | undefined;
    if (mirror?.index !== undefined) {
      await mirror.catchUp();
      schema = mirror.schemaAt(mirror.revision);
    } else {
      schema = await this.#schemaAt(tenant, await this.store.headRevision(tenant));
    }
    if (schema === undefined) {
      throw new TrellisError("FAILED_PRECONDITION", `tenant ${tenant} has no schema yet`);
    }
    return schema;
  }

  // ---- relationships --------------------------------------------------------------------

  /** Validates every mutation against the schema, then writes them atomically. */
  async writeRelationships(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
  ): Promise<{ zookie: Zookie }> {
    const schema = await this.#headSchema(tenant);
    for (const [i, m] of mutations.entries()) {
      validateRelationshipAgainstSchema(
        schema,
        m.relationship,
        m.op,
        `mutations[${i}].relationship`,
      );
    }
    const revision = await this.store.write(tenant, mutations, preconditions);
    return { zookie: this.#zookies.encode(tenant, revision) };
  }

  async deleteRelationships(
    tenant: TenantId,
    filter: RelationshipFilter,
    options?: DeleteByFilterOptions,
  ): Promise<{ zookie: Zookie; deleted: number; partial: boolean }> {
    const result = await this.store.deleteByFilter(tenant, filter, options);
    return {
      zookie: this.#zookies.encode(tenant, result.revision),
      deleted: result.deleted,
      partial: result.partial,
    };
  }

  /** Imports relationships in batches, each validated against the schema before it is sent. */
  async importRelationships(
    tenant: TenantId,
    source: AsyncIterable<Relationship> | Iterable<Relationship>,
    options: { batchSize?: number; onProgress?: (imported: number) => void } = {},
  ): Promise<{ zookie: Zookie; imported: number }> {
    // Loads no index: a bulk load is often the first thing a tenant sees, and its index is
    // built once, at the first read, instead of following the import's changelog.
    const schema = await this.#headSchema(tenant);
    let line = 0;
    const check = (rel: Relationship) => {
      try {
        validateRelationshipAgainstSchema(schema, rel, "CREATE", "");
      } catch {
        // Again with the field named: built only for the failing line.
        validateRelationshipAgainstSchema(schema, rel, "CREATE", `relationships[${line - 1}]`);
      }
    };
    async function* validated(): AsyncIterable<Relationship> {
      for await (const rel of source) {
        line++;
        check(rel);
        yield rel;
      }
    }
    const result = await this.store.bulkImport(tenant, validated(), {
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onProgress: (p) => options.onProgress?.(p.imported),
    });
    return { zookie: this.#zookies.encode(tenant, result.revision), imported: result.imported };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#gcTimer !== undefined) clearInterval(this.#gcTimer);
    const mirrors = [...this.#mirrors.values()];
    this.#mirrors.clear();
    this.#views.clear();
    await Promise.all(mirrors.map(({ mirror }) => mirror.close().catch(() => {})));
    await this.#gcRunning;
  }
}

function isAtLeastAsFresh(consistency: Consistency): boolean {
  return typeof consistency === "object" && consistency !== null && "atLeastAsFresh" in consistency;
}

function positive(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`engine option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export function describeOutcome(o: Outcome): {
  permissionship: Permissionship;
  missingContext?: readonly string[];
} {
  return o.value === CONDITIONAL
    ? { permissionship: "CONDITIONAL", missingContext: o.missing }
    : { permissionship: permissionshipName(o) };
}

/** The start of an engine call's span: its tenant, and the items asked (CheckBulk). */
function engineSpan(tenant: TenantId, items?: number): SpanStart {
  return { attributes: { [SPAN_ATTRIBUTES.tenant]: tenant, [SPAN_ATTRIBUTES.items]: items } };
}

/** Puts the snapshot an engine call reads on its span: the revision, and index or store. */
function annotateView(view: ReadView): void {
  tracing.tracer.annotate({
    [SPAN_ATTRIBUTES.revision]: view.revision,
    [SPAN_ATTRIBUTES.source]: view.store === undefined ? "index" : "store",
  });
}

/** Fetches the reads a store-backed round missed; with tracing on, in a span of its own. */
function fetchRound(reader: StoreReader, round: number): Promise<void> {
  if (!tracing.enabled) return reader.fetchMisses();
  return traced(
    "engine.round",
    {
      attributes: {
        [SPAN_ATTRIBUTES.tenant]: reader.tenant,
        [SPAN_ATTRIBUTES.round]: round,
        [SPAN_ATTRIBUTES.reads]: reader.pendingReads,
      },
    },
    () => reader.fetchMisses(),
  );
}
