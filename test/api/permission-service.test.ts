// PermissionService over the wire: answers, streams, consistency and the documented errors.
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import {
  AlgebraicSubjectSet_Operation,
  type ListObjectsResponse,
  type PermissionTree,
} from "../../src/gen/trellis/v1/permission_service.js";
import {
  type ApiFixture,
  collect,
  expectCode,
  obj,
  relationshipMessage,
  startApiFixture,
  subj,
} from "./api-fixture.js";

const HAS = Permissionship.PERMISSIONSHIP_HAS_PERMISSION;
const NO = Permissionship.PERMISSIONSHIP_NO_PERMISSION;
const CONDITIONAL = Permissionship.PERMISSIONSHIP_CONDITIONAL_PERMISSION;
const consistency = { requirement: { $case: "fullyConsistent", fullyConsistent: true } } as const;

let api: ApiFixture;

beforeAll(async () => {
  api = await startApiFixture({
    tuples: [
      "group:eng#member@user:alice",
      "group:eng#member@user:bob",
      "folder:root#viewer@group:eng#member",
      "document:readme#folder@folder:root",
      "document:readme#owner@user:carol",
      "document:readme#banned@user:bob",
      "document:plan#viewer@user:dave[on_day]",
      "document:public#viewer@user:*",
      "document:public#banned@user:eve",
    ],
  });
});

afterAll(() => api.close());

