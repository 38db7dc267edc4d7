/**
 * `Trellis`: the embedded entry point — the engine and a datastore in this process, behind the
 * same `TrellisApi` as the gRPC `TrellisClient`, acting on one tenant. No network, no server.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { invalidArgument, TrellisError } from "./core/errors.js";
import type { Relationship } from "./core/relationship.js";
import type { Revision, TenantId, Zookie } from "./core/revision.js";
import { Engine, type EngineOptions } from "./engine/engine.js";
import type { TraceNode } from "./engine/evaluator.js";
import { keptZookieSecret } from "./engine/zookie-secret.js";
import {
  allowedObjects,
  allowedSubjects,
  checkItemOf,
  consistencyOf,
  contextOf,
  filterOf,
  formatListedSubject,
  memberNameOf,
  mutationsOf,
  objectRefOf,
  type ParsedCheckItem,
  positiveIntegerOf,
  preconditionsOf,
  subjectRefOf,
  subjectTypeOf,
  typeNameOf,
} from "./sdk/request-inputs.js";
import type {
  CheckBulkItemInput,
  CheckBulkResponse,
  CheckBulkResult,
  CheckOptions,
  CheckResult,
  CheckTrace,
  ConsistencyOptions,
  DeleteOptions,
  DeleteResult,
  ExpandResult,
  ListedObject,
  ListedSubject,
  ListOptions,
  ObjectInput,
  ReadOptions,
  ReadSchemaResult,
  RelationshipChange,
  RelationshipFilter,
  SubjectInput,
  TrellisApi,
  WatchEvent,
  WatchOptions,
  WriteItem,
  WriteOptions,
  WriteResult,
} from "./sdk/trellis-api.js";
import type {
  ChangeEvent,
  Datastore,
  DeleteByFilterOptions,
  RelationshipFilter as StoreFilter,
} from "./store/datastore.js";
import { type OpenDatastoreOptions, openDatastore } from "./store/open.js";

/** The preset schemas shipped in the package's `schema/` folder. */
export type PresetName = "docs" | "rbac" | "abac";
const PRESETS: ReadonlySet<string> = new Set<PresetName>(["docs", "rbac", "abac"]);

export interface TrellisOptions extends Omit<EngineOptions, "zookieSecret"> {
  /**
   * Where the data lives: `sqlite:PATH` (the file and its directory are created if missing),
   * `sqlite::memory:` (gone at close), or `postgres://…`. Default `sqlite:./data/trellis.db`.
   */
  readonly datastore?: string;
  /** Options of the datastore (SQLite busy handling, PostgreSQL pool, …); `clock` is shared. */
  readonly datastoreOptions?: Omit<OpenDatastoreOptions, "clock">;
  /** The tenant this instance acts on; created if missing. Default `default`. */
  readonly tenant?: TenantId;
  /**
   * Signs zookies (at least 16 bytes); every process serving the same store must share it.
   * Default: for a SQLite file, the secret kept beside it in `zookie.secret` (created on first
   * open, mode 0600, the same file `trellis serve` uses), so zookies survive restarts; for
   * other stores, a random one for each `open`, so zookies stop working at `close`.
   */
  readonly zookieSecret?: string | Uint8Array;
  /** Write this preset schema when the tenant has no schema yet (an existing one is kept). */
  readonly preset?: PresetName;
}

export const TRELLIS_DEFAULTS = {
  datastore: "sqlite:./data/trellis.db",
  tenant: "default",
} as const;

const OWN_OPTIONS = ["datastore", "datastoreOptions", "tenant", "zookieSecret", "preset"];
const ENGINE_OPTIONS = [
  "clock",
  "maxDepth",
  "maxStalenessMs",
  "historyWindowMs",
  "catchUpTimeoutMs",
  "cache",
  "onBackgroundError",
  "caveatLimits",
  "memoryBudgetBytes",
  "indexTenants",
  "storeCacheBytes",
  "gc",
  "onGc",
] as const satisfies readonly (keyof EngineOptions)[];
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([...OWN_OPTIONS, ...ENGINE_OPTIONS]);

/** Objects per engine page of ListObjects: how far ahead of the consumer the work runs. */
const LIST_OBJECTS_PAGE = 500;
/** Relationships per store page of a read; changelog entries per read of Watch. */
const READ_PAGE = 1000;
/** How long one wait for new writes lasts before Watch looks again. */
const WATCH_WAIT_MS = 30_000;

