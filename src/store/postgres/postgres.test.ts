import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import type { Revision } from "../../core/index.js";
import { describeDatastore } from "../conformance/describe-datastore.js";
import { collect, create, expectCode } from "../conformance/tuple-fixtures.js";
import type { Datastore } from "../datastore.js";
import { openDatastore } from "../open.js";

const url = process.env.TRELLIS_TEST_PG_URL;
if (!url) {
  console.warn(
    "postgres store tests skipped: set TRELLIS_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run them",
  );
}

/** Every run works in its own schemas, named after the run, and drops them at the end. */
const run = `trellis_test_${randomBytes(4).toString("hex")}`;
let schemas = 0;
const nextSchema = () => `${run}_${schemas++}`;

function open(schema: string, clock = new ManualClock(), extra = {}): Promise<Datastore> {
  return openDatastore(url!, { clock, postgresSchema: schema, poolSize: 4, ...extra });
}

describe.skipIf(!url)("postgres", () => {
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
        [`${run}\\_%`],
      );
      for (const { nspname } of rows) await admin.query(`DROP SCHEMA "${nspname}" CASCADE`);
    } finally {
      await admin.end();
    }
  });

  describeDatastore("conformance", ({ clock }) => open(nextSchema(), clock as ManualClock));

  describe("engine", () => {
    it("declares concurrent writers and LISTEN/NOTIFY", async () => {
      const store = await open(nextSchema());
      expect(store.capabilities).toEqual({ concurrentWriters: true, listenNotify: true });
      await store.close();
    });

    it("never exposes a head revision whose writes are not all visible, with two writers", async () => {
      const schema = nextSchema();
      const clock = new ManualClock();
      const first = await open(schema, clock);
      const second = await open(schema, clock);
      const reader = await open(schema, clock);
      await first.createTenant("acme");
      const perWrite = 3;
      const writesPerWriter = 40;
      let writing = true;
      const writer = async (store: Datastore, name: string) => {
        const lanes = Array.from({ length: 4 }, async (_, lane) => {
          for (let i = lane; i < writesPerWriter; i += 4) {
            await store.write(
              "acme",
              Array.from({ length: perWrite }, (_, k) =>
                create(`doc:${name}_${i}_${k}#viewer@user:u`),
              ),
            );
          }
        });
        await Promise.all(lanes);
      };
      const checks: Revision[] = [];
      const check = async () => {
        while (writing) {
          const head = await reader.headRevision("acme");
          const page = await reader.readByFilter(
            "acme",
            head,
            { resourceType: "doc" },
            { limit: 1000 },
          );
          // Every revision is one write of `perWrite` new tuples: a snapshot at head N holds
          // exactly N writes, and each of them whole.
          expect(page.relationships).toHaveLength(head * perWrite);
          const groups = new Map<string, number>();
          for (const r of page.relationships) {
            const write = r.resource.id.slice(0, r.resource.id.lastIndexOf("_"));
            groups.set(write, (groups.get(write) ?? 0) + 1);
          }
          for (const count of groups.values()) expect(count).toBe(perWrite);
          checks.push(head);
        }
      };
      const checking = check();
      await Promise.all([writer(first, "a"), writer(second, "b")]);
      writing = false;
      await checking;
      expect(await reader.headRevision("acme")).toBe(2 * writesPerWriter);
      expect(await collect(reader.export("acme", 2 * writesPerWriter))).toHaveLength(
        2 * writesPerWriter * perWrite,
      );
      const changes = await reader.changesSince("acme", 0, 10_000);
      expect(changes.map((c) => c.revision)).toEqual(
        Array.from(
          { length: 2 * writesPerWriter * perWrite },
          (_, i) => Math.floor(i / perWrite) + 1,
        ),
      );
      expect(checks.length).toBeGreaterThan(0);
      await Promise.all([first.close(), second.close(), reader.close()]);
    });

    it("wakes a waiter through LISTEN/NOTIFY when another instance writes", async () => {
      const schema = nextSchema();
      const writer = await open(schema);
      // Polling every 10 minutes: only the notification can wake this waiter in time.
      const watcher = await open(schema, new ManualClock(), { watchPollIntervalMs: 600_000 });
      await writer.createTenant("acme");
      // The wait listens before its first head check; once that check has answered (nothing
      // new), only a notification or the wait's timeout can end it, and a timeout reads the
      // head a second time.
      const headReads: Promise<Revision>[] = [];
      let firstRead!: (read: Promise<Revision>) => void;
      const firstHead = new Promise<Revision>((resolve) => {
        firstRead = resolve;
      });
      const readHead = watcher.headRevision.bind(watcher);
      vi.spyOn(watcher, "headRevision").mockImplementation((tenant) => {
        const read = readHead(tenant);
        headReads.push(read);
        firstRead(read);
        return read;
      });
      const waiting = watcher.waitForChanges("acme", 0, { timeoutMs: 20_000 });
      expect(await firstHead).toBe(0);
      const revision = await writer.write("acme", [create("doc:a#viewer@user:alice")]);
      expect(await waiting).toBe(revision);
      expect(headReads).toHaveLength(1);
      await watcher.close();
      await writer.close();
    });

    it("migrates once when two instances open a fresh schema together, and reopens", async () => {
      const schema = nextSchema();
      const [a, b] = await Promise.all([open(schema), open(schema)]);
      await a.createTenant("acme");
      expect(await b.listTenants()).toEqual(["acme"]);
      await Promise.all([a.close(), b.close()]);
      const again = await open(schema);
      expect(await again.listTenants()).toEqual(["acme"]);
      await again.close();
    });

    it("refuses a schema migrated by a newer release with FAILED_PRECONDITION", async () => {
      const schema = nextSchema();
      await (await open(schema)).close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`INSERT INTO "${schema}".trellis_migrations VALUES (999, 'future', 0)`);
      await admin.end();
      await expectCode(open(schema), "FAILED_PRECONDITION");
    });

    it("answers UNAVAILABLE when the server cannot be reached", async () => {
      await expectCode(
        openDatastore("postgresql://postgres@127.0.0.1:1/none", { connectTimeoutMs: 2000 }),
        "UNAVAILABLE",
      );
    });
  });
});
