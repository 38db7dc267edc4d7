import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { type Relationship, relationshipKey, type SubjectRef } from "../../core/index.js";
import { describeDatastore } from "../conformance/describe-datastore.js";
import { describeSharedDatastore } from "../conformance/describe-shared-datastore.js";
import { collect, create, keys, rel } from "../conformance/tuple-fixtures.js";
import type { Datastore, Mutation, RelationshipFilter, RelationshipPage } from "../datastore.js";
import { openDatastore } from "../open.js";
import { MemoryDatastore } from "./memory-datastore.js";
import { MemoryStorage } from "./memory-storage.js";

/** A small seeded generator (mulberry32), so that a failure replays. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** A relationship of a small world, so that writes, deletes and imports meet. */
function someTuple(pick: (n: number) => number, now: number): Relationship {
  const types = ["doc", "folder", "org/team"];
  const subjects: SubjectRef[] = [
    { type: "user", id: `u${pick(40)}` },
    { type: "user", id: "*" },
    { type: "group", id: `g${pick(5)}`, relation: "member" },
  ];
  return {
    resource: { type: types[pick(types.length)]!, id: `r${pick(300)}` },
    relation: ["viewer", "editor"][pick(2)]!,
    subject: subjects[pick(subjects.length)]!,
    ...(pick(5) === 0 ? { caveat: { name: "cav", context: { n: pick(3) } } } : {}),
    ...(pick(6) === 0 ? { expiration: new Date(now + 1000 * (pick(20) - 5)) } : {}),
  };
}

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

    it("agrees with SQLite on every read of a longer random history, gc included", async () => {
      const clock = new ManualClock();
      const memory = new MemoryDatastore({ clock, exportPageSize: 97 });
      const sqlite = await openDatastore("sqlite::memory:", { clock, exportPageSize: 97 });
      const stores = [memory, sqlite];
      const pick = random(20301);
      /**
       * Runs the same call on both stores and expects the same outcome, error codes included;
       * returns the value, undefined when both failed.
       */
      const both = async <T>(call: (store: Datastore) => Promise<T>): Promise<T | undefined> => {
        const [a, b] = await Promise.all(
          stores.map((store) =>
            call(store).then(
              (value) => ({ value }),
              (err: unknown) => ({ code: (err as { code?: string }).code ?? String(err) }),
            ),
          ),
        );
        expect(a).toEqual(b);
        return (a as { value?: T }).value;
      };
      await both((s) => s.createTenant("t"));
      for (let step = 0; step < 60; step++) {
        const now = clock.now();
        const kind = pick(10);
        if (kind < 5) {
          const seen = new Set<string>();
          const mutations: Mutation[] = [];
          for (let i = 0; i < 1 + pick(60); i++) {
            const relationship = someTuple(pick, now);
            const key = relationshipKey(relationship);
            if (seen.has(key)) continue;
            seen.add(key);
            mutations.push({
              op: (["CREATE", "TOUCH", "DELETE"] as const)[pick(3)]!,
              relationship,
            });
          }
          await both((s) => s.write("t", mutations));
        } else if (kind < 7) {
          // Fresh resources, so that the import lands, with now and then a tuple that may exist.
          const rels: Relationship[] = [];
          for (let i = 0; i < 200 + pick(2500); i++) {
            const rel = someTuple(pick, now);
            rels.push({ ...rel, resource: { type: rel.resource.type, id: `s${step}_${i}` } });
          }
          if (pick(4) === 0) rels.splice(pick(rels.length), 0, someTuple(pick, now));
          await both((s) => s.bulkImport("t", rels, { batchSize: 700 }));
        } else if (kind === 7) {
          const filter = { resourceType: ["doc", "folder"][pick(2)]!, relation: "viewer" };
          const options = { limit: 1 + pick(200), allowPartial: pick(2) === 0 };
          await both((s) => s.deleteByFilter("t", filter, options));
        } else if (kind === 8) {
          clock.advance(700 + pick(3000));
        } else {
          await both((s) => s.gc(5000));
        }
      }
      const head = (await both((s) => s.headRevision("t")))!;
      await both((s) => s.stats());
      const filters: RelationshipFilter[] = [
        { resourceType: "doc" },
        { resourceType: "org/team", relation: "editor" },
        { resourceType: "folder", subjectType: "group" },
        { resourceType: "doc", resourceId: "r7" },
        { resourceType: "doc", subjectType: "user", subjectId: "*" },
      ];
      for (let revision = head; revision >= 0; revision -= 1 + pick(8)) {
        const exported = await both((s) => collect(s.export("t", revision)));
        // Undefined for a revision gc collected (both stores refused it alike).
        if (exported === undefined || exported.length === 0) continue;
        for (const filter of filters) {
          const limit = 1 + pick(150);
          let cursor: string | undefined;
          do {
            const page: RelationshipPage = (await both((s) =>
              s.readByFilter("t", revision, filter, { limit, ...(cursor ? { cursor } : {}) }),
            ))!;
            cursor = page.cursor;
          } while (cursor !== undefined);
        }
        for (const rel of exported.slice(0, 20)) {
          await both((s) =>
            s.readByResource("t", revision, {
              type: rel.resource.type,
              id: rel.resource.id,
              relation: rel.relation,
            }),
          );
          await both((s) =>
            s.readBySubject("t", revision, {
              resourceType: rel.resource.type,
              relation: rel.relation,
              subject: rel.subject,
            }),
          );
        }
      }
      let after = (await both(async (s) => {
        // The oldest readable revision: the first one a read does not refuse.
        for (let r = 0; ; r++) {
          try {
            await s.readSchema("t", r);
            return r;
          } catch {}
        }
      }))!;
      for (;;) {
        const limit = 1 + pick(500);
        const changes = (await both((s) => s.changesSince("t", after, limit)))!;
        if (changes.length === 0) break;
        after = changes[changes.length - 1]!.revision;
      }
      await Promise.all(stores.map((s) => s.close()));
    }, 120_000);

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
