/**
 * The scenarios both entry points must pass, word for word: `describeTrellisApi` registers them
 * for one way of opening a `TrellisApi` (embedded over a SQLite file, or a client of a real
 * server over one). One instance serves every scenario of a file; scenarios keep apart by using
 * their own object ids.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TrellisError } from "../../src/core/errors.js";
import type { Zookie } from "../../src/core/revision.js";
import type { TrellisApi } from "../../src/sdk/trellis-api.js";

export const SCENARIO_SCHEMA = `use expiration

caveat on_day(day string, allowed string) { day == allowed }

definition user {}

definition group {
	relation member: user | group#member
}

definition document {
	relation owner: user
	relation viewer: user | user:* | group#member | user with on_day | user with expiration
	relation banned: user
	permission edit = owner
	permission view = (viewer + edit) - banned
}
`;

export interface OpenedApi {
  readonly api: TrellisApi;
  close(): Promise<void>;
}

/** Asserts that `promise` rejects with a TrellisError of `code`, and returns it. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<TrellisError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with ${code}`).toBeInstanceOf(TrellisError);
  expect((err as TrellisError).code, (err as TrellisError).message).toBe(code);
  return err as TrellisError;
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export function describeTrellisApi(name: string, open: () => Promise<OpenedApi>): void {
  describe(name, () => {
    let opened: OpenedApi;
    let api: TrellisApi;
    /** Reads at least as fresh as this instance's last write. */
    const fresh = () => ({ consistency: { atLeastAsFresh: api.lastZookie! } });

    beforeAll(async () => {
      opened = await open();
      api = opened.api;
      await api.writeSchema(SCENARIO_SCHEMA);
    });

    afterAll(async () => {
      await opened?.close();
    });

    test("reads back the schema it wrote", async () => {
      const { schema, zookie } = await api.readSchema();
      expect(schema).toBe(SCENARIO_SCHEMA);
      expect(typeof zookie).toBe("string");
    });

    test("grants through a tuple written as a string and denies everyone else", async () => {
      await api.writeRelationships(["document:s1#viewer@user:alice"]);
      expect((await api.check("document:s1", "view", "user:alice", fresh())).permissionship).toBe(
        "ALLOWED",
      );
      expect((await api.check("document:s1", "view", "user:bob", fresh())).permissionship).toBe(
        "DENIED",
      );
    });

    test("sees its own writes when reading at least as fresh as lastZookie", async () => {
      const { zookie } = await api.writeRelationships(["document:ryw#owner@user:olga"]);
      expect(api.lastZookie).toBe(zookie);
      const answer = await api.check("document:ryw", "edit", "user:olga", {
        consistency: { atLeastAsFresh: api.lastZookie! },
      });
      expect(answer.permissionship).toBe("ALLOWED");
      const deleted = await api.deleteRelationships({
        resourceType: "document",
        resourceId: "ryw",
      });
      expect(api.lastZookie).toBe(deleted.zookie);
      const after = await api.check("document:ryw", "edit", "user:olga", fresh());
      expect(after.permissionship).toBe("DENIED");
    });

    test("takes mutation objects with string or object relationships, and DELETE removes", async () => {
      await api.writeRelationships([
        { op: "CREATE", relationship: "document:m1#viewer@user:carl" },
        {
          op: "TOUCH",
          relationship: {
            resource: { type: "document", id: "m1" },
            relation: "owner",
            subject: { type: "user", id: "carl" },
          },
        },
      ]);
      expect((await api.check("document:m1", "edit", "user:carl", fresh())).permissionship).toBe(
        "ALLOWED",
      );
      await api.writeRelationships([{ op: "DELETE", relationship: "document:m1#owner@user:carl" }]);
      expect((await api.check("document:m1", "edit", "user:carl", fresh())).permissionship).toBe(
        "DENIED",
      );
      expect((await api.check("document:m1", "view", "user:carl", fresh())).permissionship).toBe(
        "ALLOWED",
      );
    });

    test("refuses to CREATE an existing tuple and writes nothing of that batch", async () => {
      await api.writeRelationships(["document:c1#viewer@user:cleo"]);
      await expectCode(
        api.writeRelationships([
          "document:c1#owner@user:cleo",
          { op: "CREATE", relationship: "document:c1#viewer@user:cleo" },
        ]),
        "FAILED_PRECONDITION",
      );
      const owners = await collect(
        api.readRelationships(
          { resourceType: "document", resourceId: "c1", relation: "owner" },
          { consistency: "fully_consistent" },
        ),
      );
      expect(owners).toEqual([]);
    });

    test("applies a write only when its preconditions hold", async () => {
      const lock = { resourceType: "document", resourceId: "p1", relation: "owner" } as const;
      await expectCode(
        api.writeRelationships(["document:p1#viewer@user:pia"], {
          preconditions: [{ op: "MUST_MATCH", filter: lock }],
        }),
        "FAILED_PRECONDITION",
      );
      await api.writeRelationships(["document:p1#owner@user:pia"], {
        preconditions: [{ op: "MUST_NOT_MATCH", filter: lock }],
      });
      expect((await api.check("document:p1", "edit", "user:pia", fresh())).permissionship).toBe(
        "ALLOWED",
      );
    });

    test("deletes by filter only when its preconditions hold", async () => {
      await api.writeRelationships(["document:p2#viewer@user:pia", "document:p2#viewer@user:pat"]);
      const viewers = { resourceType: "document", resourceId: "p2", relation: "viewer" } as const;
      const owner = { resourceType: "document", resourceId: "p2", relation: "owner" } as const;
      await expectCode(
        api.deleteRelationships(viewers, { preconditions: [{ op: "MUST_MATCH", filter: owner }] }),
        "FAILED_PRECONDITION",
      );
      expect((await api.check("document:p2", "view", "user:pat", fresh())).permissionship).toBe(
        "ALLOWED",
      );
      const result = await api.deleteRelationships(viewers, {
        preconditions: [{ op: "MUST_NOT_MATCH", filter: owner }],
      });
      expect(result.deleted).toBe(2);
      expect((await api.check("document:p2", "view", "user:pat", fresh())).permissionship).toBe(
        "DENIED",
      );
    });

    test("answers CONDITIONAL with the missing parameters until the context decides", async () => {
      await api.writeRelationships(['document:cv1#viewer@user:dora[on_day:{"allowed":"monday"}]']);
      const open = await api.check("document:cv1", "view", "user:dora", fresh());
      expect(open.permissionship).toBe("CONDITIONAL");
      expect(open.missingContext).toEqual(["day"]);
      const monday = await api.check("document:cv1", "view", "user:dora", {
        ...fresh(),
        context: { day: "monday" },
      });
      expect(monday).toMatchObject({ permissionship: "ALLOWED" });
      expect(monday.missingContext).toBeUndefined();
      const tuesday = await api.check("document:cv1", "view", "user:dora", {
        ...fresh(),
        context: { day: "tuesday" },
      });
      expect(tuesday.permissionship).toBe("DENIED");
    });

    test("takes subjects as objects, usersets and strings alike", async () => {
      await api.writeRelationships([
        "document:g1#viewer@group:eng#member",
        "group:eng#member@user:dan",
      ]);
      const asObject = await api.check(
        { type: "document", id: "g1" },
        "view",
        { type: "user", id: "dan" },
        fresh(),
      );
      expect(asObject.permissionship).toBe("ALLOWED");
      const userset = await api.check("document:g1", "view", "group:eng#member", fresh());
      expect(userset.permissionship).toBe("ALLOWED");
    });

    test("checks a batch at one snapshot, answering a malformed item with its own error", async () => {
      await api.writeRelationships(["document:b1#viewer@user:bea"]);
      const { results, zookie } = await api.checkBulk(
        [
          { resource: "document:b1", permission: "view", subject: "user:bea" },
          "document:b1#view@user:ben",
          "not a check",
          { resource: "document:b1", permission: "Bad Name", subject: "user:bea" },
          { resource: "document:b1", permission: "nonexistent", subject: "user:bea" },
        ],
        fresh(),
      );
      expect(typeof zookie).toBe("string");
      expect(results[0]).toEqual({ permissionship: "ALLOWED" });
      expect(results[1]).toEqual({ permissionship: "DENIED" });
      for (const [i, code] of [
        [2, "INVALID_ARGUMENT"],
        [3, "INVALID_ARGUMENT"],
        [4, "FAILED_PRECONDITION"],
      ] as const) {
        const result = results[i]!;
        expect("error" in result && result.error).toBeInstanceOf(TrellisError);
        expect("error" in result && result.error.code).toBe(code);
      }
    });

    test("lists the objects a subject can view, and the conditional ones only in detail", async () => {
      await api.writeRelationships([
        "document:lo2#viewer@user:erin",
        "document:lo1#owner@user:erin",
        'document:lo3#viewer@user:erin[on_day:{"allowed":"friday"}]',
      ]);
      // Only this scenario's documents: another one makes document:w1 public (user:*).
      const mine = <T extends string | { object: string }>(list: T[]) =>
        list.filter((o) => (typeof o === "string" ? o : o.object).startsWith("document:lo"));
      const objects = await collect(api.listObjects("document", "view", "user:erin", fresh()));
      expect(mine(objects)).toEqual(["document:lo1", "document:lo2"]);
      const detailed = await collect(
        api.listObjectsDetailed("document", "view", "user:erin", fresh()),
      );
      expect(mine(detailed)).toEqual([
        { object: "document:lo1", permissionship: "ALLOWED" },
        { object: "document:lo2", permissionship: "ALLOWED" },
        { object: "document:lo3", permissionship: "CONDITIONAL", missingContext: ["day"] },
      ]);
      const onFriday = await collect(
        api.listObjects("document", "view", "user:erin", {
          ...fresh(),
          context: { day: "friday" },
        }),
      );
      expect(mine(onFriday)).toEqual(["document:lo1", "document:lo2", "document:lo3"]);
    });

    test("lists the wildcard first and reports the subjects it excludes", async () => {
      await api.writeRelationships([
        "document:w1#viewer@user:*",
        "document:w1#viewer@user:gina",
        "document:w1#banned@user:fred",
      ]);
      const subjects = await collect(api.listSubjects("document:w1", "view", "user", fresh()));
      expect(subjects[0]).toBe("user:*");
      expect(subjects).toContain("user:gina");
      expect(subjects).not.toContain("user:fred");
      const detailed = await collect(
        api.listSubjectsDetailed("document:w1", "view", "user", fresh()),
      );
      expect(detailed[0]).toEqual({
        subject: "user:*",
        permissionship: "ALLOWED",
        excluded: ["user:fred"],
      });
      expect((await api.check("document:w1", "view", "user:anyone", fresh())).permissionship).toBe(
        "ALLOWED",
      );
    });

    test("lists usersets when the subject type names a relation", async () => {
      await api.writeRelationships(["document:us1#viewer@group:ops#member"]);
      const usersets = await collect(
        api.listSubjects("document:us1", "view", "group#member", fresh()),
      );
      expect(usersets).toEqual(["group:ops#member"]);
    });

    test("reads relationships by filter, up to a limit", async () => {
      await api.writeRelationships([
        "document:r1#viewer@user:hal",
        "document:r1#viewer@user:ida",
        'document:r1#viewer@user:jon[on_day:{"allowed":"sunday"}]',
        "document:r1#viewer@user:kim[expiration:2999-01-01T00:00:00Z]",
      ]);
      const all = await collect(
        api.readRelationships({ resourceType: "document", resourceId: "r1" }, fresh()),
      );
      expect(all.map((r) => r.subject.id)).toEqual(["hal", "ida", "jon", "kim"]);
      expect(all[2]!.caveat).toEqual({ name: "on_day", context: { allowed: "sunday" } });
      expect(all[3]!.expiration).toEqual(new Date("2999-01-01T00:00:00Z"));
      const first = await collect(
        api.readRelationships(
          { resourceType: "document", resourceId: "r1" },
          { ...fresh(), limit: 1 },
        ),
      );
      expect(first).toHaveLength(1);
    });

    test("deletes by filter, refusing to pass a limit unless partial deletion is allowed", async () => {
      await api.writeRelationships([
        "document:d1#viewer@user:lea",
        "document:d1#viewer@user:max",
        "document:d1#viewer@user:ned",
      ]);
      const filter = { resourceType: "document", resourceId: "d1" };
      await expectCode(api.deleteRelationships(filter, { limit: 2 }), "FAILED_PRECONDITION");
      const partial = await api.deleteRelationships(filter, { limit: 2, allowPartial: true });
      expect(partial).toMatchObject({ deleted: 2, partial: true });
      const rest = await api.deleteRelationships(filter);
      expect(rest).toMatchObject({ deleted: 1, partial: false });
      expect(await collect(api.readRelationships(filter, fresh()))).toEqual([]);
    });

    test("expands a permission into its userset tree", async () => {
      await api.writeRelationships(["document:e1#viewer@user:ola", "document:e1#owner@user:pam"]);
      const { tree, zookie } = await api.expand("document:e1", "view", fresh());
      expect(typeof zookie).toBe("string");
      expect(tree).toMatchObject({
        kind: "exclusion",
        resource: { type: "document", id: "e1" },
        relation: "view",
      });
      const leaves: string[] = [];
      const walk = (node: typeof tree): void => {
        if (node.kind === "leaf")
          leaves.push(...node.subjects.map((s) => `${node.relation}@${s.subject.id}`));
        else node.children.forEach(walk);
      };
      walk(tree);
      expect(leaves.sort()).toEqual(["owner@pam", "viewer@ola"]);
    });

    test("returns the sub-problems of a check when asked to trace", async () => {
      await api.writeRelationships(["document:t1#owner@user:quin"]);
      const { trace } = await api.check("document:t1", "view", "user:quin", {
        ...fresh(),
        trace: true,
      });
      expect(trace).toMatchObject({
        resource: "document:t1",
        relation: "view",
        kind: "permission",
        result: "ALLOWED",
      });
      expect(trace!.children.length).toBeGreaterThan(0);
    });

    test("streams each write's changes to a watcher, from a zookie", async () => {
      const before = Date.now();
      const { zookie: start } = await api.writeRelationships(["document:wa1#viewer@user:rex"]);
      const watch = api.watch({ after: start });
      await api.writeRelationships(["document:wa1#owner@user:rex"]);
      await api.deleteRelationships({
        resourceType: "document",
        resourceId: "wa1",
        relation: "viewer",
      });
      const events: { zookie: Zookie; ops: string[]; committedAt: Date }[] = [];
      for await (const event of watch) {
        events.push({
          zookie: event.zookie,
          committedAt: event.committedAt,
          ops: event.changes.map(
            (c) => `${c.op} ${c.relationship.relation}@${c.relationship.subject.id}`,
          ),
        });
        if (events.length === 2) break;
      }
      expect(events.map((e) => e.ops)).toEqual([["TOUCH owner@rex"], ["DELETE viewer@rex"]]);
      expect(events[1]!.zookie).toBe(api.lastZookie);
      // Both writes committed during this test, by the real clock both entry points use.
      for (const event of events) {
        expect(event.committedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(event.committedAt.getTime()).toBeLessThanOrEqual(Date.now());
      }
    });

    test("goes on answering after a consumer breaks out of a stream early", async () => {
      await api.writeRelationships(
        Array.from(
          { length: 50 },
          (_, i) => `document:br${String(i).padStart(2, "0")}#viewer@user:sam`,
        ),
      );
      for await (const object of api.listObjects("document", "view", "user:sam", fresh())) {
        expect(object).toBe("document:br00");
        break;
      }
      const all = await collect(api.listObjects("document", "view", "user:sam", fresh()));
      // document:w1 is public (user:*) for the wildcard scenario.
      expect(all.filter((o) => o.startsWith("document:br"))).toHaveLength(50);
    });

    test("types its errors with gRPC status names", async () => {
      const malformed = await expectCode(
        api.check("document", "view", "user:a"),
        "INVALID_ARGUMENT",
      );
      expect(malformed).toBeInstanceOf(TrellisError);
      await expectCode(api.check("folder:1", "view", "user:a", fresh()), "FAILED_PRECONDITION");
      await expectCode(
        api.writeRelationships(["document:x#nonexistent@user:a"]),
        "FAILED_PRECONDITION",
      );
      await expectCode(api.writeSchema("definition user {"), "INVALID_ARGUMENT");
      await expectCode(
        api.check("document:s1", "view", "user:alice", {
          consistency: { atLeastAsFresh: "z1.1.forged" },
        }),
        "INVALID_ARGUMENT",
      );
      await expectCode(
        collect(api.readRelationships({ resourceType: "document", resourceId: "" })),
        "INVALID_ARGUMENT",
      );
      await expectCode(api.writeRelationships([]), "INVALID_ARGUMENT");
    });

    test("validates a schema without writing it, with every problem's position", async () => {
      const good = await api.validateSchema(
        "definition user {}\ndefinition doc { relation reader: user }",
      );
      expect(good.problems).toEqual([]);
      expect(good.formatted).toContain("definition doc {");
      const bad = await api.validateSchema(
        "definition user {}\n\ndefinition doc {\n\trelation reader: nobody\n}\n",
      );
      expect(bad.formatted).toBeUndefined();
      expect(bad.problems).toHaveLength(1);
      expect(bad.problems[0]).toMatchObject({ line: 4 });
      expect(bad.problems[0]!.message).toContain("nobody");
      expect((await api.readSchema()).schema).toBe(SCENARIO_SCHEMA);
    });

    test("diffs a proposed schema against the written one", async () => {
      const proposed = `${SCENARIO_SCHEMA}\ndefinition folder {\n\trelation owner: user\n}\n`;
      const { differences, problems } = await api.diffSchema(proposed);
      expect(problems).toEqual([]);
      expect(differences.map((d) => [d.kind, d.target])).toEqual([
        ["DEFINITION_ADDED", "folder"],
        ["MEMBER_ADDED", "folder#owner"],
      ]);
      const broken = await api.diffSchema("definition user {");
      expect(broken.differences).toEqual([]);
      expect(broken.problems.length).toBeGreaterThan(0);
    });

    test("imports in batches and exports everything at one snapshot", async () => {
      const sizes: number[] = [];
      const batches = [0, 1, 2].map((b) =>
        Array.from({ length: 5 }, (_, i) => `document:imp${b}#viewer@user:u${i}`),
      );
      const { zookie, imported } = await api.importRelationships(batches, {
        onBatch: (n) => sizes.push(n),
      });
      expect(imported).toBe(15);
      expect(sizes).toEqual([5, 5, 5]);
      expect(api.lastZookie).toBe(zookie);
      const exported = await collect(
        api.exportRelationships({ consistency: { atLeastAsFresh: zookie } }),
      );
      const snapshots = new Set(exported.map((b) => b.zookie));
      expect(snapshots.size).toBe(1);
      const ids = exported
        .flatMap((b) => b.relationships)
        .filter((r) => r.resource.id.startsWith("imp"))
        .map((r) => `${r.resource.id}@${r.subject.id}`);
      expect(ids).toHaveLength(15);
      expect(ids).toContain("imp2@u4");
      // CREATE: importing an existing relationship fails its batch.
      await expectCode(
        api.importRelationships([["document:imp0#viewer@user:u0"]]),
        "FAILED_PRECONDITION",
      );
    });

    test("refuses a schema that would orphan stored relationships and keeps the old one", async () => {
      await expectCode(
        api.writeSchema("definition user {}\n\ndefinition document {\n\trelation owner: user\n}\n"),
        "FAILED_PRECONDITION",
      );
      expect((await api.readSchema()).schema).toBe(SCENARIO_SCHEMA);
    });
  });
}
