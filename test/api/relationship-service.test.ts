// RelationshipService over the wire: writes, deletes, reads, import and export, and their errors.
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import type { Relationship as PbRelationship } from "../../src/gen/trellis/v1/core.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import {
  type ApiFixture,
  collect,
  expectCode,
  obj,
  relationshipMessage as rel,
  startApiFixture,
  subj,
} from "./api-fixture.js";

const CREATE = 1;
const TOUCH = 2;
const DELETE = 3;
const MUST_MATCH = 1;
const MUST_NOT_MATCH = 2;
const consistency = { requirement: { $case: "fullyConsistent", fullyConsistent: true } } as const;

let api: ApiFixture;

beforeAll(async () => {
  api = await startApiFixture();
});

afterAll(() => api.close());

function text(r: PbRelationship): string {
  const subject = r.subject!;
  const s = `${subject.object!.objectType}:${subject.object!.objectId}${subject.optionalRelation ? `#${subject.optionalRelation}` : ""}`;
  return `${r.resource!.objectType}:${r.resource!.objectId}#${r.relation}@${s}`;
}

async function tuples(resourceType: string, resourceId?: string): Promise<string[]> {
  const rows = await collect(
    api.read({
      consistency,
      filter: {
        resourceType,
        ...(resourceId !== undefined ? { optionalResourceId: resourceId } : {}),
      },
    }),
  );
  return rows.map((r) => text(r.relationship!));
}

