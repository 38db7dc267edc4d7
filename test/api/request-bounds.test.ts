// Requests a caller got wrong are INVALID_ARGUMENT, however they are wrong: a Struct nested past
// what the decoder accepts, and names so long that echoing them would make a status trailer no
// peer accepts (the caller then never learns the status at all).
import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type ApiFixture,
  collect,
  expectCode,
  obj,
  relationshipMessage,
  startApiFixture,
  subj,
} from "./api-fixture.js";

/** A JSON object nested `depth` levels deep. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

const DEADLINE = { deadlineMs: 10_000 };

describe("requests the decoder refuses", () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApiFixture({ tuples: ["document:readme#viewer@user:alice"] });
  });
  afterAll(() => api?.close());

  test("a Struct nested 45 levels is INVALID_ARGUMENT on unary, streaming and client-streaming calls", async () => {
    const context = nested(45);
    const check = {
      resource: obj("document:readme"),
      permission: "view",
      subject: subj("user:alice"),
      context,
    };
    await expectCode(api.check(check, DEADLINE), status.INVALID_ARGUMENT);
    await expectCode(api.checkBulk({ items: [check] }, DEADLINE), status.INVALID_ARGUMENT);
    const caveated = {
      ...relationshipMessage("document:x#viewer@user:bob"),
      optionalCaveat: { caveatName: "on_day", context },
    };
    await expectCode(
      api.write({ updates: [{ operation: 2, relationship: caveated }] }, DEADLINE),
      status.INVALID_ARGUMENT,
    );
    await expectCode(
      collect(
        api.listObjects(
          {
            resourceType: "document",
            permission: "view",
            subject: subj("user:alice"),
            context,
          },
          DEADLINE,
        ),
      ),
      status.INVALID_ARGUMENT,
    );
    await expectCode(
      api.import([{ relationships: [caveated] }], DEADLINE),
      status.INVALID_ARGUMENT,
    );
    // The server is fine: a sane request right after is answered.
    await api.check({ ...check, context: nested(3) }, DEADLINE);
  });
});

describe("echoed input is bounded", () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApiFixture({ tuples: ["document:readme#viewer@user:alice"] });
  });
  afterAll(() => api?.close());

  // Non-ASCII is sent percent-encoded in grpc-message: three bytes per byte of UTF-8.
  const huge = "é".repeat(50_000);
  const hugeAscii = "a".repeat(100_000);

  test("a 100 kB type or relation name is INVALID_ARGUMENT with a short message, and the connection stays usable", async () => {
    const calls = [
      () =>
        api.check(
          {
            resource: { objectType: huge, objectId: "x" },
            permission: "view",
            subject: subj("user:alice"),
          },
          DEADLINE,
        ),
      () =>
        api.check(
          { resource: obj("document:readme"), permission: huge, subject: subj("user:alice") },
          DEADLINE,
        ),
      () =>
        api.check(
          {
            resource: obj("document:readme"),
            permission: "view",
            subject: { object: obj("user:alice"), optionalRelation: huge },
          },
          DEADLINE,
        ),
      () =>
        api.write(
          {
            updates: [
              {
                operation: 2,
                relationship: {
                  ...relationshipMessage("document:x#viewer@user:bob"),
                  relation: huge,
                },
              },
            ],
          },
          DEADLINE,
        ),
      () => collect(api.read({ filter: { resourceType: hugeAscii } }, DEADLINE)),
      () => api.writeSchema({ schema: `definition ${hugeAscii} {}` }, DEADLINE),
    ];
    for (const call of calls) {
      const err = await expectCode(call(), status.INVALID_ARGUMENT);
      expect(err.details.length).toBeLessThanOrEqual(1024);
    }
    // A valid type name of 100 kB ('prefix/' segments) that the schema does not define.
    const unknownType = await expectCode(
      api.check(
        {
          resource: { objectType: `${"abc/".repeat(25_000)}document`, objectId: "x" },
          permission: "view",
          subject: subj("user:alice"),
        },
        DEADLINE,
      ),
      status.FAILED_PRECONDITION,
    );
    expect(unknownType.details.length).toBeLessThanOrEqual(1024);
    await api.check(
      { resource: obj("document:readme"), permission: "view", subject: subj("user:alice") },
      { ...DEADLINE, metadata: new Metadata() },
    );
  });
});
