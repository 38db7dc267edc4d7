/**
 * Real datastores for tests: a SQLite file in a fresh temp directory, a fresh PostgreSQL
 * schema on the server named by TRELLIS_TEST_PG_URL, or a fresh in-memory store. Each call is
 * isolated; `close` removes what it made.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Clock } from "../../src/core/clock.js";
import type { Datastore } from "../../src/store/datastore.js";
import { openDatastore } from "../../src/store/open.js";

export type StoreKind = "sqlite" | "postgres" | "memory";

export const PG_URL = process.env.TRELLIS_TEST_PG_URL;

/** The engines tests run against here: PostgreSQL only when its URL is set. */
export const STORE_KINDS: StoreKind[] = PG_URL
  ? ["sqlite", "postgres", "memory"]
  : ["sqlite", "memory"];

if (!PG_URL) {
  console.warn("TRELLIS_TEST_PG_URL is unset: tests run against SQLite and the memory engine only");
}

export interface TestStore {
  readonly store: Datastore;
  close(): Promise<void>;
}

export async function openTestStore(kind: StoreKind, clock?: Clock): Promise<TestStore> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "trellis-test-"));
    const store = await openDatastore(`sqlite:${join(dir, "test.db")}`, clock ? { clock } : {});
    return {
      store,
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (kind === "memory") {
    const store = await openDatastore("memory:", clock ? { clock } : {});
    return { store, close: () => store.close() };
  }
  if (!PG_URL) throw new Error("TRELLIS_TEST_PG_URL is not set");
  const schema = `trellis_t_${randomBytes(6).toString("hex")}`;
  const store = await openDatastore(PG_URL, {
    postgresSchema: schema,
    poolSize: 4,
    ...(clock ? { clock } : {}),
  });
  return {
    store,
    close: async () => {
      await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
