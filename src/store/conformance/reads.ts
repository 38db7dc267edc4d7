/** The three read shapes, snapshots, caveats and pagination. */
import { expect, it } from "vitest";
import type { RelationshipFilter } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import {
  byteCompare,
  create,
  everything,
  expectCode,
  keys,
  orderedKeys,
  rel,
  remove,
  touch,
} from "./tuple-fixtures.js";

const DATA = [
  "doc:a#viewer@user:alice",
  "doc:a#viewer@user:bob",
  "doc:a#viewer@group:eng#member",
  "doc:a#viewer@user:*",
  "doc:a#editor@user:alice",
  "doc:b#viewer@user:alice",
  "doc:b#viewer@group:eng#member",
  "folder:f#viewer@user:alice",
  "group:eng#member@user:carol",
];

export function readTests(open: OpenFixture): void {
  async function seeded() {
    const fixture = await open();
    const revision = await fixture.store.write(fixture.tenant, DATA.map(create));
    return { ...fixture, revision };
  }

  it("reads the tuples of one resource and relation, ordered by subject", async () => {
    const { store, tenant, revision } = await seeded();
    const found = await store.readByResource(tenant, revision, {
      type: "doc",
      id: "a",
      relation: "viewer",
    });
    expect(orderedKeys(found)).toEqual([
      "doc:a#viewer@group:eng#member",
      "doc:a#viewer@user:*",
      "doc:a#viewer@user:alice",
      "doc:a#viewer@user:bob",
    ]);
    expect(
      await store.readByResource(tenant, revision, { type: "doc", id: "zzz", relation: "viewer" }),
    ).toEqual([]);
  });

  it("reads by exact subject only, ordered by resource id", async () => {
    const { store, tenant, revision } = await seeded();
    const alice = await store.readBySubject(tenant, revision, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    });
    expect(orderedKeys(alice)).toEqual(["doc:a#viewer@user:alice", "doc:b#viewer@user:alice"]);
    const eng = await store.readBySubject(tenant, revision, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "group", id: "eng", relation: "member" },
    });
    expect(orderedKeys(eng)).toEqual([
      "doc:a#viewer@group:eng#member",
      "doc:b#viewer@group:eng#member",
    ]);
    const everyone = await store.readBySubject(tenant, revision, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "user", id: "*" },
    });
    expect(orderedKeys(everyone)).toEqual(["doc:a#viewer@user:*"]);
    const groupItself = await store.readBySubject(tenant, revision, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "group", id: "eng" },
    });
    expect(groupItself).toEqual([]);
  });

  it("matches every combination of filter fields", async () => {
    const { store, tenant, revision } = await seeded();
    const cases: [RelationshipFilter, string[]][] = [
      [{ resourceType: "folder" }, ["folder:f#viewer@user:alice"]],
      [
        { resourceType: "doc", resourceId: "b" },
        ["doc:b#viewer@group:eng#member", "doc:b#viewer@user:alice"],
      ],
      [{ resourceType: "doc", relation: "editor" }, ["doc:a#editor@user:alice"]],
      [
        { resourceType: "doc", subjectType: "group" },
        ["doc:a#viewer@group:eng#member", "doc:b#viewer@group:eng#member"],
      ],
      [
        { resourceType: "doc", subjectType: "user", subjectId: "alice" },
        ["doc:a#editor@user:alice", "doc:a#viewer@user:alice", "doc:b#viewer@user:alice"],
      ],
      [{ resourceType: "doc", subjectType: "user", subjectId: "*" }, ["doc:a#viewer@user:*"]],
      [
        { resourceType: "doc", resourceId: "a", relation: "viewer", subjectType: "user" },
        ["doc:a#viewer@user:*", "doc:a#viewer@user:alice", "doc:a#viewer@user:bob"],
      ],
      [
        { resourceType: "doc", subjectType: "group", subjectRelation: "member" },
        ["doc:a#viewer@group:eng#member", "doc:b#viewer@group:eng#member"],
      ],
      [{ resourceType: "doc", subjectType: "group", subjectRelation: null }, []],
      [{ resourceType: "nothing" }, []],
    ];
    for (const [filter, expected] of cases) {
      const page = await store.readByFilter(tenant, revision, filter, { limit: 100 });
      expect(keys(page.relationships), JSON.stringify(filter)).toEqual([...expected].sort());
      expect(page.cursor).toBeUndefined();
    }
  });

  it("treats a null subject relation and '...' alike: subjects without a relation", async () => {
    const { store, tenant, revision } = await seeded();
    for (const subjectRelation of [null, "..."]) {
      const page = await store.readByFilter(
        tenant,
        revision,
        { resourceType: "doc", resourceId: "b", subjectType: "group", subjectRelation },
        { limit: 10 },
      );
      expect(page.relationships).toEqual([]);
      const users = await store.readByFilter(
        tenant,
        revision,
        { resourceType: "doc", resourceId: "b", subjectType: "user", subjectRelation },
        { limit: 10 },
      );
      expect(keys(users.relationships)).toEqual(["doc:b#viewer@user:alice"]);
    }
  });

  it("pages through a filter exactly once each, in stable order, with an opaque cursor", async () => {
    const { store, tenant, revision } = await seeded();
    const filters: RelationshipFilter[] = [
      { resourceType: "doc" },
      { resourceType: "doc", resourceId: "a" },
      { resourceType: "doc", resourceId: "a", relation: "viewer", subjectType: "user" },
      { resourceType: "doc", subjectType: "user" },
    ];
    for (const filter of filters) {
      const whole = await store.readByFilter(tenant, revision, filter, { limit: 50 });
      expect(whole.cursor).toBeUndefined();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.readByFilter(
          tenant,
          revision,
          filter,
          cursor === undefined ? { limit: 2 } : { limit: 2, cursor },
        );
        expect(page.relationships.length).toBeLessThanOrEqual(2);
        seen.push(...orderedKeys(page.relationships));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      expect(seen, JSON.stringify(filter)).toEqual(orderedKeys(whole.relationships));
      expect(pages).toBe(Math.max(1, Math.ceil(seen.length / 2)));
    }
    const all = await store.readByFilter(tenant, revision, { resourceType: "doc" }, { limit: 50 });
    expect(keys(all.relationships)).toEqual(DATA.filter((t) => t.startsWith("doc:")).sort());
  });

  it("resumes a cursor exactly after its last item even when that item is later deleted", async () => {
    const { store, tenant } = await seeded();
    const first = await store.readByFilter(tenant, 1, { resourceType: "doc" }, { limit: 3 });
    const last = first.relationships[2]!;
    const revision = await store.write(tenant, [{ op: "DELETE", relationship: last }]);
    const second = await store.readByFilter(
      tenant,
      revision,
      { resourceType: "doc" },
      { limit: 50, cursor: first.cursor! },
    );
    const rest = await store.readByFilter(tenant, 1, { resourceType: "doc" }, { limit: 50 });
    expect(orderedKeys(second.relationships)).toEqual(orderedKeys(rest.relationships).slice(3));
  });

  it("orders by the UTF-8 bytes of ids, so every engine pages alike", async () => {
    const { store, tenant } = await open();
    const ids = ["b", "B", "a", "_", "0", "a-b", "a.b", "A|z", "=", "a@b"];
    const revision = await store.write(
      tenant,
      ids.map((id) => create(`doc:${id}#viewer@user:u`)),
    );
    const exported = await everything(store, tenant, revision);
    expect(exported.map((r) => r.resource.id)).toEqual([...ids].sort(byteCompare));
  });

  it("refuses a malformed cursor or one made for another filter with INVALID_ARGUMENT", async () => {
    const { store, tenant, revision } = await seeded();
    const page = await store.readByFilter(tenant, revision, { resourceType: "doc" }, { limit: 1 });
    expect(page.cursor).toBeDefined();
    await expectCode(
      store.readByFilter(tenant, revision, { resourceType: "doc" }, { limit: 1, cursor: "%%" }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      store.readByFilter(
        tenant,
        revision,
        { resourceType: "folder" },
        { limit: 1, cursor: page.cursor! },
      ),
      "INVALID_ARGUMENT",
    );
  });

  it("rejects malformed filters and limits with INVALID_ARGUMENT", async () => {
    const { store, tenant, revision } = await seeded();
    const bad: RelationshipFilter[] = [
      { resourceType: "Doc" },
      { resourceType: "doc", relation: "x" },
      { resourceType: "doc", subjectId: "alice" },
      { resourceType: "doc", subjectType: "user", subjectId: "not valid" },
      { resourceType: "doc", subjectRelation: "member" },
    ];
    for (const filter of bad) {
      await expectCode(
        store.readByFilter(tenant, revision, filter, { limit: 1 }),
        "INVALID_ARGUMENT",
      );
    }
    for (const limit of [0, -1, 1.5]) {
      await expectCode(
        store.readByFilter(tenant, revision, { resourceType: "doc" }, { limit }),
        "INVALID_ARGUMENT",
      );
    }
  });

  it("reads a snapshot: later writes are invisible and earlier ones all present", async () => {
    const { store, tenant } = await open();
    const r1 = await store.write(tenant, [
      create("doc:a#viewer@user:alice"),
      create('doc:a#viewer@user:bob[only_if:{"v":1}]'),
    ]);
    const r2 = await store.write(tenant, [
      remove("doc:a#viewer@user:alice"),
      touch('doc:a#viewer@user:bob[only_if:{"v":2}]'),
      create("doc:a#viewer@user:carol"),
    ]);
    const r3 = await store.write(tenant, [create("doc:a#viewer@user:alice")]);
    const at = (revision: number) =>
      store.readByResource(tenant, revision, { type: "doc", id: "a", relation: "viewer" });
    expect(await at(0)).toEqual([]);
    expect(await at(r1)).toEqual([
      rel("doc:a#viewer@user:alice"),
      rel('doc:a#viewer@user:bob[only_if:{"v":1}]'),
    ]);
    expect(await at(r2)).toEqual([
      rel('doc:a#viewer@user:bob[only_if:{"v":2}]'),
      rel("doc:a#viewer@user:carol"),
    ]);
    expect(keys(await at(r3))).toEqual(keys([...(await at(r2)), rel("doc:a#viewer@user:alice")]));
    const bySubject = await store.readBySubject(tenant, r2, {
      resourceType: "doc",
      relation: "viewer",
      subject: { type: "user", id: "alice" },
    });
    expect(bySubject).toEqual([]);
    const filtered = await store.readByFilter(tenant, r1, { resourceType: "doc" }, { limit: 10 });
    expect(keys(filtered.relationships)).toEqual([
      "doc:a#viewer@user:alice",
      "doc:a#viewer@user:bob",
    ]);
  });

  it("returns caveat names and nested JSON context exactly as written", async () => {
    const { store, tenant } = await open();
    const context = {
      user_ip: "10.0.0.1",
      nested: { list: [1, 2.5, "three", null, true, { deep: [[]] }], empty: {} },
      unicode: 'żółć ✓ "quoted" \\ slash',
      big: 9007199254740991,
      negative: -0.125,
    };
    const caveated = {
      resource: { type: "doc", id: "a" },
      relation: "viewer",
      subject: { type: "user", id: "alice" },
      caveat: { name: "ip_allowed", context },
    };
    const bare = {
      resource: { type: "doc", id: "a" },
      relation: "viewer",
      subject: { type: "user", id: "bob" },
      caveat: { name: "acme/flagged" },
    };
    const emptyContext = {
      resource: { type: "doc", id: "a" },
      relation: "viewer",
      subject: { type: "user", id: "carol" },
      caveat: { name: "flagged", context: {} },
    };
    const revision = await store.write(tenant, [
      { op: "CREATE", relationship: caveated },
      { op: "CREATE", relationship: bare },
      { op: "CREATE", relationship: emptyContext },
    ]);
    const found = await store.readByResource(tenant, revision, {
      type: "doc",
      id: "a",
      relation: "viewer",
    });
    expect(found).toStrictEqual([caveated, bare, emptyContext]);
  });
}
