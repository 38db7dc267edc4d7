/**
 * The operations every face of Trellis offers — the `trellis.v1` gRPC services, SpiceDB's v1
 * API, HTTP/JSON, the embedded `Trellis` class and the CLI — written once, in domain terms.
 * A face authenticates its caller and translates its wire format; what an operation accepts,
 * does and returns is decided here. Streams are async generators of pages, so a face can write
 * each page as it comes, and a large answer yields to the event loop between pages instead of
 * holding it.
 */
import {
  invalidArgument,
  PreconditionFailedError,
  type SchemaDiagnostic,
  SchemaError,
  TrellisError,
} from "../core/errors.js";
import { ELLIPSIS } from "../core/names.js";
import type { CaveatContext, ObjectRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { Consistency, Revision, TenantId, Zookie } from "../core/revision.js";
import type {
  CheckBulkItem,
  CheckBulkResult,
  CheckRequest,
  CheckResponse,
  Engine,
  Permissionship,
} from "../engine/engine.js";
import type { EngineSchema } from "../engine/engine-schema.js";
import type { ExpandNode } from "../engine/expand.js";
import { encodeCursor as listObjectsCursor } from "../engine/list-objects.js";
import { compileSchema, compileSchemaText } from "../schema/compiler.js";
import { formatSchema } from "../schema/formatter.js";
import { parseSchema } from "../schema/parser.js";
import { diffSchemas, type SchemaDifference } from "../schema/schema-diff.js";
import type { CompiledSchema } from "../schema/types.js";
import type {
  ChangeEvent,
  Datastore,
  DeleteByFilterOptions,
  Mutation,
  Precondition,
  RelationshipChange,
  RelationshipFilter,
} from "../store/datastore.js";
import { cursorAfter } from "../store/index.js";

/**
 * Most objects in one page of ListObjects. A page is also at most one time slice of work
 * (see `Engine.listObjectsPages`): between pages the event loop runs.
 */
export const LIST_PAGE = 500;
/** Relationships per store page of a read or an export. */
export const READ_PAGE = 1000;
/** Changelog entries read per round of a watch. */
export const WATCH_BATCH = 1000;
/** How long one wait for new writes lasts before a watch looks again. */
const WATCH_WAIT_MS = 30_000;

export interface ListObjectsQuery {
  readonly resourceType: string;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly context?: CaveatContext;
  readonly consistency?: Consistency;
  /** Resume after this object (a cursor an earlier answer handed out). */
  readonly cursor?: string;
  /** At most this many objects. Default: all. */
  readonly limit?: number;
}

export interface ListedObject {
  readonly id: string;
  readonly permissionship: Permissionship;
  readonly missingContext?: readonly string[];
  /** Resume after this object. */
  readonly cursor: string;
}

export interface ListSubjectsQuery {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subjectType: string;
  readonly subjectRelation?: string;
  readonly context?: CaveatContext;
  readonly consistency?: Consistency;
}

export interface ListedSubject {
  /** An id, or `*` for every subject of the type but the `excluded` ones. */
  readonly id: string;
  readonly permissionship: Permissionship;
  readonly missingContext?: readonly string[];
  readonly excluded: readonly string[];
}

/** A page of a streamed answer, with the snapshot it was computed at. */
export interface Page<T> {
  readonly zookie: Zookie;
  readonly items: readonly T[];
}

export interface ReadQuery {
  readonly consistency?: Consistency;
  /** Only relationships whose resource id starts with this. */
  readonly resourceIdPrefix?: string;
  /**
   * Refuse (FAILED_PRECONDITION) a filter that names a type or relation the schema at the
   * snapshot does not define, as SpiceDB does; otherwise such a filter matches nothing.
   */
  readonly knownNamesOnly?: boolean;
  /** Resume after the relationship this cursor names (from an earlier read of `filter`). */
  readonly cursor?: string;
  /** At most this many relationships. Default: all. */
  readonly limit?: number;
  /** Relationships per page. Default `READ_PAGE`. */
  readonly pageSize?: number;
}

export interface ExportQuery {
  readonly consistency?: Consistency;
  /** Only the relationships this filter selects (and `resourceIdPrefix`, when given). */
  readonly filter?: RelationshipFilter;
  readonly resourceIdPrefix?: string;
  /** With `filter`: as `ReadQuery.knownNamesOnly`. */
  readonly knownNamesOnly?: boolean;
  /** Resume after the page this cursor ended (a cursor an earlier export handed out). */
  readonly cursor?: string;
  /** At most this many relationships. Default: all. */
  readonly limit?: number;
  /** Relationships per page. Default `READ_PAGE`. */
  readonly pageSize?: number;
}

/** A page of an export; `cursor` resumes after its last relationship, at the same snapshot. */
export interface ExportPage extends Page<Relationship> {
  readonly cursor: string;
}

export interface DeleteQuery extends DeleteByFilterOptions {
  /** As `ReadQuery.knownNamesOnly`, against the schema at head. */
  readonly knownNamesOnly?: boolean;
}

/** Which changes a watch reports: those matching any filter (all when there is none). */
export interface WatchQuery {
  readonly filters?: readonly (RelationshipFilter & { readonly resourceIdPrefix?: string })[];
  /** Changelog entries read per round. Default `WATCH_BATCH`. */
  readonly batchSize?: number;
}

export interface ReadRelationship {
  readonly relationship: Relationship;
  /** Resume after this relationship. */
  readonly cursor: string;
}

/** The changes of one revision, as a watch streams them. */
export interface WatchRevision {
  readonly revision: Revision;
  /** The snapshot after these changes: a watch resumed from it continues after them. */
  readonly zookie: Zookie;
  /** The snapshot before them: resuming from it replays this revision. */
  readonly previous: Zookie;
  readonly changes: readonly RelationshipChange[];
  readonly schemaChanged: boolean;
  readonly committedAt: Date;
}

export interface SchemaCheck {
  /** Present when the text parses and compiles. */
  readonly schema?: CompiledSchema;
  readonly diagnostics: readonly SchemaDiagnostic[];
  /** The canonical text, when the schema is valid. */
  readonly formatted?: string;
}

export class Operations {
  readonly engine: Engine;

  constructor(engine: Engine) {
    this.engine = engine;
  }

  get store(): Datastore {
    return this.engine.store;
  }

  // ---- permissions --------------------------------------------------------------------------

  check(tenant: TenantId, req: CheckRequest): Promise<CheckResponse> {
    return this.engine.check(tenant, req);
  }

  /**
   * Many checks at one snapshot. An item that failed to parse (a `TrellisError` in place of
   * the item) is that item's error; the others are still answered.
   */
  async checkBulk(
    tenant: TenantId,
    items: readonly (CheckBulkItem | TrellisError)[],
    consistency?: Consistency,
  ): Promise<{ results: CheckBulkResult[]; zookie: Zookie }> {
    const valid = items.filter((i): i is CheckBulkItem => !(i instanceof TrellisError));
    const { results, zookie } = await this.engine.checkBulk(tenant, valid, consistency);
    let next = 0;
    return {
      results: items.map((i) => (i instanceof TrellisError ? { error: i } : results[next++]!)),
      zookie,
    };
  }

  expand(
    tenant: TenantId,
    req: { resource: ObjectRef; permission: string; consistency?: Consistency },
  ): Promise<{ tree: ExpandNode; zookie: Zookie }> {
    return this.engine.expand(tenant, req);
  }

  /**
   * The objects on which the subject has the permission (ALLOWED or CONDITIONAL), in id order,
   * `LIST_PAGE` at a time; every page at the snapshot of the first.
   */
  async *listObjects(
    tenant: TenantId,
    query: ListObjectsQuery,
    signal?: AbortSignal,
  ): AsyncGenerator<Page<ListedObject>, void, undefined> {
    const pages = this.engine.listObjectsPages(tenant, query, {
      pageSize: LIST_PAGE,
      ...(signal !== undefined ? { signal } : {}),
    });
    for await (const page of pages) {
      yield {
        zookie: page.zookie,
        items: page.objects.map((o) => ({
          id: o.id,
          permissionship: o.permissionship,
          ...(o.missingContext !== undefined ? { missingContext: o.missingContext } : {}),
          cursor: listObjectsCursor(o.id),
        })),
      };
    }
  }

  /** The subjects with the permission: the wildcard first (`*` sorts first), then by id. */
  async listSubjects(tenant: TenantId, query: ListSubjectsQuery): Promise<Page<ListedSubject>> {
    const result = await this.engine.listSubjects(tenant, query);
    const items: ListedSubject[] = [];
    if (result.wildcard !== undefined) {
      items.push({
        id: "*",
        permissionship: result.wildcard.permissionship,
        ...(result.wildcard.missingContext !== undefined
          ? { missingContext: result.wildcard.missingContext }
          : {}),
        excluded: result.wildcard.excluded,
      });
    }
    for (const s of result.subjects) {
      items.push({
        id: s.id,
        permissionship: s.permissionship,
        ...(s.missingContext !== undefined ? { missingContext: s.missingContext } : {}),
        excluded: [],
      });
    }
    return { zookie: result.zookie, items };
  }

  // ---- relationships ------------------------------------------------------------------------

  /**
   * Applies the mutations atomically once every precondition holds. With `allowEmpty`, a write
   * without mutations (SpiceDB accepts one) only checks its preconditions at head and answers
   * the head's zookie; otherwise it is INVALID_ARGUMENT.
   */
  async writeRelationships(
    tenant: TenantId,
    mutations: readonly Mutation[],
    preconditions: readonly Precondition[] = [],
    options: { readonly allowEmpty?: boolean } = {},
  ): Promise<{ zookie: Zookie }> {
    if (mutations.length > 0) {
      return this.engine.writeRelationships(tenant, mutations, preconditions);
    }
    if (options.allowEmpty !== true) {
      throw invalidArgument("a write needs at least one update", "updates");
    }
    const { revision, zookie } = await this.engine.view(tenant, "fully_consistent");
    for (const [i, p] of preconditions.entries()) {
      const page = await this.store.readByFilter(tenant, revision, p.filter, { limit: 1 });
      const matched = page.relationships.length > 0;
      if (matched !== (p.op === "MUST_MATCH")) {
        throw new PreconditionFailedError(
          `precondition ${i} (${p.op}) failed: ${matched ? "a relationship matches" : "no relationship matches"} its filter`,
          { field: `preconditions[${i}]` },
        );
      }
    }
    return { zookie };
  }

  async deleteRelationships(
    tenant: TenantId,
    filter: RelationshipFilter,
    query: DeleteQuery = {},
  ): Promise<{ zookie: Zookie; deleted: number; partial: boolean }> {
    const { knownNamesOnly, ...options } = query;
    if (knownNamesOnly === true) {
      checkFilterNames((await this.engine.view(tenant, "fully_consistent")).schema, filter);
    }
    return this.engine.deleteRelationships(tenant, filter, options);
  }

  /** The relationships matching `filter` at one snapshot, in stable order, a page at a time. */
  async *readRelationships(
    tenant: TenantId,
    filter: RelationshipFilter,
    query: ReadQuery = {},
    signal?: AbortSignal,
  ): AsyncGenerator<Page<ReadRelationship>, void, undefined> {
    const { revision, zookie, schema } = await this.engine.view(tenant, query.consistency);
    if (query.knownNamesOnly === true) checkFilterNames(schema, filter);
    const prefix = query.resourceIdPrefix;
    let cursor = query.cursor;
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    const pageSize = query.pageSize ?? READ_PAGE;
    while (remaining > 0) {
      signal?.throwIfAborted();
      const after = cursor;
      // With a prefix, a store page may hold fewer matches than asked: read whole pages.
      const page = await this.store.readByFilter(tenant, revision, filter, {
        limit: prefix === undefined ? Math.min(remaining, pageSize) : pageSize,
        ...(after !== undefined ? { cursor: after } : {}),
      });
      let relationships = page.relationships;
      if (prefix !== undefined) {
        relationships = relationships
          .filter((r) => r.resource.id.startsWith(prefix))
          .slice(0, Math.min(remaining, pageSize));
      }
      // Per-item cursors are the store's own page cursors, so any item is a resume point.
      yield {
        zookie,
        items: relationships.map((relationship) => ({
          relationship,
          cursor: cursorAfter(filter, relationship),
        })),
      };
      remaining -= relationships.length;
      if (page.cursor === undefined) return;
      cursor = page.cursor;
    }
  }

  /** One atomic batch of new relationships (CREATE each), validated against the schema. */
  async importBatch(
    tenant: TenantId,
    relationships: readonly Relationship[],
  ): Promise<{ zookie: Zookie; imported: number }> {
    if (relationships.length === 0) {
      const head = await this.store.headRevision(tenant);
      return { zookie: this.engine.zookies.encode(tenant, head), imported: 0 };
    }
    return this.engine.importRelationships(tenant, relationships, {
      batchSize: relationships.length,
    });
  }

  /**
   * Every relationship at one snapshot, in stable order, in pages of at most `pageSize`. Each
   * page's cursor names the snapshot and how far the export got, so an export resumed from it
   * continues at the same snapshot (while the GC window keeps it).
   */
  async *exportRelationships(
    tenant: TenantId,
    query: ExportQuery = {},
    signal?: AbortSignal,
  ): AsyncGenerator<ExportPage, void, undefined> {
    const resumed = query.cursor === undefined ? undefined : decodeExportCursor(query.cursor);
    const consistency =
      resumed === undefined ? query.consistency : { atExactSnapshot: resumed.zookie };
    const pageSize = query.pageSize ?? READ_PAGE;
    if (query.filter !== undefined) {
      let after = resumed?.after;
      const pages = this.readRelationships(
        tenant,
        query.filter,
        {
          pageSize,
          ...(consistency !== undefined ? { consistency } : {}),
          ...(after !== undefined ? { cursor: after } : {}),
          ...(query.limit !== undefined ? { limit: query.limit } : {}),
          ...(query.resourceIdPrefix !== undefined
            ? { resourceIdPrefix: query.resourceIdPrefix }
            : {}),
          ...(query.knownNamesOnly !== undefined ? { knownNamesOnly: query.knownNamesOnly } : {}),
        },
        signal,
      );
      for await (const page of pages) {
        after = page.items.at(-1)?.cursor ?? after;
        yield {
          zookie: page.zookie,
          items: page.items.map((i) => i.relationship),
          cursor: encodeExportCursor(page.zookie, after === undefined ? { offset: 0 } : { after }),
        };
      }
      return;
    }
    const { revision, zookie } = await this.engine.view(tenant, consistency);
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    let skip = resumed?.offset ?? 0;
    let offset = skip;
    let items: Relationship[] = [];
    let sent = 0;
    const page = (): ExportPage => {
      offset += items.length;
      sent++;
      return { zookie, items, cursor: encodeExportCursor(zookie, { offset }) };
    };
    for await (const rel of this.store.export(tenant, revision)) {
      signal?.throwIfAborted();
      if (skip > 0) {
        skip--;
        continue;
      }
      if (remaining <= 0) break;
      items.push(rel);
      remaining--;
      if (items.length >= pageSize) {
        yield page();
        items = [];
      }
    }
    // An empty tenant still gets one page: the snapshot it was exported at.
    if (items.length > 0 || sent === 0) yield page();
  }

  /**
   * The changes after `after` (default: from now), one entry per revision, as they happen; it
   * ends only when `signal` aborts. Revisions that changed nothing are skipped; with filters, a
   * revision keeps only the changes some filter matches (and may be left with none, so that a
   * watcher still learns how far the log has been read).
   */
  async *watch(
    tenant: TenantId,
    after: Zookie | string | undefined,
    signal: AbortSignal,
    query: WatchQuery = {},
  ): AsyncGenerator<WatchRevision, void, undefined> {
    const zookies = this.engine.zookies;
    const batchSize = query.batchSize ?? WATCH_BATCH;
    const filters = query.filters ?? [];
    const wanted = (change: RelationshipChange) =>
      filters.length === 0 ||
      filters.some((f) => relationshipMatches(f, change.relationship, f.resourceIdPrefix));
    let from: Revision =
      after === undefined
        ? await this.store.headRevision(tenant)
        : zookies.decode(tenant, after, "optional_start_cursor");
    for (;;) {
      signal.throwIfAborted();
      // Head first: every change at or before it is in the changelog read next, so revisions
      // that changed nothing (a delete that matched nothing) are skipped instead of waited on.
      const head = await this.store.headRevision(tenant);
      const changes = await this.store.changesSince(tenant, from, batchSize);
      if (changes.length === 0) {
        if (head > from) {
          from = head;
          continue;
        }
        await this.store.waitForChanges(tenant, from, { signal, timeoutMs: WATCH_WAIT_MS });
        continue;
      }
      for (const revision of byRevision(changes)) {
        yield {
          ...revision,
          changes: filters.length === 0 ? revision.changes : revision.changes.filter(wanted),
          zookie: zookies.encode(tenant, revision.revision),
          previous: zookies.encode(tenant, from),
        };
        from = revision.revision;
      }
    }
  }

  // ---- schema -------------------------------------------------------------------------------

  readSchema(
    tenant: TenantId,
    consistency: Consistency = "fully_consistent",
  ): Promise<{ text: string; zookie: Zookie }> {
    return this.engine.readSchema(tenant, consistency);
  }

  writeSchema(tenant: TenantId, text: string): Promise<{ zookie: Zookie }> {
    // An empty schema would drop every definition: almost always a mistake in the caller.
    if (text.trim() === "") throw invalidArgument("schema is required", "schema");
    return this.engine.writeSchema(tenant, text);
  }

  /** Parses and compiles without writing: every problem with its position, or the schema. */
  validateSchema(text: string): SchemaCheck {
    const parsed = parseSchema(text);
    if (parsed.diagnostics.length > 0) return { diagnostics: parsed.diagnostics };
    const compiled = compileSchema(parsed.ast);
    if (compiled.schema === undefined) return { diagnostics: compiled.diagnostics };
    return { schema: compiled.schema, diagnostics: [], formatted: formatSchema(parsed.ast) };
  }

  /** What writing `text` would change against the tenant's schema at head. */
  async diffSchema(
    tenant: TenantId,
    text: string,
  ): Promise<{ diffs: SchemaDifference[]; diagnostics: readonly SchemaDiagnostic[] }> {
    const proposed = this.validateSchema(text);
    if (proposed.schema === undefined) return { diffs: [], diagnostics: proposed.diagnostics };
    let current: CompiledSchema | undefined;
    try {
      current = compileSchemaText((await this.readSchema(tenant)).text);
    } catch (err) {
      // A tenant without a schema yet: everything proposed is an addition.
      const noSchema =
        err instanceof TrellisError && err.code === "NOT_FOUND" && err.field !== "tenant";
      if (!noSchema && !(err instanceof SchemaError)) throw err;
    }
    return { diffs: diffSchemas(current, proposed.schema), diagnostics: [] };
  }

  // ---- tenants ------------------------------------------------------------------------------

  createTenant(id: TenantId): Promise<void> {
    return this.store.createTenant(id);
  }

  listTenants(): Promise<TenantId[]> {
    return this.store.listTenants();
  }
}

/** Whether `rel` is one `filter` selects (with `resourceIdPrefix`, also by that prefix). */
export function relationshipMatches(
  filter: RelationshipFilter,
  rel: Relationship,
  resourceIdPrefix?: string,
): boolean {
  const { subject } = rel;
  return (
    rel.resource.type === filter.resourceType &&
    (filter.resourceId === undefined || rel.resource.id === filter.resourceId) &&
    (resourceIdPrefix === undefined || rel.resource.id.startsWith(resourceIdPrefix)) &&
    (filter.relation === undefined || rel.relation === filter.relation) &&
    (filter.subjectType === undefined || subject.type === filter.subjectType) &&
    (filter.subjectId === undefined || subject.id === filter.subjectId) &&
    (filter.subjectRelation === undefined ||
      (filter.subjectRelation === null || filter.subjectRelation === ELLIPSIS
        ? subject.relation === undefined
        : subject.relation === filter.subjectRelation))
  );
}

/**
 * FAILED_PRECONDITION when the filter names a type, relation or subject type the schema does
 * not define (SpiceDB's words, so that its clients can match them).
 */
function checkFilterNames(schema: EngineSchema, filter: RelationshipFilter): void {
  const known = (type: string, field: string) => {
    if (schema.membersOf(type) === undefined) {
      throw new TrellisError("FAILED_PRECONDITION", `object definition \`${type}\` not found`, {
        field,
      });
    }
  };
  known(filter.resourceType, "resource_type");
  if (
    filter.relation !== undefined &&
    schema.member(filter.resourceType, filter.relation) === undefined
  ) {
    throw new TrellisError(
      "FAILED_PRECONDITION",
      `relation/permission \`${filter.relation}\` not found under definition \`${filter.resourceType}\``,
      { field: "optional_relation" },
    );
  }
  if (filter.subjectType !== undefined) known(filter.subjectType, "subject_type");
}

/**
 * An export's resume point: its snapshot, and how far it got — an offset into the whole
 * export, or (filtered) the read cursor of the last relationship sent.
 */
type ExportPosition = { readonly offset: number } | { readonly after: string };

function encodeExportCursor(zookie: Zookie, position: ExportPosition): string {
  const at = "after" in position ? { a: position.after } : { n: position.offset };
  return Buffer.from(JSON.stringify({ z: zookie, ...at })).toString("base64url");
}

function decodeExportCursor(cursor: string): {
  zookie: string;
  offset?: number;
  after?: string;
} {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (parsed !== null && typeof parsed === "object") {
      const { z, n, a } = parsed as { z?: unknown; n?: unknown; a?: unknown };
      if (typeof z === "string" && typeof a === "string") return { zookie: z, after: a };
      if (typeof z === "string" && Number.isSafeInteger(n) && (n as number) >= 0) {
        return { zookie: z, offset: n as number };
      }
    }
  } catch {
    // reported below
  }
  throw invalidArgument("the export cursor is malformed", "optional_cursor");
}

/** The changelog entries grouped by revision (they come ordered by revision). */
function* byRevision(
  changes: readonly ChangeEvent[],
): Generator<Omit<WatchRevision, "zookie" | "previous">> {
  let i = 0;
  while (i < changes.length) {
    const { revision, committedAt } = changes[i]!;
    const relationships: RelationshipChange[] = [];
    let schemaChanged = false;
    for (; i < changes.length && changes[i]!.revision === revision; i++) {
      const change = changes[i]!;
      if (change.op === "SCHEMA") schemaChanged = true;
      else relationships.push(change);
    }
    yield { revision, changes: relationships, schemaChanged, committedAt };
  }
}
