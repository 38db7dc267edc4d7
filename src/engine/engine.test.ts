import { afterEach, describe, expect, test } from "vitest";
import { type EngineFixture, engineFixture } from "../../test/support/engine-fixture.js";
import { ManualClock } from "../../test/support/manual-clock.js";
import { parseObjectRef, parseRelationship, parseSubjectRef } from "../core/relationship.js";
import type { Consistency } from "../core/revision.js";

let fixture: EngineFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function setup(schema: string, tuples: string[] = [], clock?: ManualClock) {
  fixture = await engineFixture(schema, tuples, clock ? { clock } : {});
  return fixture;
}

async function check(
  f: EngineFixture,
  assertion: string,
  extra: { context?: Record<string, unknown>; consistency?: Consistency } = {},
) {
  const [head, subject] = assertion.split("@") as [string, string];
  const hash = head.indexOf("#");
  return f.engine.check(f.tenant, {
    resource: parseObjectRef(head.slice(0, hash)),
    permission: head.slice(hash + 1),
    subject: parseSubjectRef(subject),
    consistency: "fully_consistent",
    ...extra,
  });
}

const FOLDERS = `
definition user {}
definition folder {
  relation parent: folder
  relation viewer: user
  permission view = viewer + parent->view
}`;

describe("check: regressions", () => {
  test("a folder chain exactly at the depth limit answers; one deeper is RESOURCE_EXHAUSTED", async () => {
    // folder:f30#view walks 31 folders' view, then folder:f0#viewer: 32 sub-problems deep.
    const tuples = ["folder:f0#viewer@user:alice"];
    for (let i = 1; i <= 30; i++) tuples.push(`folder:f${i}#parent@folder:f${i - 1}`);
    const f = await setup(FOLDERS, tuples);
    expect((await check(f, "folder:f30#view@user:alice")).permissionship).toBe("ALLOWED");
    await f.close();
    fixture = await engineFixture(FOLDERS, tuples, { engine: { maxDepth: 32 } });
    expect((await check(fixture, "folder:f30#view@user:alice")).permissionship).toBe("ALLOWED");
    await fixture.close();
    fixture = await engineFixture(FOLDERS, tuples, { engine: { maxDepth: 31 } });
    await expect(check(fixture, "folder:f30#view@user:alice")).rejects.toMatchObject({
      code: "RESOURCE_EXHAUSTED",
    });
  });

  test("a folder that is its own ancestor terminates with the right answers", async () => {
    const f = await setup(FOLDERS, [
      "folder:a#parent@folder:b",
      "folder:b#parent@folder:c",
      "folder:c#parent@folder:a",
      "folder:c#viewer@user:alice",
    ]);
    expect((await check(f, "folder:a#view@user:alice")).permissionship).toBe("ALLOWED");
    expect((await check(f, "folder:b#view@user:alice")).permissionship).toBe("ALLOWED");
    expect((await check(f, "folder:a#view@user:bob")).permissionship).toBe("DENIED");
    // Answers computed inside the cycle are not poisoned by the first traversal.
    expect((await check(f, "folder:c#view@user:bob")).permissionship).toBe("DENIED");
    expect((await check(f, "folder:c#view@user:alice")).permissionship).toBe("ALLOWED");
  });

  test("a cycle through the subtracted side of an exclusion is FAILED_PRECONDITION", async () => {
    const f = await setup(
      `definition user {}
       definition thing {
         relation ref: thing
         relation base: user
         permission perm = base - ref->perm
       }`,
      [
        "thing:a#base@user:alice",
        "thing:a#ref@thing:b",
        "thing:b#base@user:alice",
        "thing:b#ref@thing:a",
      ],
    );
    await expect(check(f, "thing:a#perm@user:alice")).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
  });

  test("a caveat with missing context inside an exclusion leaves the answer conditional", async () => {
    const f = await setup(
      `definition user {}
       caveat on_shift(hour int) { hour >= 9 && hour < 17 }
       definition doc {
         relation viewer: user
         relation banned: user with on_shift
         permission view = viewer - banned
       }`,
      ["doc:d#viewer@user:alice", "doc:d#banned@user:alice[on_shift]"],
    );
    const open = await check(f, "doc:d#view@user:alice");
    expect(open.permissionship).toBe("CONDITIONAL");
    expect(open.missingContext).toEqual(["hour"]);
    expect(
      (await check(f, "doc:d#view@user:alice", { context: { hour: 10 } })).permissionship,
    ).toBe("DENIED");
    expect(
      (await check(f, "doc:d#view@user:alice", { context: { hour: 20 } })).permissionship,
    ).toBe("ALLOWED");
  });

  test("an intersection with .all() needs every parent, with a wildcard excluded user", async () => {
    const f = await setup(
      `definition user {}
       definition folder { relation viewer: user | user:* }
       definition doc {
         relation parent: folder
         relation banned: user
         permission view = parent.all(viewer) - banned
       }`,
      [
        "doc:d#parent@folder:open",
        "doc:d#parent@folder:closed",
        "folder:open#viewer@user:*",
        "folder:closed#viewer@user:alice",
        "doc:d#banned@user:mallory",
        "folder:closed#viewer@user:mallory",
      ],
    );
    expect((await check(f, "doc:d#view@user:alice")).permissionship).toBe("ALLOWED");
    expect((await check(f, "doc:d#view@user:bob")).permissionship).toBe("DENIED");
    expect((await check(f, "doc:d#view@user:mallory")).permissionship).toBe("DENIED");
  });

  test("a trace shows what granted access", async () => {
    const f = await setup(FOLDERS, [
      "folder:top#viewer@user:alice",
      "folder:sub#parent@folder:top",
    ]);
    const r = await f.engine.check(f.tenant, {
      resource: { type: "folder", id: "sub" },
      permission: "view",
      subject: { type: "user", id: "alice" },
      consistency: "fully_consistent",
      trace: true,
    });
    expect(r.trace).toMatchObject({
      resource: "folder:sub",
      relation: "view",
      result: "ALLOWED",
      children: [
        { resource: "folder:sub", relation: "viewer", result: "DENIED" },
        {
          resource: "folder:top",
          relation: "view",
          result: "ALLOWED",
          children: [{ resource: "folder:top", relation: "viewer", result: "ALLOWED" }],
        },
      ],
    });
  });
});

