/**
 * Trellis as a system under test: the engine over a SQLite file (in a temp folder) or a fresh
 * PostgreSQL schema (dropped on close), called in-process as a library. Loads through
 * `engine.importRelationships`, the validated import a user's `trellis rel import` runs.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { ObjectRef, Relationship, SubjectRef } from "../src/core/relationship.js";
import { Engine, type Permissionship } from "../src/engine/engine.js";
import { Evaluator } from "../src/engine/evaluator.js";
import { defaultMemoryBudget } from "../src/engine/machine-memory.js";
import { ResultCache } from "../src/engine/result-cache.js";
import type { Datastore } from "../src/store/datastore.js";
import { openDatastore } from "../src/store/open.js";
import {
  type Answer,
  type BenchConsistency,
  type BenchSystem,
  type CheckItem,
  type LoadResult,
  type SubjectsResult,
  sortIds,
} from "./bench-system.js";
import { IMPORT_BATCH } from "./dataset.js";
import { throughput } from "./measure.js";

const TENANT = "bench";
const SECRET = "benchmark-harness-zookie-secret-0123456789";

export type TrellisStoreKind = "sqlite" | "postgres";

export class TrellisSystem implements BenchSystem {
  readonly name: string;
  readonly engine: Engine;
  readonly #store: Datastore;
  readonly #cleanup: () => Promise<void>;

  private constructor(name: string, store: Datastore, cleanup: () => Promise<void>) {
    this.name = name;
    this.#store = store;
    this.#cleanup = cleanup;
    this.engine = new Engine(store, {
      zookieSecret: SECRET,
      memoryBudgetBytes: defaultMemoryBudget(),
    });
  }

  /** Opens an empty store: a SQLite file in a new temp folder, or a new PostgreSQL schema. */
  static async open(kind: TrellisStoreKind, pgUrl?: string): Promise<TrellisSystem> {
    if (kind === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
      const store = await openDatastore(`sqlite:${join(dir, "bench.db")}`);
      return new TrellisSystem("trellis-sqlite", store, async () => {
        rmSync(dir, { recursive: true, force: true });
      });
    }
    if (pgUrl === undefined) throw new TypeError("--store postgres needs --pg-url URL");
    const schema = `trellis_bench_${randomBytes(6).toString("hex")}`;
    const store = await openDatastore(pgUrl, { postgresSchema: schema });
    return new TrellisSystem("trellis-postgres", store, async () => {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    });
  }

  async load(schema: string, relationships: AsyncIterable<Relationship>): Promise<LoadResult> {
    await this.#store.createTenant(TENANT);
    await this.engine.writeSchema(TENANT, schema);
    const { imported } = await this.engine.importRelationships(TENANT, relationships, {
      batchSize: IMPORT_BATCH,
    });
    return { imported, skipped: 0 };
  }

  async prepare(): Promise<void> {
    await this.engine.mirror(TENANT);
  }

  async check(item: CheckItem, consistency: BenchConsistency): Promise<Answer> {
    const res = await this.engine.check(TENANT, { ...item, consistency });
    return res.permissionship;
  }

  async checkBulk(items: readonly CheckItem[], consistency: BenchConsistency): Promise<Answer[]> {
    const { results } = await this.engine.checkBulk(TENANT, items, consistency);
    return results.map((r) => {
      if ("error" in r) throw r.error;
      return r.permissionship;
    });
  }

  async listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectRef,
    consistency: BenchConsistency,
  ): Promise<string[]> {
    const res = await this.engine.listObjects(TENANT, {
      resourceType,
      permission,
      subject,
      consistency,
    });
    if (res.cursor !== undefined) throw new Error("listObjects returned a partial page");
    return sortIds(res.objects.filter((o) => o.permissionship === "ALLOWED").map((o) => o.id));
  }

  async listSubjects(
    resource: ObjectRef,
    permission: string,
    subjectType: string,
    consistency: BenchConsistency,
  ): Promise<SubjectsResult> {
    const res = await this.engine.listSubjects(TENANT, {
      resource,
      permission,
      subjectType,
      consistency,
    });
    const allowed = (p: Permissionship) => p === "ALLOWED";
    const wildcard = res.wildcard !== undefined && allowed(res.wildcard.permissionship);
    return {
      ids: sortIds(res.subjects.filter((s) => allowed(s.permissionship)).map((s) => s.id)),
      wildcard,
      excluded: wildcard ? sortIds([...(res.wildcard?.excluded ?? [])]) : [],
    };
  }

  /**
   * Warm checks per second below the async API: one `Evaluator` per check over a result cache
   * filled by a first pass, as `engine.check` builds them (the engine benchmark's
   * "evaluator" level).
   */
  async evaluatorWarmPerSecond(items: readonly CheckItem[], minMs: number): Promise<number> {
    const view = await this.engine.view(TENANT);
    const cache = new ResultCache();
    const engine = this.engine;
    const one = (q: CheckItem) =>
      new Evaluator(view, { maxDepth: engine.maxDepth, now: engine.clock.now(), cache }).check(
        q.resource,
        q.permission,
        q.subject,
      ).outcome.value;
    let sink = 0;
    for (const q of items) sink += one(q);
    const perSecond = throughput(minMs, items.length, () => {
      for (const q of items) sink += one(q);
    });
    if (sink === -1) console.log(sink); // keeps the measured work observable
    return perSecond;
  }

  async close(): Promise<void> {
    try {
      await this.engine.close();
      await this.#store.close();
    } finally {
      await this.#cleanup();
    }
  }
}
