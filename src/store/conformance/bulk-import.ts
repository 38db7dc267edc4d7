/** bulkImport (batched, atomic per batch, streaming) and export (paged snapshot). */
import { expect, it } from "vitest";
import type { Relationship } from "../../core/index.js";
import type { BulkImportProgress } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import {
  byteCompare,
  collect,
  create,
  everything,
  expectCode,
  keys,
  rel,
  remove,
} from "./tuple-fixtures.js";

function* generated(count: number, prefix = "d"): Generator<Relationship> {
  for (let i = 0; i < count; i++) {
    yield {
      resource: { type: "doc", id: `${prefix}${i}` },
      relation: "viewer",
      subject: { type: "user", id: `u${i % 7}` },
    };
  }
}

async function* slowly(rels: Iterable<Relationship>): AsyncGenerator<Relationship> {
  for (const r of rels) {
    await Promise.resolve();
    yield r;
  }
}

export function bulkImportTests(open: OpenFixture): void {
  it("imports a synchronous source in batches, one revision each, reporting progress", async () => {
    const { store, tenant } = await open();
    const progress: BulkImportProgress[] = [];
    const result = await store.bulkImport(tenant, generated(25), {
      batchSize: 10,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toEqual({ revision: 3, imported: 25 });
    expect(progress).toEqual([
      { batch: 1, imported: 10, revision: 1 },
      { batch: 2, imported: 20, revision: 2 },
      { batch: 3, imported: 25, revision: 3 },
    ]);
    expect(await everything(store, tenant, 1)).toHaveLength(10);
    expect(keys(await everything(store, tenant))).toEqual(keys([...generated(25)]));
  });

  it("imports an async source and keeps caveats and expirations", async () => {
    const { store, tenant } = await open();
    const rels = [
      rel('doc:a#viewer@user:alice[ip_allowed:{"cidr":"10.0.0.0/8","n":[1,{"x":null}]}]'),
      rel("doc:a#viewer@user:bob[expiration:2099-12-31T23:59:59.123Z]"),
      rel("doc:a#viewer@group:eng#member"),
    ];
    expect(await store.bulkImport(tenant, slowly(rels))).toEqual({ revision: 1, imported: 3 });
    expect(await everything(store, tenant)).toEqual(
      [...rels].sort((a, b) =>
        byteCompare(a.subject.type + a.subject.id, b.subject.type + b.subject.id),
      ),
    );
  });

  it("returns the head and 0 for an empty source", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    expect(await store.bulkImport(tenant, [])).toEqual({ revision: 1, imported: 0 });
  });

  it("rolls back a batch with an invalid tuple whole, keeping earlier batches", async () => {
    const { store, tenant } = await open();
    const rels = [...generated(12)];
    rels[7] = { ...rels[7]!, relation: "Not Valid" };
    const err = await expectCode(
      store.bulkImport(tenant, rels, { batchSize: 5 }),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("line 8.relation");
    expect(await store.headRevision(tenant)).toBe(1);
    expect(keys(await everything(store, tenant))).toEqual(keys(rels.slice(0, 5)));
  });

  it("rolls back a batch that repeats a tuple with INVALID_ARGUMENT naming the line", async () => {
    const { store, tenant } = await open();
    const rels = [...generated(6), rel("doc:d5#viewer@user:u5[flagged]")];
    const err = await expectCode(
      store.bulkImport(tenant, rels, { batchSize: 4 }),
      "INVALID_ARGUMENT",
    );
    expect(err.field).toBe("line 7");
    expect(await everything(store, tenant)).toHaveLength(4);
  });

  it("rolls back a batch that holds an existing tuple with FAILED_PRECONDITION naming the line", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:d13#viewer@user:u6")]);
    const err = await expectCode(
      store.bulkImport(tenant, generated(20), { batchSize: 10 }),
      "FAILED_PRECONDITION",
    );
    expect(err.field).toBe("line 14");
    expect(await store.headRevision(tenant)).toBe(2);
    expect(await everything(store, tenant)).toHaveLength(11);
    const changes = await store.changesSince(tenant, 2, 100);
    expect(changes).toEqual([]);
  });

  it("imports over a tuple that has expired", async () => {
    const { store, tenant, clock } = await open();
    await store.write(tenant, [create("doc:d1#viewer@user:u1[expiration:2030-01-01T00:00:01Z]")]);
    clock.advance(1000);
    expect(await store.bulkImport(tenant, generated(3))).toEqual({ revision: 2, imported: 3 });
    expect(keys(await everything(store, tenant))).toEqual(keys([...generated(3)]));
  });

  it("reads the source as it goes, never more than one batch ahead", async () => {
    const { store, tenant } = await open();
    let pulled = 0;
    const ahead: number[] = [];
    async function* counting(): AsyncGenerator<Relationship> {
      for (const r of generated(100)) {
        pulled++;
        yield r;
      }
    }
    await store.bulkImport(tenant, counting(), {
      batchSize: 10,
      onProgress: ({ imported }) => ahead.push(pulled - imported),
    });
    expect(ahead).toHaveLength(10);
    for (const n of ahead) expect(n).toBeLessThanOrEqual(10);
  });

  it("stops at an error thrown by the source, without writing the incomplete batch", async () => {
    const { store, tenant } = await open();
    function* failing(): Generator<Relationship> {
      yield* generated(7);
      throw new Error("source broke");
    }
    await expect(store.bulkImport(tenant, failing(), { batchSize: 5 })).rejects.toThrow(
      "source broke",
    );
    expect(await everything(store, tenant)).toHaveLength(5);
  });

  it("rejects a batch size out of range with INVALID_ARGUMENT", async () => {
    const { store, tenant } = await open();
    for (const batchSize of [0, 1.5, 1_000_000]) {
      await expectCode(store.bulkImport(tenant, generated(1), { batchSize }), "INVALID_ARGUMENT");
    }
  });

  it("exports every live tuple at a revision in stable order, across many pages", async () => {
    const { store, tenant } = await open();
    await store.bulkImport(tenant, generated(2500));
    const revision = await store.write(tenant, [
      remove("doc:d5#viewer@user:u5"),
      create("doc:zzz#viewer@user:late"),
    ]);
    const atImport = await collect(store.export(tenant, 1));
    expect(atImport).toHaveLength(2500);
    const ids = atImport.map((r) => r.resource.id);
    expect(ids).toEqual([...ids].sort(byteCompare));
    const atHead = await collect(store.export(tenant, revision));
    expect(atHead).toHaveLength(2500);
    expect(keys(atHead)).toContain("doc:zzz#viewer@user:late");
    expect(keys(atHead)).not.toContain("doc:d5#viewer@user:u5");
  });

  it("lets a consumer stop an export early", async () => {
    const { store, tenant } = await open();
    await store.bulkImport(tenant, generated(30));
    let n = 0;
    for await (const _ of store.export(tenant, 1)) {
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    expect(await store.headRevision(tenant)).toBe(1);
  });
}
