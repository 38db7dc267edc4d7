/**
 * How long a write made through one replica takes to reach another replica's index, on one
 * PostgreSQL database: two engines on two datastores (two connection pools, as two processes
 * would have), the second told of writes by LISTEN/NOTIFY. Each write is timed from its
 * acknowledgement on the first engine to the moment the second engine's index has applied it.
 *
 *   npm run bench:replicas -- [--writes 500] [--pace-ms 5]
 *
 * PostgreSQL comes from TRELLIS_TEST_PG_URL (default the local server), in a fresh schema.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { parseRelationship } from "../src/core/relationship.js";
import { Engine } from "../src/engine/engine.js";
import { openDatastore } from "../src/store/open.js";
import { integerFlag } from "./dataset-args.js";

const SECRET = "replica-lag-benchmark-secret-0123456789";
const SCHEMA = `definition user {}
definition doc { relation viewer: user }`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      writes: { type: "string", default: "500" },
      "pace-ms": { type: "string", default: "5" },
    },
  });
  const writes = integerFlag("writes", values.writes, 1);
  const paceMs = integerFlag("pace-ms", values["pace-ms"], 0);
  const url = process.env.TRELLIS_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
  const schema = `trellis_lag_${process.pid}`;
  const storeA = await openDatastore(url, { postgresSchema: schema });
  const storeB = await openDatastore(url, { postgresSchema: schema });
  const a = new Engine(storeA, { zookieSecret: SECRET, gc: false });
  const b = new Engine(storeB, { zookieSecret: SECRET, gc: false });
  try {
    await storeA.createTenant("lag");
    await a.writeSchema("lag", SCHEMA);
    const mirror = await b.mirror("lag");
    const lags: number[] = [];
    for (let i = 0; i < writes; i++) {
      const { zookie } = await a.writeRelationships("lag", [
        { op: "TOUCH", relationship: parseRelationship(`doc:d${i}#viewer@user:u${i}`) },
      ]);
      const acknowledged = performance.now();
      const revision = a.zookies.decode("lag", zookie, "zookie");
      // Resolves when the index has applied the write; nothing here asks it to catch up.
      while (mirror.revision < revision) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      lags.push(performance.now() - acknowledged);
      if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    }
    lags.sort((x, y) => x - y);
    console.log(
      `replica lag over ${writes} writes (PostgreSQL LISTEN/NOTIFY): ` +
        `p50 ${percentile(lags, 0.5).toFixed(2)} ms, p99 ${percentile(lags, 0.99).toFixed(2)} ms, ` +
        `max ${lags.at(-1)!.toFixed(2)} ms`,
    );
  } finally {
    await a.close();
    await b.close();
    await storeA.close();
    await storeB.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

await main();
