import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { describeDatastore } from "../conformance/describe-datastore.js";
import { describeSharedDatastore } from "../conformance/describe-shared-datastore.js";
import { collect, create, keys, rel } from "../conformance/tuple-fixtures.js";
import { openDatastore } from "../open.js";
import { MemoryDatastore } from "./memory-datastore.js";
import { MemoryStorage } from "./memory-storage.js";

describe("memory", () => {
  describeDatastore("conformance", ({ clock }) => openDatastore("memory:", { clock }));
  describeSharedDatastore("conformance with two instances on one storage", async ({ clock }) => {
    const storage = new MemoryStorage();
    return { open: async () => new MemoryDatastore({ clock, storage }) };
  });

  describe("engine", () => {
    it("declares one writer at a time, and hears every instance's commits", async () => {
      const store = await openDatastore("memory:");
      expect(store.capabilities).toEqual({ concurrentWriters: false, listenNotify: true });
      await store.close();
    });

    it("opens a fresh, empty store on every call", async () => {
      const first = await openDatastore("memory:");
      await first.createTenant("acme");
      await first.write("acme", [create("doc:a#viewer@user:alice")]);
      const second = await openDatastore("memory:");
      expect(await second.listTenants()).toEqual([]);
      await Promise.all([first.close(), second.close()]);
    });

    it("refuses a memory: URL with anything after the colon, and bad options, with a TypeError", async () => {
      await expect(openDatastore("memory:shared")).rejects.toThrow(TypeError);
      await expect(openDatastore("memory:", { exportPageSize: 0 })).rejects.toThrow(
        /exportPageSize/,
      );
      expect(() => new MemoryDatastore({ exportPageSize: 1.5 })).toThrow(/exportPageSize/);
      expect(() => new MemoryDatastore({ clock: {} as ManualClock })).toThrow(/clock/);
    });

    it("wakes a waiter on one instance at once when another instance on the storage writes", async () => {
      const storage = new MemoryStorage();
      const writer = new MemoryDatastore({ storage });
      const watcher = new MemoryDatastore({ storage });
      await writer.createTenant("acme");
      // No timeout and nothing to poll: only the writer's announcement can end this wait.
      const waiting = watcher.waitForChanges("acme", 0);
      const revision = await writer.write("acme", [create("doc:a#viewer@user:alice")]);
      expect(await waiting).toBe(revision);
      await writer.close();
      // Closing one instance leaves the data to the others.
      expect(keys(await collect(watcher.export("acme", revision)))).toEqual([
        "doc:a#viewer@user:alice",
      ]);
      await watcher.close();
    });

    it("pages an export of many types and versions in stable order, page size 1 included", async () => {
      const clock = new ManualClock();
      const store = new MemoryDatastore({ clock, exportPageSize: 1 });
      await store.createTenant("t");
      await store.write("t", [
        create("folder:f#viewer@user:alice"),
        create("doc:b#viewer@user:alice"),
        create("doc:a#viewer@user:bob"),
      ]);
      await store.write("t", [
        { op: "TOUCH", relationship: rel("doc:a#viewer@user:bob[flagged]") },
        create("group:g#member@user:carol"),
      ]);
      expect((await collect(store.export("t", 2))).map((r) => r.resource.type)).toEqual([
        "doc",
        "doc",
        "folder",
        "group",
      ]);
      expect(await collect(store.export("t", 2))).toContainEqual(
        rel("doc:a#viewer@user:bob[flagged]"),
      );
      expect(await collect(store.export("t", 1))).toContainEqual(rel("doc:a#viewer@user:bob"));
      await store.close();
    });

    it("returns fresh objects: changing what a read returned changes nothing stored", async () => {
      const store = new MemoryDatastore();
      await store.createTenant("t");
      const written = rel('doc:a#viewer@user:alice[flagged:{"n":[1]}]');
      await store.write("t", [{ op: "CREATE", relationship: written }]);
      (written.caveat!.context as { n: number[] }).n.push(2);
      const [read] = await store.readByResource("t", 1, {
        type: "doc",
        id: "a",
        relation: "viewer",
      });
      (read!.caveat!.context as { n: number[] }).n.push(3);
      expect(await collect(store.export("t", 1))).toEqual([
        rel('doc:a#viewer@user:alice[flagged:{"n":[1]}]'),
      ]);
      await store.close();
    });
  });
});
