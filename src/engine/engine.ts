/**
 * The engine: answers permission questions for any tenant at the revision a request's
 * consistency asks for, and validates writes against the tenant's schema before they reach the
 * store. One per process; it keeps one `TenantMirror` per tenant it has served.
 */
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { CaveatContext, ObjectRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { Consistency, Revision, TenantId, Zookie } from "../core/revision.js";
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
  Mutation,
  Precondition,
  RelationshipFilter,
} from "../store/datastore.js";
import type { EngineSchema } from "./engine-schema.js";
import { Evaluator, permissionshipName, type Snapshot, type TraceNode } from "./evaluator.js";
import { type ExpandNode, expand } from "./expand.js";
import { listObjectsPage } from "./list-objects.js";
import { listSubjects } from "./list-subjects.js";
import { CONDITIONAL, type Outcome } from "./outcome.js";
import { type CacheStats, ResultCache, type ResultCacheOptions } from "./result-cache.js";
import { orphanFilters } from "./schema-change.js";
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
}

export const ENGINE_DEFAULTS = {
  maxDepth: 50,
  maxStalenessMs: 5000,
  historyWindowMs: 60 * 60 * 1000,
  catchUpTimeoutMs: 5000,
} as const;

export type Permissionship = "ALLOWED" | "DENIED" | "CONDITIONAL";

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
  readonly mirror: TenantMirror;
  readonly zookie: Zookie;
}

