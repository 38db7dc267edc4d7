import { afterEach, describe, expect, test } from "vitest";
import { type EngineFixture, engineFixture } from "../../test/support/engine-fixture.js";
import { parseRelationship, parseSubjectRef } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import { LIST_PAGE, Operations, type WatchRevision } from "./operations.js";

const SCHEMA = `
definition user {}
definition doc {
  relation viewer: user
  permission view = viewer
}`;

let fixture: EngineFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function setup(tuples: string[] = []): Promise<{ f: EngineFixture; ops: Operations }> {
  fixture = await engineFixture(SCHEMA, tuples);
  return { f: fixture, ops: new Operations(fixture.engine) };
}

describe("Operations", () => {
  test("lists objects a page at a time, every page at the first page's snapshot", async () => {
    const n = LIST_PAGE * 2 + 7;
    const ids = Array.from({ length: n }, (_, i) => `d${String(i).padStart(5, "0")}`);
    const { f, ops } = await setup(ids.map((id) => `doc:${id}#viewer@user:alice`));
    const pages = ops.listObjects(f.tenant, {
      resourceType: "doc",
      permission: "view",
      subject: parseSubjectRef("user:alice"),
      consistency: "fully_consistent",
    });
    const seen: string[] = [];
    const zookies = new Set<string>();
    let first = true;
    let count = 0;
    for await (const page of pages) {
      zookies.add(page.zookie);
      expect(page.items.length).toBeLessThanOrEqual(LIST_PAGE);
      seen.push(...page.items.map((o) => o.id));
      count++;
      // A write after the first page is not part of the listing.
      if (first) await f.write("doc:a_late#viewer@user:alice");
      first = false;
    }
    expect(seen).toEqual(ids);
    expect(zookies.size).toBe(1);
    expect(count).toBeGreaterThanOrEqual(3);
  });

  test("stops a listing at its limit and resumes it from a cursor", async () => {
    const { f, ops } = await setup(["a", "b", "c", "d"].map((id) => `doc:${id}#viewer@user:bo`));
    const query = {
      resourceType: "doc",
      permission: "view",
      subject: parseSubjectRef("user:bo"),
      consistency: "fully_consistent" as const,
    };
    const head: string[] = [];
    let cursor = "";
    for await (const page of ops.listObjects(f.tenant, { ...query, limit: 2 })) {
      head.push(...page.items.map((o) => o.id));
      cursor = page.items.at(-1)!.cursor;
    }
    const rest: string[] = [];
    for await (const page of ops.listObjects(f.tenant, { ...query, cursor })) {
      rest.push(...page.items.map((o) => o.id));
    }
    expect([head, rest]).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });

  test("watches one entry per revision, skipping revisions that changed nothing", async () => {
    const { f, ops } = await setup();
    const start = (await f.write("doc:a#viewer@user:alice")) as Zookie;
    const abort = new AbortController();
    const watch = ops.watch(f.tenant, start, abort.signal);
    await f.engine.deleteRelationships(f.tenant, { resourceType: "doc", resourceId: "none" });
    await f.engine.writeRelationships(f.tenant, [
      { op: "TOUCH", relationship: parseRelationship("doc:b#viewer@user:bob") },
      { op: "DELETE", relationship: parseRelationship("doc:a#viewer@user:alice") },
    ]);
    const got: WatchRevision[] = [];
    for await (const revision of watch) {
      got.push(revision);
      break;
    }
    abort.abort();
    expect(got[0]!.changes.map((c) => c.op)).toEqual(["TOUCH", "DELETE"]);
    // The empty revision of the delete that matched nothing was skipped: resuming from
    // `previous` replays exactly this revision.
    expect(got[0]!.previous).toBe(start);
    expect(got[0]!.revision).toBe(f.engine.zookies.decode(f.tenant, start, "start") + 2);
  });

  test("reads by resource id prefix, within the limit, resuming from any item's cursor", async () => {
    const { f, ops } = await setup([
      "doc:a1#viewer@user:alice",
      "doc:a2#viewer@user:alice",
      "doc:b1#viewer@user:alice",
      "doc:a3#viewer@user:alice",
    ]);
    const read = async (query: Parameters<Operations["readRelationships"]>[2]) => {
      const out: { id: string; cursor: string }[] = [];
      for await (const page of ops.readRelationships(f.tenant, { resourceType: "doc" }, query)) {
        out.push(...page.items.map((i) => ({ id: i.relationship.resource.id, cursor: i.cursor })));
      }
      return out;
    };
    const first = await read({ resourceIdPrefix: "a", limit: 2, pageSize: 1 });
    expect(first.map((r) => r.id)).toEqual(["a1", "a2"]);
    const rest = await read({ resourceIdPrefix: "a", cursor: first[1]!.cursor });
    expect(rest.map((r) => r.id)).toEqual(["a3"]);
  });

  test("refuses filters naming what the schema lacks only when asked to", async () => {
    const { f, ops } = await setup(["doc:a#viewer@user:alice"]);
    const pages = ops.readRelationships(f.tenant, { resourceType: "folder" }, {});
    for await (const page of pages) expect(page.items).toEqual([]);
    const strict = ops.readRelationships(
      f.tenant,
      { resourceType: "doc", relation: "owner" },
      { knownNamesOnly: true },
    );
    await expect(strict.next()).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
    await expect(
      ops.deleteRelationships(f.tenant, { resourceType: "folder" }, { knownNamesOnly: true }),
    ).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
  });

  test("an empty write checks its preconditions and answers the head, when allowed", async () => {
    const { f, ops } = await setup(["doc:a#viewer@user:alice"]);
    await expect(ops.writeRelationships(f.tenant, [])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    const head = await ops.writeRelationships(
      f.tenant,
      [],
      [{ op: "MUST_MATCH", filter: { resourceType: "doc", resourceId: "a" } }],
      { allowEmpty: true },
    );
    expect(f.engine.zookies.decode(f.tenant, head.zookie, "z")).toBe(
      await f.engine.store.headRevision(f.tenant),
    );
    await expect(
      ops.writeRelationships(
        f.tenant,
        [],
        [{ op: "MUST_NOT_MATCH", filter: { resourceType: "doc", resourceId: "a" } }],
        { allowEmpty: true },
      ),
    ).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
  });

  test("exports in pages whose cursors resume at the same snapshot", async () => {
    const { f, ops } = await setup(["doc:a#viewer@user:alice", "doc:b#viewer@user:alice"]);
    const pages = [];
    for await (const page of ops.exportRelationships(f.tenant, { pageSize: 1, limit: 1 })) {
      pages.push(page);
    }
    expect(pages.map((p) => p.items.map((r) => r.resource.id))).toEqual([["a"]]);
    await f.write("doc:c#viewer@user:alice");
    const rest: string[] = [];
    for await (const page of ops.exportRelationships(f.tenant, { cursor: pages[0]!.cursor })) {
      expect(page.zookie).toBe(pages[0]!.zookie);
      rest.push(...page.items.map((r) => r.resource.id));
    }
    expect(rest).toEqual(["b"]);
    const bad = ops.exportRelationships(f.tenant, { cursor: "nonsense" });
    await expect(bad.next()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("a filtered watch keeps the matching changes of each revision", async () => {
    const { f, ops } = await setup();
    const start = await f.write("doc:a#viewer@user:alice");
    const abort = new AbortController();
    const watch = ops.watch(f.tenant, start, abort.signal, {
      filters: [{ resourceType: "doc", resourceIdPrefix: "x" }],
    });
    await f.write("doc:b#viewer@user:alice", "doc:x1#viewer@user:alice");
    const { value } = await watch.next();
    abort.abort();
    expect(value!.changes.map((c) => c.relationship.resource.id)).toEqual(["x1"]);
  });

  test("validates and diffs a schema without writing it", async () => {
    const { f, ops } = await setup();
    expect(ops.validateSchema("definition user {").diagnostics.length).toBeGreaterThan(0);
    const proposed = `${SCHEMA}\ndefinition folder {}`;
    const { diffs } = await ops.diffSchema(f.tenant, proposed);
    expect(diffs.map((d) => d.kind)).toEqual(["DEFINITION_ADDED"]);
    expect((await ops.readSchema(f.tenant)).text).toBe(SCHEMA);
  });
});