describe("Check", () => {
  test("allows a member of a group that can view the folder", async () => {
    const res = await api.check({
      consistency,
      resource: obj("document:readme"),
      permission: "view",
      subject: subj("user:alice"),
    });
    expect(res.permissionship).toBe(HAS);
    expect(res.checkedAt?.token).toMatch(/^z1\./);
  });

  test("denies a banned member and a stranger", async () => {
    for (const who of ["user:bob", "user:zed"]) {
      const res = await api.check({
        consistency,
        resource: obj("document:readme"),
        permission: "view",
        subject: subj(who),
      });
      expect(res.permissionship).toBe(NO);
    }
  });

  test("is conditional when caveat context is missing, and decided when it is given", async () => {
    const missing = await api.check({
      consistency,
      resource: obj("document:plan"),
      permission: "view",
      subject: subj("user:dave"),
    });
    expect(missing.permissionship).toBe(CONDITIONAL);
    expect(missing.partialCaveatInfo?.missingRequiredContext).toEqual(["allowed", "day"]);
    const decided = await api.check({
      consistency,
      resource: obj("document:plan"),
      permission: "view",
      subject: subj("user:dave"),
      context: { day: "mon", allowed: "mon" },
    });
    expect(decided.permissionship).toBe(HAS);
    expect(decided.partialCaveatInfo).toBeUndefined();
  });

  test("returns the trace of sub-problems when asked", async () => {
    const res = await api.check({
      consistency,
      resource: obj("document:readme"),
      permission: "view",
      subject: subj("user:carol"),
      withTracing: true,
    });
    expect(res.debugTrace?.resource).toBe("document:readme");
    expect(res.debugTrace?.relation).toBe("view");
    expect(res.debugTrace?.isPermission).toBe(true);
    expect(res.debugTrace?.children.length).toBeGreaterThan(0);
  });

  test("reads its own writes with at_least_as_fresh", async () => {
    const token = await api.touch("document:fresh#viewer@user:frank");
    const res = await api.check({
      consistency: { requirement: { $case: "atLeastAsFresh", atLeastAsFresh: { token } } },
      resource: obj("document:fresh"),
      permission: "view",
      subject: subj("user:frank"),
    });
    expect(res.permissionship).toBe(HAS);
  });

  test("answers at an exact snapshot: the state before a later write", async () => {
    const before = await api.touch("document:snap#viewer@user:gina");
    await api.write({
      updates: [
        { operation: 3, relationship: relationshipMessage("document:snap#viewer@user:gina") },
      ],
    });
    const res = await api.check({
      consistency: {
        requirement: { $case: "atExactSnapshot", atExactSnapshot: { token: before } },
      },
      resource: obj("document:snap"),
      permission: "view",
      subject: subj("user:gina"),
    });
    expect(res.permissionship).toBe(HAS);
  });

  test("refuses malformed ids with INVALID_ARGUMENT naming the field", async () => {
    const err = await expectCode(
      api.check({ resource: obj("document:bad id"), permission: "view", subject: subj("user:a") }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toContain("resource.object_id");
    const subjectErr = await expectCode(
      api.check({ resource: obj("document:a"), permission: "view", subject: subj("User:a") }),
      status.INVALID_ARGUMENT,
    );
    expect(subjectErr.details).toContain("subject.object.object_type");
  });

  test("refuses missing fields with INVALID_ARGUMENT naming them", async () => {
    const err = await expectCode(
      api.check({ permission: "view", subject: subj("user:a") }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toContain("resource");
    const perm = await expectCode(
      api.check({ resource: obj("document:a"), subject: subj("user:a") }),
      status.INVALID_ARGUMENT,
    );
    expect(perm.details).toContain("permission");
  });

  test("answers FAILED_PRECONDITION for an unknown type or permission", async () => {
    await expectCode(
      api.check({ resource: obj("nothing:a"), permission: "view", subject: subj("user:a") }),
      status.FAILED_PRECONDITION,
    );
    await expectCode(
      api.check({ resource: obj("document:a"), permission: "fly", subject: subj("user:a") }),
      status.FAILED_PRECONDITION,
    );
  });

  test("refuses a forged zookie with INVALID_ARGUMENT", async () => {
    await expectCode(
      api.check({
        consistency: {
          requirement: {
            $case: "atLeastAsFresh",
            atLeastAsFresh: { token: "z1.1.AAAAAAAAAAAAAAAAAAAAAA" },
          },
        },
        resource: obj("document:readme"),
        permission: "view",
        subject: subj("user:alice"),
      }),
      status.INVALID_ARGUMENT,
    );
  });

  test("acts on the tenant the trellis-tenant header names, NOT_FOUND when it does not exist", async () => {
    const { tenantMetadata } = await import("./api-fixture.js");
    await expectCode(
      api.check(
        { resource: obj("document:readme"), permission: "view", subject: subj("user:alice") },
        { metadata: tenantMetadata("nobody") },
      ),
      status.NOT_FOUND,
    );
    await expectCode(
      api.check(
        { resource: obj("document:readme"), permission: "view", subject: subj("user:alice") },
        { metadata: tenantMetadata("bad tenant!") },
      ),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("CheckBulk", () => {
  test("answers every item in order, an item's error confined to that item", async () => {
    const res = await api.checkBulk({
      consistency,
      items: [
        { resource: obj("document:readme"), permission: "view", subject: subj("user:alice") },
        { resource: obj("document:readme"), permission: "view", subject: subj("user:bob") },
        { resource: obj("document:readme"), permission: "view", subject: subj("user:bad id") },
        { resource: obj("nothing:x"), permission: "view", subject: subj("user:alice") },
        { resource: obj("document:public"), permission: "view", subject: subj("user:anyone") },
      ],
    });
    expect(res.pairs).toHaveLength(5);
    const kinds = res.pairs.map((p) =>
      p.response?.$case === "item"
        ? p.response.item.permissionship
        : `error ${p.response?.error.code}`,
    );
    expect(kinds).toEqual([
      HAS,
      NO,
      `error ${status.INVALID_ARGUMENT}`,
      `error ${status.FAILED_PRECONDITION}`,
      HAS,
    ]);
    expect(res.pairs[2]!.request?.subject?.object?.objectId).toBe("bad id");
    expect(
      res.pairs[2]!.response?.$case === "error" && res.pairs[2]!.response.error.message,
    ).toContain("items[2].subject.object.object_id");
  });

  test("refuses more items than the limit with INVALID_ARGUMENT", async () => {
    const item = {
      resource: obj("document:readme"),
      permission: "view",
      subject: subj("user:alice"),
    };
    await expectCode(
      api.checkBulk({ items: Array.from({ length: 1001 }, () => item) }),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("Expand", () => {
  test("returns the userset tree with leaves listing subjects", async () => {
    const res = await api.expand({
      consistency,
      resource: obj("document:readme"),
      permission: "view",
    });
    expect(res.expandedAt?.token).toBeTruthy();
    const root = res.tree!;
    expect(root.relation).toBe("view");
    expect(root.node?.$case).toBe("intermediate");
    if (root.node?.$case !== "intermediate") return;
    expect(root.node.intermediate.operation).toBe(
      AlgebraicSubjectSet_Operation.OPERATION_EXCLUSION,
    );
    const leaves: PermissionTree[] = [];
    const walk = (t: PermissionTree) => {
      if (t.node?.$case === "leaf") leaves.push(t);
      else t.node?.intermediate.children.forEach(walk);
    };
    walk(root);
    const owner = leaves.find((l) => l.relation === "owner");
    expect(
      owner?.node?.$case === "leaf" && owner.node.leaf.relationships[0]?.subject?.object?.objectId,
    ).toBe("carol");
  });

  test("answers FAILED_PRECONDITION for an unknown permission", async () => {
    await expectCode(
      api.expand({ resource: obj("document:readme"), permission: "nope" }),
      status.FAILED_PRECONDITION,
    );
  });
});

describe("ListObjects", () => {
  test("streams the objects a subject can view, in id order, with cursors", async () => {
    await api.touch(
      "document:a1#viewer@user:lister",
      "document:a2#viewer@user:lister",
      "document:a3#viewer@user:lister",
    );
    const all = await collect(
      api.listObjects({
        consistency,
        resourceType: "document",
        permission: "view",
        subject: subj("user:lister"),
      }),
    );
    expect(all.map((r) => r.objectId)).toEqual(["a1", "a2", "a3", "public"]);
    expect(new Set(all.map((r) => r.listedAt?.token)).size).toBe(1);
    const page = await collect(
      api.listObjects({
        consistency: {
          requirement: { $case: "atExactSnapshot", atExactSnapshot: all[0]!.listedAt! },
        },
        resourceType: "document",
        permission: "view",
        subject: subj("user:lister"),
        optionalCursor: all[0]!.afterResultCursor!,
        optionalLimit: 2,
      }),
    );
    expect(page.map((r) => r.objectId)).toEqual(["a2", "a3"]);
  });

  test("a client that cancels mid-stream stops the stream and the server keeps serving", async () => {
    const ids = Array.from(
      { length: 300 },
      (_, i) => `document:c${String(i).padStart(3, "0")}#viewer@user:many`,
    );
    await api.touch(...ids);
    const stream = api.listObjects({
      consistency,
      resourceType: "document",
      permission: "view",
      subject: subj("user:many"),
    });
    const got: ListObjectsResponse[] = [];
    await new Promise<void>((resolve) => {
      stream.on("data", (m: ListObjectsResponse) => {
        got.push(m);
        if (got.length === 3) stream.cancel();
      });
      stream.on("error", (err: { code: number }) => {
        expect(err.code).toBe(status.CANCELLED);
        resolve();
      });
      stream.on("end", resolve);
    });
    expect(got.length).toBeLessThan(301);
    const res = await api.check({
      resource: obj("document:c000"),
      permission: "view",
      subject: subj("user:many"),
      consistency,
    });
    expect(res.permissionship).toBe(HAS);
  });

  test("refuses a bad subject with INVALID_ARGUMENT and an unknown type with FAILED_PRECONDITION", async () => {
    await expectCode(
      collect(
        api.listObjects({ resourceType: "document", permission: "view", subject: subj("user:") }),
      ),
      status.INVALID_ARGUMENT,
    );
    await expectCode(
      collect(
        api.listObjects({ resourceType: "nothing", permission: "view", subject: subj("user:a") }),
      ),
      status.FAILED_PRECONDITION,
    );
  });
});

describe("ListSubjects", () => {
  test("streams the subjects with the permission, the wildcard with its exclusions", async () => {
    const readme = await collect(
      api.listSubjects({
        consistency,
        resource: obj("document:readme"),
        permission: "view",
        subjectObjectType: "user",
      }),
    );
    expect(readme.map((r) => r.subjectObjectId)).toEqual(["alice", "carol"]);
    const pub = await collect(
      api.listSubjects({
        consistency,
        resource: obj("document:public"),
        permission: "view",
        subjectObjectType: "user",
      }),
    );
    expect(pub[0]?.subjectObjectId).toBe("*");
    expect(pub[0]?.excludedSubjectIds).toEqual(["eve"]);
  });

  test("refuses a bad subject type with INVALID_ARGUMENT", async () => {
    await expectCode(
      collect(
        api.listSubjects({
          resource: obj("document:readme"),
          permission: "view",
          subjectObjectType: "U",
        }),
      ),
      status.INVALID_ARGUMENT,
    );
  });
});