describe("check: errors", () => {
  test("unknown types and permissions are FAILED_PRECONDITION; a wildcard subject INVALID_ARGUMENT", async () => {
    const f = await setup(FOLDERS);
    await expect(check(f, "nope:x#view@user:a")).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    await expect(check(f, "folder:x#nope@user:a")).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    await expect(check(f, "folder:x#view@nope:a")).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    await expect(check(f, "folder:x#view@user:*")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("consistency", () => {
  test("at_least_as_fresh sees the write that returned the zookie", async () => {
    const f = await setup(FOLDERS);
    const zookie = await f.write("folder:x#viewer@user:alice");
    const r = await check(f, "folder:x#view@user:alice", {
      consistency: { atLeastAsFresh: zookie },
    });
    expect(r.permissionship).toBe("ALLOWED");
  });

  test("at_exact_snapshot answers as of that revision", async () => {
    const f = await setup(FOLDERS);
    const before = await f.write("folder:x#viewer@user:bob");
    await f.write("folder:x#viewer@user:alice");
    expect(
      (await check(f, "folder:x#view@user:alice", { consistency: { atExactSnapshot: before } }))
        .permissionship,
    ).toBe("DENIED");
    expect((await check(f, "folder:x#view@user:alice")).permissionship).toBe("ALLOWED");
  });

  test("a forged or foreign zookie is INVALID_ARGUMENT", async () => {
    const f = await setup(FOLDERS);
    const z = await f.write("folder:x#viewer@user:alice");
    const forged = z.replace(
      /^z1\.([0-9a-z]+)\./,
      (_m, r: string) => `z1.${(Number.parseInt(r, 36) + 1).toString(36)}.`,
    );
    await expect(
      check(f, "folder:x#view@user:alice", { consistency: { atLeastAsFresh: forged } }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await f.store.createTenant("other");
    await f.engine.writeSchema("other", FOLDERS);
    await expect(
      f.engine.check("other", {
        resource: { type: "folder", id: "x" },
        permission: "view",
        subject: { type: "user", id: "alice" },
        consistency: { atLeastAsFresh: z },
      }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("expiration and the result cache", () => {
  test("a cached grant stops granting when the tuple behind it expires", async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const f = await setup(
      `use expiration
       definition user {}
       definition doc {
         relation viewer: user with expiration
         permission view = viewer
       }`,
      [],
      clock,
    );
    await f.write("doc:d#viewer@user:alice[expiration:2030-01-01T01:00:00Z]");
    expect((await check(f, "doc:d#view@user:alice")).permissionship).toBe("ALLOWED");
    expect((await check(f, "doc:d#view@user:alice")).permissionship).toBe("ALLOWED");
    expect(f.engine.cacheStats().hits).toBeGreaterThan(0);
    clock.advance(2 * 60 * 60 * 1000);
    expect((await check(f, "doc:d#view@user:alice")).permissionship).toBe("DENIED");
  });
});

describe("writes", () => {
  test("refuse tuples the schema does not allow, with SpiceDB's codes, and change nothing", async () => {
    const f = await setup(FOLDERS);
    const bad: [string, string][] = [
      ["nope:x#viewer@user:a", "FAILED_PRECONDITION"],
      ["folder:x#nope@user:a", "FAILED_PRECONDITION"],
      ["folder:x#view@user:a", "INVALID_ARGUMENT"],
      ["folder:x#viewer@folder:y", "INVALID_ARGUMENT"],
      ["folder:x#viewer@user:*", "INVALID_ARGUMENT"],
    ];
    for (const [tuple, code] of bad) {
      await expect(
        f.engine.writeRelationships(f.tenant, [
          { op: "TOUCH", relationship: parseRelationship("folder:ok#viewer@user:ok") },
          { op: "TOUCH", relationship: parseRelationship(tuple) },
        ]),
      ).rejects.toMatchObject({ code });
    }
    expect((await check(f, "folder:ok#view@user:ok")).permissionship).toBe("DENIED");
  });

  test("refuse a schema that would orphan stored tuples", async () => {
    const f = await setup(FOLDERS, ["folder:x#viewer@user:alice"]);
    await expect(
      f.engine.writeSchema(
        f.tenant,
        "definition user {}\ndefinition folder { relation parent: folder }",
      ),
    ).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
    // Removing a relation with no tuples is fine.
    await f.engine.writeSchema(
      f.tenant,
      "definition user {}\ndefinition folder {\n relation viewer: user\n permission view = viewer\n}",
    );
  });
});

describe("list objects and subjects", () => {
  test("ListObjects pages through the objects a user can see, in id order", async () => {
    const tuples = ["folder:root#viewer@user:alice"];
    for (let i = 0; i < 25; i++)
      tuples.push(`folder:c${String(i).padStart(2, "0")}#parent@folder:root`);
    tuples.push("folder:other#viewer@user:bob");
    const f = await setup(FOLDERS, tuples);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await f.engine.listObjects(f.tenant, {
        resourceType: "folder",
        permission: "view",
        subject: { type: "user", id: "alice" },
        consistency: "fully_consistent",
        limit: 10,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      seen.push(...page.objects.map((o) => o.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(26);
    expect(seen).toEqual([...seen].sort());
    expect(seen).not.toContain("other");
  });

  test("ListSubjects reports the wildcard and who it excludes", async () => {
    const f = await setup(
      `definition user {}
       definition doc {
         relation viewer: user | user:*
         relation banned: user
         permission view = viewer - banned
       }`,
      ["doc:d#viewer@user:*", "doc:d#viewer@user:alice", "doc:d#banned@user:mallory"],
    );
    const r = await f.engine.listSubjects(f.tenant, {
      resource: { type: "doc", id: "d" },
      permission: "view",
      subjectType: "user",
      consistency: "fully_consistent",
    });
    expect(r.subjects.map((s) => s.id)).toEqual(["alice"]);
    expect(r.wildcard).toMatchObject({ permissionship: "ALLOWED", excluded: ["mallory"] });
  });
});
