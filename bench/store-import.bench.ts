/**
 * Store benchmark: imports generated tuples (1 000 000 by default, TRELLIS_BENCH_TUPLES to
 * change) into SQLite (a temp file) and PostgreSQL (its own schema, when TRELLIS_TEST_PG_URL is
 * set), reporting tuples/s and peak RSS during the import, then the latency (median, p99) of
 * the three read shapes on that data.
 *
 *   TRELLIS_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test \
 *     npx vitest bench --run bench/store-import.bench.ts
 *
 * Goals: SQLite import >= 200k tuples/s, PostgreSQL >= 50k tuples/s, RSS < 300 MB during
 * import, SQLite point read < 20 µs.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { bench, describe } from "vitest";
import type { Relationship } from "../src/core/index.js";
import type { Datastore } from "../src/store/index.js";
import { openDatastore } from "../src/store/index.js";

const TUPLES = Number(process.env.TRELLIS_BENCH_TUPLES ?? 1_000_000);
/** Tuples per import batch (one transaction and revision each); TRELLIS_BENCH_BATCH to change. */
const BATCH = Number(process.env.TRELLIS_BENCH_BATCH ?? 50_000);
const PG_URL = process.env.TRELLIS_TEST_PG_URL;
const RELATIONS = ["viewer", "editor", "owner", "commenter"] as const;
const USERS = 100_000;
const GROUPS = 1000;

/** Tuple i: four relations per document, mostly users, every tenth a group userset. */
function tuple(i: number): Relationship {
  const subject =
    i % 10 === 9
      ? { type: "group", id: `g${i % GROUPS}`, relation: "member" }
      : { type: "user", id: `u${(i * 7919) % USERS}` };
  return {
    resource: { type: "document", id: `d${Math.floor(i / 4)}` },
    relation: RELATIONS[i % 4]!,
    subject,
  };
}

function* generate(count: number): Generator<Relationship> {
  for (let i = 0; i < count; i++) yield tuple(i);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function measureImport(label: string, store: Datastore, batchSize: number): Promise<void> {
  await store.createTenant("bench");
  const before = process.memoryUsage.rss();
  let peak = before;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  const started = process.hrtime.bigint();
  const result = await store.bulkImport("bench", generate(TUPLES), {
    batchSize,
    onProgress: sample,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(timer);
  sample();
  console.log(
    `${label} import: ${result.imported} tuples in ${seconds.toFixed(2)} s = ${Math.round(
      result.imported / seconds,
    ).toLocaleString(
      "en",
    )} tuples/s; RSS ${mb(before)} before, peak ${mb(peak)} during (+${mb(peak - before)}; JS heap peak ${mb(peakHeap)})`,
  );
}

/** Latency of `samples` sequential reads of one shape, on random existing keys. */
async function measureReads(label: string, store: Datastore, samples: number): Promise<void> {
  const head = await store.headRevision("bench");
  const shapes: Record<string, (i: number) => Promise<unknown>> = {
    readByResource: (i) => {
      const t = tuple(i);
      return store.readByResource("bench", head, {
        type: t.resource.type,
        id: t.resource.id,
        relation: t.relation,
      });
    },
    readBySubject: (i) => {
      const t = tuple(i);
      return store.readBySubject("bench", head, {
        resourceType: "document",
        relation: t.relation,
        subject: t.subject,
      });
    },
    readByFilter: (i) =>
      store.readByFilter(
        "bench",
        head,
        { resourceType: "document", resourceId: tuple(i).resource.id },
        { limit: 10 },
      ),
  };
  for (const [shape, read] of Object.entries(shapes)) {
    for (let i = 0; i < 200; i++) await read((i * 104_729) % TUPLES); // warm up
    const times: number[] = [];
    let rows = 0;
    for (let n = 0; n < samples; n++) {
      const i = (n * 2_654_435_761) % TUPLES;
      const started = process.hrtime.bigint();
      const out = await read(i);
      times.push(Number(process.hrtime.bigint() - started) / 1000);
      rows += Array.isArray(out) ? out.length : 1;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const p99 = times[Math.floor(times.length * 0.99)]!;
    console.log(
      `${label} ${shape}: median ${median.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs (${samples} reads, ${(rows / samples).toFixed(1)} rows each)`,
    );
  }
}

/**
 * vitest bench runs no hooks, so each engine is one benchmark run exactly once: the import is
 * the measured body, and the report lines above the table are the results.
 */
const ONCE = { iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 };

describe("store", () => {
  bench(
    `sqlite: import ${TUPLES} tuples, then point reads`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
      const store = await openDatastore(`sqlite:${join(dir, "bench.db")}`);
      try {
        await measureImport("sqlite", store, BATCH);
        await measureReads("sqlite", store, 20_000);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    ONCE,
  );

  bench.skipIf(!PG_URL)(
    `postgres: import ${TUPLES} tuples, then point reads`,
    async () => {
      const schema = `trellis_bench_${randomBytes(4).toString("hex")}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      const store = await openDatastore(PG_URL!, { postgresSchema: schema });
      try {
        await measureImport("postgres", store, BATCH);
        // Fresh statistics, as autovacuum would gather on a live server.
        await admin.query(`ANALYZE "${schema}".relationships`);
        await measureReads("postgres", store, 2000);
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    },
    ONCE,
  );
});
