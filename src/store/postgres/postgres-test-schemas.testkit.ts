/**
 * Fresh PostgreSQL schemas for the tests of one file, on the server named by
 * TRELLIS_TEST_PG_URL: every schema is named after the file's run and dropped by `dropAll`.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The test server, or undefined when the PostgreSQL tests are not to run. */
export const PG_TEST_URL = process.env.TRELLIS_TEST_PG_URL || undefined;

export class PostgresTestSchemas {
  readonly #url: string;
  readonly #run = `trellis_test_${randomBytes(4).toString("hex")}`;
  #count = 0;

  constructor(url: string) {
    this.#url = url;
  }

  /** A schema name no other test uses. */
  next(): string {
    return `${this.#run}_${this.#count++}`;
  }

  /** Drops every schema this run named. */
  async dropAll(): Promise<void> {
    const admin = new pg.Client({ connectionString: this.#url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
        [`${this.#run}\\_%`],
      );
      for (const { nspname } of rows) await admin.query(`DROP SCHEMA "${nspname}" CASCADE`);
    } finally {
      await admin.end();
    }
  }
}