export class Trellis implements TrellisApi {
  /** The engine, for what `TrellisApi` does not cover (other tenants, cache statistics). */
  readonly engine: Engine;
  /** The tenant every call acts on. */
  readonly tenant: TenantId;
  #lastZookie: Zookie | undefined;
  #closed = false;

  private constructor(engine: Engine, tenant: TenantId) {
    this.engine = engine;
    this.tenant = tenant;
  }

  /**
   * Opens the datastore (applying its migrations), creates the tenant if missing and writes
   * the preset schema if asked. Throws TypeError for a bad option; UNAVAILABLE when the
   * datastore cannot be opened.
   */
  static async open(options: TrellisOptions = {}): Promise<Trellis> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Trellis.open takes an options object");
    }
    for (const name of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(name)) throw new TypeError(`unknown option ${name}`);
    }
    const tenant = options.tenant ?? TRELLIS_DEFAULTS.tenant;
    if (typeof tenant !== "string" || tenant === "") {
      throw new TypeError("option tenant must be a non-empty string");
    }
    if (options.preset !== undefined && !PRESETS.has(options.preset)) {
      throw new TypeError(
        `option preset must be one of ${[...PRESETS].join(", ")}, got ${String(options.preset)}`,
      );
    }
    const engineOptions: Partial<EngineOptions> = {};
    for (const name of ENGINE_OPTIONS) {
      if (options[name] !== undefined) Object.assign(engineOptions, { [name]: options[name] });
    }
    const datastore = options.datastore ?? TRELLIS_DEFAULTS.datastore;
    const store = await openDatastore(datastore, {
      ...options.datastoreOptions,
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    });
    let engine: Engine | undefined;
    try {
      engine = new Engine(store, {
        ...engineOptions,
        zookieSecret:
          options.zookieSecret ?? keptZookieSecret(datastore)?.secret ?? randomBytes(32),
      });
      await ensureTenant(store, tenant);
      const trellis = new Trellis(engine, tenant);
      if (options.preset !== undefined) await trellis.#writePresetIfEmpty(options.preset);
      return trellis;
    } catch (err) {
      await engine?.close();
      await store.close();
      throw err;
    }
  }

  get lastZookie(): Zookie | undefined {
    return this.#lastZookie;
  }

  async #writePresetIfEmpty(preset: PresetName): Promise<void> {
    const store = this.engine.store;
    const head = await store.headRevision(this.tenant);
    if ((await store.readSchema(this.tenant, head)) !== undefined) return;
    // `schema/` sits beside both `src/` and `dist/`, so one relative path serves both.
    const text = await readFile(new URL(`../schema/${preset}.zed`, import.meta.url), "utf8");
    await this.writeSchema(text);
  }

  // ---- schema ---------------------------------------------------------------------------

  async writeSchema(schema: string): Promise<WriteResult> {
    const engine = this.#engine();
    if (typeof schema !== "string") throw new TypeError("schema must be a string");
    // An empty schema would drop every definition: almost always a mistake in the caller.
    if (schema.trim() === "") throw invalidArgument("schema is required", "schema");
    const { zookie } = await engine.writeSchema(this.tenant, schema);
    return this.#wrote(zookie);
  }

  async readSchema(options: ConsistencyOptions = {}): Promise<ReadSchemaResult> {
    const { text, zookie } = await this.#engine().readSchema(
      this.tenant,
      consistencyOf(options.consistency) ?? "fully_consistent",
    );
    return { schema: text, zookie };
  }

  // ---- relationships --------------------------------------------------------------------

  async writeRelationships(
    items: readonly WriteItem[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const engine = this.#engine();
    const mutations = mutationsOf(items);
    const preconditions = preconditionsOf(options.preconditions);
    const { zookie } = await engine.writeRelationships(this.tenant, mutations, preconditions);
    return this.#wrote(zookie);
  }

  async deleteRelationships(
    filter: RelationshipFilter,
    options: DeleteOptions = {},
  ): Promise<DeleteResult> {
    const engine = this.#engine();
    const limit = positiveIntegerOf(options.limit, "limit");
    const preconditions = preconditionsOf(options.preconditions);
    const deleteOptions: DeleteByFilterOptions = {
      ...(limit !== undefined ? { limit } : {}),
      ...(options.allowPartial === true ? { allowPartial: true } : {}),
      ...(preconditions.length > 0 ? { preconditions } : {}),
    };
    const result = await engine.deleteRelationships(
      this.tenant,
      filterOf(filter) satisfies StoreFilter,
      deleteOptions,
    );
    return {
      zookie: this.#wrote(result.zookie).zookie,
      deleted: result.deleted,
      partial: result.partial,
    };
  }

  async *readRelationships(
    filter: RelationshipFilter,
    options: ReadOptions = {},
  ): AsyncGenerator<Relationship, void, undefined> {
    const engine = this.#engine();
    const checked = filterOf(filter);
    let remaining = positiveIntegerOf(options.limit, "limit") ?? Number.POSITIVE_INFINITY;
    const { revision } = await engine.view(this.tenant, consistencyOf(options.consistency));
    let cursor: string | undefined;
    while (remaining > 0) {
      const page = await engine.store.readByFilter(this.tenant, revision, checked, {
        limit: Math.min(remaining, READ_PAGE),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const rel of page.relationships) yield rel;
      remaining -= page.relationships.length;
      if (page.cursor === undefined) return;
      cursor = page.cursor;
    }
  }

  // ---- permission queries ---------------------------------------------------------------

  async check(
    resource: ObjectInput,
    permission: string,
    subject: SubjectInput,
    options: CheckOptions = {},
  ): Promise<CheckResult> {
    const engine = this.#engine();
    const context = contextOf(options.context);
    const consistency = consistencyOf(options.consistency);
    const result = await engine.check(this.tenant, {
      resource: objectRefOf(resource),
      permission: memberNameOf(permission),
      subject: subjectRefOf(subject),
      ...(context !== undefined ? { context } : {}),
      ...(consistency !== undefined ? { consistency } : {}),
      trace: options.trace === true,
    });
    return {
      permissionship: result.permissionship,
      ...(result.missingContext !== undefined ? { missingContext: result.missingContext } : {}),
      zookie: result.zookie,
      ...(result.trace !== undefined ? { trace: traceOf(result.trace) } : {}),
    };
  }

  async checkBulk(
    items: readonly CheckBulkItemInput[],
    options: ConsistencyOptions = {},
  ): Promise<CheckBulkResponse> {
    const engine = this.#engine();
    if (!Array.isArray(items)) throw new TypeError("items must be an array");
    // A malformed item is that item's answer; the others are still checked (as the server does).
    const parsed = items.map((item, i) => checkItemOf(item, `items[${i}]`));
    const valid = parsed.filter((p): p is ParsedCheckItem => !(p instanceof TrellisError));
    const { results, zookie } = await engine.checkBulk(
      this.tenant,
      valid,
      consistencyOf(options.consistency),
    );
    let next = 0;
    return {
      results: parsed.map(
        (p): CheckBulkResult => (p instanceof TrellisError ? { error: p } : results[next++]!),
      ),
      zookie,
    };
  }

  async expand(
    resource: ObjectInput,
    permission: string,
    options: ConsistencyOptions = {},
  ): Promise<ExpandResult> {
    const consistency = consistencyOf(options.consistency);
    return this.#engine().expand(this.tenant, {
      resource: objectRefOf(resource),
      permission: memberNameOf(permission),
      ...(consistency !== undefined ? { consistency } : {}),
    });
  }

  async *listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options: ListOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    yield* allowedObjects(this.listObjectsDetailed(resourceType, permission, subject, options));
  }

  /**
   * Computed page by page as the consumer reads, every page at the first page's snapshot, so
   * that breaking out early also stops the work.
   */
  async *listObjectsDetailed(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options: ListOptions = {},
  ): AsyncGenerator<ListedObject, void, undefined> {
    const engine = this.#engine();
    const type = typeNameOf(resourceType, "resourceType");
    const request = {
      resourceType: type,
      permission: memberNameOf(permission),
      subject: subjectRefOf(subject),
      ...optional("context", contextOf(options.context)),
      limit: LIST_OBJECTS_PAGE,
    };
    let page = await engine.listObjects(this.tenant, {
      ...request,
      ...optional("consistency", consistencyOf(options.consistency)),
    });
    while (true) {
      for (const o of page.objects) {
        yield {
          object: `${type}:${o.id}`,
          permissionship: o.permissionship,
          ...optional("missingContext", o.missingContext),
        };
      }
      if (page.cursor === undefined) return;
      page = await engine.listObjects(this.tenant, {
        ...request,
        consistency: { atExactSnapshot: page.zookie },
        cursor: page.cursor,
      });
    }
  }

  async *listSubjects(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options: ListOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    yield* allowedSubjects(this.listSubjectsDetailed(resource, permission, subjectType, options));
  }

  async *listSubjectsDetailed(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options: ListOptions = {},
  ): AsyncGenerator<ListedSubject, void, undefined> {
    const engine = this.#engine();
    const wanted = subjectTypeOf(subjectType);
    const result = await engine.listSubjects(this.tenant, {
      resource: objectRefOf(resource),
      permission: memberNameOf(permission),
      subjectType: wanted.type,
      ...optional("subjectRelation", wanted.relation),
      ...optional("context", contextOf(options.context)),
      ...optional("consistency", consistencyOf(options.consistency)),
    });
    const format = (id: string) => formatListedSubject(wanted.type, id, wanted.relation);
    // The wildcard first, as the server streams it: `*` sorts before every id.
    if (result.wildcard !== undefined) {
      yield {
        subject: format("*"),
        permissionship: result.wildcard.permissionship,
        ...optional("missingContext", result.wildcard.missingContext),
        excluded: result.wildcard.excluded.map(format),
      };
    }
    for (const s of result.subjects) {
      yield {
        subject: format(s.id),
        permissionship: s.permissionship,
        ...optional("missingContext", s.missingContext),
        excluded: [],
      };
    }
  }

  // ---- changes --------------------------------------------------------------------------

  /**
   * The changes after `after` (default: from now), one event per write, read from the
   * store's changelog and then waited for. Runs until the consumer stops or `signal` aborts
   * (then CANCELLED). `after` older than the kept history is FAILED_PRECONDITION.
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    const engine = this.#engine();
    const { store } = engine;
    const { signal } = options;
    let after: Revision =
      options.after === undefined
        ? await store.headRevision(this.tenant)
        : engine.zookies.decode(this.tenant, options.after, "after");
    const stop = new AbortController();
    const waitSignal = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
    try {
      while (true) {
        if (signal?.aborted) {
          throw new TrellisError("CANCELLED", "the watch was cancelled", { cause: signal.reason });
        }
        // Head first: a write that changed nothing (a delete of absent tuples) still takes a
        // revision but leaves no changelog entry, and waiting past it avoids a busy loop.
        const head = await store.headRevision(this.tenant);
        const changes = await store.changesSince(this.tenant, after, READ_PAGE);
        if (changes.length === 0) {
          after = Math.max(after, head);
          await store.waitForChanges(this.tenant, after, {
            signal: waitSignal,
            timeoutMs: WATCH_WAIT_MS,
          });
          continue;
        }
        for (const event of groupByRevision(changes)) {
          after = event.revision;
          yield {
            zookie: engine.zookies.encode(this.tenant, event.revision),
            changes: event.changes,
            schemaChanged: event.schemaChanged,
            committedAt: event.committedAt,
          };
        }
      }
    } finally {
      stop.abort();
    }
  }

  /** Closes the engine and the datastore. Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.engine.close();
    } finally {
      await this.engine.store.close();
    }
  }

  #engine(): Engine {
    if (this.#closed) throw new TrellisError("UNAVAILABLE", "this Trellis is closed");
    return this.engine;
  }

  #wrote(zookie: Zookie): WriteResult {
    this.#lastZookie = zookie;
    return { zookie };
  }
}

/** `{ [key]: value }` when the value is defined, `{}` otherwise (for optional properties). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

async function ensureTenant(store: Datastore, tenant: TenantId): Promise<void> {
  if ((await store.listTenants()).includes(tenant)) return;
  try {
    await store.createTenant(tenant);
  } catch (err) {
    // Another process opening the same store may have created it meanwhile.
    if (!(err instanceof TrellisError && err.code === "ALREADY_EXISTS")) throw err;
  }
}

function traceOf(node: TraceNode): CheckTrace {
  return {
    resource: node.resource,
    relation: node.member,
    kind: node.kind,
    result: node.result,
    ...optional("cached", node.cached),
    ...(node.cycle === true ? { cycle: true } : {}),
    children: node.children.map(traceOf),
  };
}

interface RevisionEvent {
  revision: Revision;
  committedAt: Date;
  changes: RelationshipChange[];
  schemaChanged: boolean;
}

/** Changelog entries as one event per revision (the store never splits a revision). */
function groupByRevision(changes: readonly ChangeEvent[]): RevisionEvent[] {
  const events: RevisionEvent[] = [];
  for (const change of changes) {
    let event = events.at(-1);
    if (event === undefined || event.revision !== change.revision) {
      event = {
        revision: change.revision,
        committedAt: change.committedAt,
        changes: [],
        schemaChanged: false,
      };
      events.push(event);
    }
    if (change.op === "SCHEMA") event.schemaChanged = true;
    else event.changes.push({ op: change.op, relationship: change.relationship });
  }
  return events;
}
