import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { describeDatastore } from "../conformance/describe-datastore.js";
import { describeSharedDatastore } from "../conformance/describe-shared-datastore.js";
import { collect, create, expectCode, keys, rel } from "../conformance/tuple-fixtures.js";
import { openDatastore } from "../open.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempFile = () => join(dir, `store-${files++}.db`);

describe("sqlite", () => {
  describeDatastore("conformance", ({ clock }) => openDatastore("sqlite::memory:", { clock }));
  describeSharedDatastore("conformance with two instances on one file", async ({ clock }) => {
    const path = tempFile();
    return { open: () => openDatastore(`sqlite:${path}`, { clock }) };
  });

  describe("engine", () => {
    it("declares one writer and no cross-process notification", async () => {
      const store = await openDatastore("sqlite::memory:");
      expect(store.capabilities).toEqual({ concurrentWriters: false, listenNotify: false });
      await store.close();
    });

    it("keeps tuples, schemas, revisions and history across close and reopen", async () => {
      const path = tempFile();
      const clock = new ManualClock();
      const first = await openDatastore(`sqlite:${path}`, { clock, synchronous: "FULL" });
      await first.createTenant("acme");
      await first.writeSchema("acme", "definition user {}");
      await first.write("acme", [create('doc:a#viewer@user:alice[cav:{"k":[1]}]')]);
      await first.write("acme", [create("doc:b#viewer@user:bob")]);
      await first.close();

      const second = await openDatastore(`sqlite:${path}`, { clock });
      expect(await second.listTenants()).toEqual(["acme"]);
      expect(await second.headRevision("acme")).toBe(3);
      expect(await second.readSchema("acme", 3)).toEqual({
        text: "definition user {}",
        revision: 1,
      });
      expect(await collect(second.export("acme", 2))).toEqual([
        rel('doc:a#viewer@user:alice[cav:{"k":[1]}]'),
      ]);
      expect(await second.changesSince("acme", 0, 10)).toHaveLength(3);
      expect(await second.write("acme", [create("doc:c#viewer@user:carol")])).toBe(4);
      await second.close();
    });

    it("sees writes of another connection to the same file through the poll fallback", async () => {
      const path = tempFile();
      const writer = await openDatastore(`sqlite:${path}`);
      const watcher = await openDatastore(`sqlite:${path}`, { watchPollIntervalMs: 5 });
      await writer.createTenant("acme");
      const waiting = watcher.waitForChanges("acme", 0, { timeoutMs: 5000 });
      await writer.write("acme", [create("doc:a#viewer@user:alice")]);
      expect(await waiting).toBe(1);
      expect(keys(await collect(watcher.export("acme", 1)))).toEqual(["doc:a#viewer@user:alice"]);
      await watcher.close();
      await writer.close();
    });

    it("fails a write blocked by another connection's lock with UNAVAILABLE", async () => {
      const path = tempFile();
      const store = await openDatastore(`sqlite:${path}`, { busyTimeoutMs: 5, busyRetries: 0 });
      await store.createTenant("acme");
      const other = new Database(path);
      other.exec("BEGIN IMMEDIATE");
      const err = await expectCode(
        store.write("acme", [create("doc:a#viewer@user:alice")]),
        "UNAVAILABLE",
      );
      // In our words; the driver's error ("database is locked", SQLITE_BUSY) is only the cause.
      expect(err.message).not.toMatch(/database is locked|SQLITE_|sqlite:/);
      expect((err.cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
      other.exec("ROLLBACK");
      other.close();
      expect(await store.headRevision("acme")).toBe(0);
      await store.close();
    });

    it("retries a write while another connection briefly holds the lock", async () => {
      const path = tempFile();
      const store = await openDatastore(`sqlite:${path}`, { busyTimeoutMs: 5, busyRetries: 3 });
      await store.createTenant("acme");
      const other = new Database(path);
      other.exec("BEGIN IMMEDIATE");
      // Released while the store waits between attempts (the first backoff is 25 ms).
      setTimeout(() => other.exec("ROLLBACK"), 10);
      expect(await store.write("acme", [create("doc:a#viewer@user:alice")])).toBe(1);
      other.close();
      await store.close();
    });

    it("applies migrations once and refuses a file migrated by a newer release", async () => {
      const path = tempFile();
      await (await openDatastore(`sqlite:${path}`)).close();
      await (await openDatastore(`sqlite:${path}`)).close();
      const raw = new Database(path);
      const versions = raw.prepare("SELECT version FROM trellis_migrations").all();
      expect(versions).toEqual(SQLITE_MIGRATIONS.map(({ version }) => ({ version })));
      expect(versions).toContainEqual({ version: 2 });
      raw.prepare("INSERT INTO trellis_migrations VALUES (999, 'future', 0)").run();
      raw.close();
      await expectCode(openDatastore(`sqlite:${path}`), "FAILED_PRECONDITION");
    });

    it("creates the directory of a new database file", async () => {
      const store = await openDatastore(`sqlite:${join(dir, "nested", "deeper", "t.db")}`);
      await store.createTenant("x");
      await store.close();
    });

    it("refuses bad URLs and options with a TypeError naming them", async () => {
      await expect(openDatastore("mysql://localhost/x")).rejects.toThrow(TypeError);
      await expect(openDatastore("sqlite:")).rejects.toThrow(TypeError);
      await expect(
        openDatastore("sqlite::memory:", { synchronous: "OFF" as "FULL" }),
      ).rejects.toThrow(/synchronous/);
      await expect(openDatastore("sqlite::memory:", { busyTimeoutMs: -1 })).rejects.toThrow(
        /busyTimeoutMs/,
      );
      await expect(
        openDatastore("sqlite::memory:", { postgresSchema: "Bad-Name" }),
      ).rejects.toThrow(/postgresSchema/);
      await expect(
        openDatastore("sqlite::memory:", { colour: "red" } as unknown as { clock: ManualClock }),
      ).rejects.toThrow(/colour/);
    });

    it("answers UNAVAILABLE when the file cannot be opened", async () => {
      const err = await expectCode(openDatastore(`sqlite:${dir}`), "UNAVAILABLE");
      expect(err.message).not.toMatch(/unable to open|SQLITE_/);
    });
  });
});