export class Engine {
  readonly store: Datastore;
  readonly #zookies: ZookieCodec;
  readonly #clock: Clock;
  readonly #options: Required<
    Pick<EngineOptions, "maxDepth" | "maxStalenessMs" | "historyWindowMs" | "catchUpTimeoutMs">
  >;
  readonly #cache: ResultCache | undefined;
  readonly #mirrors = new Map<TenantId, Promise<TenantMirror>>();
  readonly #onBackgroundError: EngineOptions["onBackgroundError"];
  readonly #caveatLimits: CaveatLimits;
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
  }

  /** The caveat budgets one request gets: `check` and friends make one meter per call. */
  caveatMeter(): CaveatMeter {
    return new CaveatMeter(this.#caveatLimits);
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

  // ---- snapshots ------------------------------------------------------------------------

  /** The mirror of a tenant, loaded on first use. NOT_FOUND for an unknown tenant. */
  mirror(tenant: TenantId): Promise<TenantMirror> {
    if (this.#closed) return Promise.reject(new TrellisError("UNAVAILABLE", "engine is closed"));
    let mirror = this.#mirrors.get(tenant);
    if (mirror === undefined) {
      mirror = TenantMirror.open(this.store, tenant, {
        clock: this.#clock,
        historyWindowMs: this.#options.historyWindowMs,
        onError: (err) => this.#onBackgroundError?.(err, tenant),
      });
      this.#mirrors.set(tenant, mirror);
      mirror.then(
        (loaded) => this.#loaded.set(tenant, loaded),
        () => this.#mirrors.delete(tenant),
      );
    }
    return mirror;
  }

  /** Resolves a request's consistency to a snapshot this replica can read. */
  async view(tenant: TenantId, consistency: Consistency = "minimize_latency"): Promise<ReadView> {
    const quick = consistency === "minimize_latency" ? this.#quickView(tenant) : undefined;
    if (quick !== undefined) return quick;
    const mirror = await this.mirror(tenant);
    const revision = await this.#revisionFor(tenant, mirror, consistency);
    if (mirror.revision < revision) await mirror.waitFor(revision, this.#options.catchUpTimeoutMs);
    return this.#viewAt(tenant, mirror, revision);
  }

  /** Mirrors done loading, so that the common read needs no await to find its snapshot. */
  readonly #loaded = new Map<TenantId, TenantMirror>();
  /** The last view handed out per tenant: reads within one revision share it (and its zookie). */
  readonly #views = new Map<TenantId, ReadView>();

  /** The `minimize_latency` view, when the mirror is loaded and current enough; else undefined. */
  #quickView(tenant: TenantId): ReadView | undefined {
    const mirror = this.#loaded.get(tenant);
    if (mirror === undefined || this.#closed) return undefined;
    const revision = mirror.optimizedRevision(this.#options.maxStalenessMs);
    if (mirror.revision < revision) return undefined;
    return this.#viewAt(tenant, mirror, revision);
  }

  #viewAt(tenant: TenantId, mirror: TenantMirror, revision: Revision): ReadView {
    const last = this.#views.get(tenant);
    if (last !== undefined && last.revision === revision && last.mirror === mirror) return last;
    const schema = mirror.schemaAt(revision);
    if (schema === undefined) {
      throw new TrellisError("FAILED_PRECONDITION", `tenant ${tenant} has no schema yet`);
    }
    const view: ReadView = {
      tenant,
      mirror,
      revision,
      index: mirror.index,
      schema,
      // Signed once per tenant and revision, not per request.
      zookie: this.#zookies.encode(tenant, revision),
    };
    this.#views.set(tenant, view);
    return view;
  }

  async #revisionFor(
    tenant: TenantId,
    mirror: TenantMirror,
    consistency: Consistency,
  ): Promise<Revision> {
    if (consistency === "minimize_latency") {
      return mirror.optimizedRevision(this.#options.maxStalenessMs);
    }
    if (consistency === "fully_consistent") return this.store.headRevision(tenant);
    if (typeof consistency === "object" && consistency !== null) {
      if ("atLeastAsFresh" in consistency) {
        const wanted = this.#zookies.decode(
          tenant,
          consistency.atLeastAsFresh,
          "consistency.at_least_as_fresh",
        );
        return Math.max(wanted, mirror.optimizedRevision(this.#options.maxStalenessMs));
      }
      if ("atExactSnapshot" in consistency) {
        const wanted = this.#zookies.decode(
          tenant,
          consistency.atExactSnapshot,
          "consistency.at_exact_snapshot",
        );
        if (wanted < mirror.horizon) {
          throw new TrellisError(
            "FAILED_PRECONDITION",
            `revision ${wanted} is older than the history this replica keeps (from ${mirror.horizon})`,
          );
        }
        return wanted;
      }
    }
    throw invalidArgument("unknown consistency", "consistency");
  }

  /** One request's evaluator; `meter` shares the request's caveat budget among several. */
  #evaluator(
    view: Snapshot,
    context: CaveatContext | undefined,
    trace = false,
    meter = this.caveatMeter(),
  ): Evaluator {
    if (context !== undefined) checkContextLimits(context, "context");
    return new Evaluator(view, {
      maxDepth: this.#options.maxDepth,
      now: this.#clock.now(),
      context,
      caveatMeter: meter,
      ...(this.#cache !== undefined ? { cache: this.#cache } : {}),
      trace,
    });
  }

  // ---- permission queries -----------------------------------------------------------------

  async check(tenant: TenantId, req: CheckRequest): Promise<CheckResponse> {
    const view = await this.view(tenant, req.consistency);
    const result = this.#evaluator(view, req.context, req.trace).check(
      req.resource,
      req.permission,
      req.subject,
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
  async checkBulk(
    tenant: TenantId,
    items: readonly CheckBulkItem[],
    consistency?: Consistency,
  ): Promise<{ results: CheckBulkResult[]; zookie: Zookie }> {
    const view = await this.view(tenant, consistency);
    const evaluators = new Map<string, Evaluator>();
    const meter = this.caveatMeter();
    const results = items.map((item): CheckBulkResult => {
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
    return { results, zookie: view.zookie };
  }

  async expand(
    tenant: TenantId,
    req: { resource: ObjectRef; permission: string; consistency?: Consistency },
  ): Promise<{ tree: ExpandNode; zookie: Zookie }> {
    const view = await this.view(tenant, req.consistency);
    const tree = expand(
      view,
      this.#clock.now(),
      req.resource,
      req.permission,
      this.#options.maxDepth,
    );
    return { tree, zookie: view.zookie };
  }

  /**
   * One page of the objects of `resourceType` on which `subject` has `permission` (ALLOWED or
   * CONDITIONAL), in id order. Pass the returned cursor, with the returned zookie as an
   * `atExactSnapshot` consistency, to read the next page of the same snapshot.
   */
  async listObjects(
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
    const view = await this.view(tenant, req.consistency);
    const evaluator = this.#evaluator(view, req.context);
    const page = listObjectsPage(
      view,
      evaluator,
      this.#clock.now(),
      req.resourceType,
      req.permission,
      req.subject,
      {
        ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
        ...(req.limit !== undefined ? { limit: req.limit } : {}),
      },
    );
    return {
      objects: page.objects.map((o) => ({ id: o.id, ...describeOutcome(o.outcome) })),
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      zookie: view.zookie,
    };
  }

  /** Every subject of `subjectType` with `permission` on `resource`, and the wildcard's share. */
  async listSubjects(
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
    const view = await this.view(tenant, req.consistency);
    const evaluator = this.#evaluator(view, req.context);
    const result = listSubjects(
      view,
      evaluator,
      this.#clock.now(),
      req.resource,
      req.permission,
      req.subjectType,
      req.subjectRelation,
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
    const revision = await this.#revisionFor(tenant, await this.mirror(tenant), consistency);
    const stored = await this.store.readSchema(tenant, revision);
    if (stored === undefined) throw new TrellisError("NOT_FOUND", `tenant ${tenant} has no schema`);
    return { text: stored.text, zookie: this.#zookies.encode(tenant, revision) };
  }

  /** The schema at head, compiled; FAILED_PRECONDITION when the tenant has none. */
  async #headSchema(tenant: TenantId): Promise<EngineSchema> {
    const mirror = await this.mirror(tenant);
    await mirror.catchUp();
    const schema = mirror.schemaAt(mirror.revision);
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
    // The schema from the store, not from the mirror: loading the mirror here would make it
    // follow the changelog of the whole import while the import runs (a bulk load is often
    // the first thing a tenant sees, and its index is built once, at the first read, instead).
    const loaded = this.#loaded.get(tenant);
    let schema: EngineSchema;
    if (loaded !== undefined) {
      schema = await this.#headSchema(tenant);
    } else {
      const stored = await this.store.readSchema(tenant, await this.store.headRevision(tenant));
      if (stored === undefined) {
        throw new TrellisError("FAILED_PRECONDITION", `tenant ${tenant} has no schema yet`);
      }
      schema = engineSchemaFor(stored.text);
    }
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
    const mirrors = [...this.#mirrors.values()];
    this.#mirrors.clear();
    this.#loaded.clear();
    this.#views.clear();
    await Promise.all(
      mirrors.map(async (m) => {
        try {
          await (await m).close();
        } catch {
          // A mirror that failed to open has nothing to close.
        }
      }),
    );
  }
}

export function describeOutcome(o: Outcome): {
  permissionship: Permissionship;
  missingContext?: readonly string[];
} {
  return o.value === CONDITIONAL
    ? { permissionship: "CONDITIONAL", missingContext: o.missing }
    : { permissionship: permissionshipName(o) };
}