describe("Write", () => {
  test("creates, touches and deletes atomically and returns a zookie", async () => {
    const res = await api.write({
      updates: [
        { operation: CREATE, relationship: rel("document:w1#viewer@user:ann") },
        { operation: TOUCH, relationship: rel("document:w1#owner@user:ben") },
      ],
    });
    expect(res.writtenAt?.token).toMatch(/^z1\./);
    await api.write({
      updates: [{ operation: DELETE, relationship: rel("document:w1#viewer@user:ann") }],
    });
    expect(await tuples("document", "w1")).toEqual(["document:w1#owner@user:ben"]);
  });

  test("keeps caveats and expirations", async () => {
    await api.write({
      updates: [
        {
          operation: TOUCH,
          relationship: rel('document:w2#viewer@user:cal[on_day:{"allowed":"tue"}]'),
        },
        {
          operation: TOUCH,
          relationship: rel("document:w2#viewer@user:dan[expiration:2099-01-01T00:00:00Z]"),
        },
      ],
    });
    const rows = await collect(
      api.read({ consistency, filter: { resourceType: "document", optionalResourceId: "w2" } }),
    );
    const cal = rows.find((r) => r.relationship?.subject?.object?.objectId === "cal")!
      .relationship!;
    expect(cal.optionalCaveat?.caveatName).toBe("on_day");
    expect(cal.optionalCaveat?.context).toEqual({ allowed: "tue" });
    const dan = rows.find((r) => r.relationship?.subject?.object?.objectId === "dan")!
      .relationship!;
    expect(dan.optionalExpiresAt?.toISOString()).toBe("2099-01-01T00:00:00.000Z");
  });

  test("a failed precondition is FAILED_PRECONDITION and writes nothing", async () => {
    await expectCode(
      api.write({
        updates: [{ operation: TOUCH, relationship: rel("document:w3#viewer@user:eva") }],
        preconditions: [
          { operation: MUST_MATCH, filter: { resourceType: "document", optionalResourceId: "w3" } },
        ],
      }),
      status.FAILED_PRECONDITION,
    );
    expect(await tuples("document", "w3")).toEqual([]);
    await api.write({
      updates: [{ operation: TOUCH, relationship: rel("document:w3#viewer@user:eva") }],
      preconditions: [
        {
          operation: MUST_NOT_MATCH,
          filter: { resourceType: "document", optionalResourceId: "w3" },
        },
      ],
    });
    expect(await tuples("document", "w3")).toEqual(["document:w3#viewer@user:eva"]);
  });

  test("CREATE of an existing tuple is FAILED_PRECONDITION and the whole write is rejected", async () => {
    await api.touch("document:w4#viewer@user:fay");
    await expectCode(
      api.write({
        updates: [
          { operation: CREATE, relationship: rel("document:w4#owner@user:gus") },
          { operation: CREATE, relationship: rel("document:w4#viewer@user:fay") },
        ],
      }),
      status.FAILED_PRECONDITION,
    );
    expect(await tuples("document", "w4")).toEqual(["document:w4#viewer@user:fay"]);
  });

  test("a bad id is INVALID_ARGUMENT naming the update's field, and nothing is written", async () => {
    const bad = rel("document:w5#viewer@user:ok");
    bad.subject.object.objectId = "not ok";
    const err = await expectCode(
      api.write({
        updates: [
          { operation: TOUCH, relationship: rel("document:w5#owner@user:hal") },
          { operation: TOUCH, relationship: bad },
        ],
      }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toContain("updates[1].relationship.subject.object.object_id");
    expect(await tuples("document", "w5")).toEqual([]);
  });

  test("an unknown relation is FAILED_PRECONDITION; a disallowed subject type INVALID_ARGUMENT", async () => {
    await expectCode(
      api.write({
        updates: [{ operation: TOUCH, relationship: rel("document:w6#editor@user:ivy") }],
      }),
      status.FAILED_PRECONDITION,
    );
    const err = await expectCode(
      api.write({
        updates: [{ operation: TOUCH, relationship: rel("document:w6#owner@group:eng#member") }],
      }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toContain("updates[0].relationship.subject");
  });

  test("a missing operation, empty write or duplicate tuple is INVALID_ARGUMENT", async () => {
    await expectCode(
      api.write({ updates: [{ relationship: rel("document:w7#viewer@user:jo") }] }),
      status.INVALID_ARGUMENT,
    );
    await expectCode(api.write({ updates: [] }), status.INVALID_ARGUMENT);
    await expectCode(
      api.write({
        updates: [
          { operation: TOUCH, relationship: rel("document:w7#viewer@user:jo") },
          { operation: TOUCH, relationship: rel("document:w7#viewer@user:jo") },
        ],
      }),
      status.INVALID_ARGUMENT,
    );
  });

  test("more updates or preconditions than the limit are INVALID_ARGUMENT and change nothing", async () => {
    const updates = Array.from({ length: 1001 }, (_, i) => ({
      operation: TOUCH,
      relationship: rel(`document:big${i}#viewer@user:kim`),
    }));
    const err = await expectCode(api.write({ updates }), status.INVALID_ARGUMENT);
    expect(err.details).toContain("updates");
    const preconditions = Array.from({ length: 1001 }, () => ({
      operation: MUST_NOT_MATCH,
      filter: { resourceType: "document", optionalResourceId: "nothing" },
    }));
    await expectCode(
      api.write({
        updates: [{ operation: TOUCH, relationship: rel("document:big0#viewer@user:kim") }],
        preconditions,
      }),
      status.INVALID_ARGUMENT,
    );
    expect(await tuples("document", "big0")).toEqual([]);
  });

  test("a caveat context over the size limit is INVALID_ARGUMENT", async () => {
    const r = rel("document:w8#viewer@user:lou[on_day]");
    const big = { allowed: "x".repeat(5000) };
    await expectCode(
      api.write({
        updates: [
          {
            operation: TOUCH,
            relationship: { ...r, optionalCaveat: { caveatName: "on_day", context: big } },
          },
        ],
      }),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("Delete", () => {
  test("deletes every match of a filter and reports the count", async () => {
    await api.touch(
      "document:d1#viewer@user:a1",
      "document:d1#viewer@user:a2",
      "document:d1#owner@user:a3",
    );
    const res = await api.delete({
      filter: { resourceType: "document", optionalResourceId: "d1", optionalRelation: "viewer" },
    });
    expect(res.deletedCount).toBe(2);
    expect(res.partial).toBe(false);
    expect(res.deletedAt?.token).toBeTruthy();
    expect(await tuples("document", "d1")).toEqual(["document:d1#owner@user:a3"]);
  });

  test("refuses more matches than the limit unless partial deletions are allowed", async () => {
    await api.touch(
      "document:d2#viewer@user:b1",
      "document:d2#viewer@user:b2",
      "document:d2#viewer@user:b3",
    );
    const filter = { resourceType: "document", optionalResourceId: "d2" };
    await expectCode(api.delete({ filter, optionalLimit: 2 }), status.FAILED_PRECONDITION);
    expect(await tuples("document", "d2")).toHaveLength(3);
    const res = await api.delete({ filter, optionalLimit: 2, allowPartialDeletions: true });
    expect(res).toMatchObject({ deletedCount: 2, partial: true });
    expect(await tuples("document", "d2")).toEqual(["document:d2#viewer@user:b3"]);
  });

  test("checks preconditions: nothing is deleted when one fails", async () => {
    await api.touch("document:d3#viewer@user:c1");
    const filter = { resourceType: "document", optionalResourceId: "d3" };
    await expectCode(
      api.delete({
        filter,
        preconditions: [
          {
            operation: MUST_MATCH,
            filter: { resourceType: "document", optionalResourceId: "nope" },
          },
        ],
      }),
      status.FAILED_PRECONDITION,
    );
    expect(await tuples("document", "d3")).toHaveLength(1);
    const res = await api.delete({
      filter,
      preconditions: [
        { operation: MUST_MATCH, filter: { resourceType: "document", optionalResourceId: "d3" } },
      ],
    });
    expect(res.deletedCount).toBe(1);
    expect(await tuples("document", "d3")).toEqual([]);
  });

  test("a filter without a resource type or a limit above the server's is INVALID_ARGUMENT", async () => {
    const err = await expectCode(
      api.delete({ filter: { resourceType: "" } }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toContain("filter.resource_type");
    await expectCode(
      api.delete({ filter: { resourceType: "document" }, optionalLimit: 5000 }),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("Read", () => {
  test("streams matches in stable order; any cursor resumes right after its item", async () => {
    await api.touch(...["x1", "x2", "x3", "x4", "x5"].map((u) => `folder:r1#viewer@user:${u}`));
    const all = await collect(
      api.read({ consistency, filter: { resourceType: "folder", optionalResourceId: "r1" } }),
    );
    expect(all.map((r) => r.relationship?.subject?.object?.objectId)).toEqual([
      "x1",
      "x2",
      "x3",
      "x4",
      "x5",
    ]);
    const rest = await collect(
      api.read({
        consistency,
        filter: { resourceType: "folder", optionalResourceId: "r1" },
        optionalCursor: all[1]!.afterResultCursor!,
        optionalLimit: 2,
      }),
    );
    expect(rest.map((r) => r.relationship?.subject?.object?.objectId)).toEqual(["x3", "x4"]);
  });

  test("filters by subject, and refuses a bad filter or a foreign cursor with INVALID_ARGUMENT", async () => {
    await api.touch("folder:r2#viewer@group:eng#member", "folder:r2#viewer@user:y1");
    const groups = await collect(
      api.read({
        consistency,
        filter: {
          resourceType: "folder",
          optionalResourceId: "r2",
          optionalSubjectFilter: { subjectType: "group", optionalRelation: { relation: "member" } },
        },
      }),
    );
    expect(groups.map((r) => text(r.relationship!))).toEqual(["folder:r2#viewer@group:eng#member"]);
    await expectCode(
      collect(api.read({ filter: { resourceType: "folder", optionalRelation: "Bad" } })),
      status.INVALID_ARGUMENT,
    );
    await expectCode(
      collect(
        api.read({ filter: { resourceType: "folder" }, optionalCursor: { token: "not-a-cursor" } }),
      ),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("Import", () => {
  test("imports every message as a batch and reports the count and zookie", async () => {
    const res = await api.import([
      {
        relationships: Array.from({ length: 50 }, (_, i) =>
          rel(`document:imp${i}#viewer@user:imp`),
        ),
      },
      { relationships: [] },
      {
        relationships: Array.from({ length: 30 }, (_, i) => rel(`document:imp${i}#owner@user:imp`)),
      },
    ]);
    expect(res.importedCount).toBe(80);
    const check = await api.check({
      consistency: { requirement: { $case: "atLeastAsFresh", atLeastAsFresh: res.importedAt! } },
      resource: obj("document:imp7"),
      permission: "view",
      subject: subj("user:imp"),
    });
    expect(check.permissionship).toBe(Permissionship.PERMISSIONSHIP_HAS_PERMISSION);
  });

  test("a failing message writes none of itself; earlier messages stay, as the trailers say", async () => {
    await api.touch("document:clash#viewer@user:imq");
    const err = await expectCode(
      api.import([
        {
          relationships: [rel("document:ok1#viewer@user:imq"), rel("document:ok2#viewer@user:imq")],
        },
        {
          relationships: [
            rel("document:no1#viewer@user:imq"),
            rel("document:clash#viewer@user:imq"),
          ],
        },
        { relationships: [rel("document:no2#viewer@user:imq")] },
      ]),
      status.FAILED_PRECONDITION,
    );
    expect(err.metadata.get("trellis-imported-count")).toEqual(["2"]);
    expect(err.metadata.get("trellis-imported-at")[0]).toMatch(/^z1\./);
    const rows = await collect(
      api.read({
        consistency,
        filter: {
          resourceType: "document",
          optionalSubjectFilter: { subjectType: "user", optionalSubjectId: "imq" },
        },
      }),
    );
    expect(rows.map((r) => r.relationship?.resource?.objectId)).toEqual(["clash", "ok1", "ok2"]);
  });

  test("an invalid relationship is INVALID_ARGUMENT; a message over the limit too", async () => {
    const bad = rel("document:v1#viewer@user:ok");
    bad.resource.objectId = "";
    const err = await expectCode(api.import([{ relationships: [bad] }]), status.INVALID_ARGUMENT);
    expect(err.details).toContain("relationships[0].resource.object_id");
    await expectCode(
      api.import([
        {
          relationships: Array.from({ length: 10_001 }, (_, i) =>
            rel(`document:lim${i}#viewer@user:l`),
          ),
        },
      ]),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("Export", () => {
  test("streams every relationship at one snapshot", async () => {
    const fresh = await startApiFixture({
      tuples: Array.from({ length: 2500 }, (_, i) => `document:e${i}#viewer@user:exp`),
    });
    try {
      const messages = await collect(fresh.export({ consistency }));
      expect(messages.length).toBeGreaterThanOrEqual(3);
      expect(new Set(messages.map((m) => m.exportedAt?.token)).size).toBe(1);
      const all = messages.flatMap((m) => m.relationships.map(text));
      expect(all).toHaveLength(2500);
      expect(new Set(all).size).toBe(2500);
    } finally {
      await fresh.close();
    }
  });
});
