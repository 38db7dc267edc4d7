// Caveat cost over the wire: a costly caveat is refused when written, a costly evaluation is
// RESOURCE_EXHAUSTED, and the server goes on answering everyone else.
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import { type ApiFixture, expectCode, obj, startApiFixture, subj } from "./api-fixture.js";

const HAS = Permissionship.PERMISSIONSHIP_HAS_PERMISSION;
const consistency = { requirement: { $case: "fullyConsistent", fullyConsistent: true } } as const;

const SCHEMA = `
caveat pairs(l list<int>) { l.exists(x, l.exists(y, x == y + 1)) }

definition user {}

definition document {
	relation viewer: user | user with pairs
}
`;

/** The shape that froze a server for 88 s: eight comprehensions over ten literals, nested. */
function frozenShape(): string {
  const digits = "[0,1,2,3,4,5,6,7,8,9]";
  let inner = "x >= 0";
  for (let i = 7; i >= 0; i--) inner = `${digits}.all(v${i}, ${inner})`;
  return `caveat frozen(x int) { ${inner} }\n${SCHEMA}`;
}

const ints = (n: number) => Array.from({ length: n }, (_, i) => i);

let api: ApiFixture;

beforeAll(async () => {
  api = await startApiFixture({
    schema: SCHEMA,
    tuples: ["document:d#viewer@user:u[pairs]", "document:d#viewer@user:plain"],
  });
});

afterAll(() => api.close());

describe("a costly caveat in a schema", () => {
  test("is reported by ValidateSchema and refused by WriteSchema, which changes nothing", async () => {
    const validated = await api.validateSchema({ schema: frozenShape() });
    expect(validated.errors.map((e) => e.message).join("\n")).toMatch(/nests 8 comprehensions/);
    await expectCode(api.writeSchema({ schema: frozenShape() }), status.INVALID_ARGUMENT);
    expect((await api.readSchema({})).schemaText).toBe(SCHEMA);
  });
});

describe("a costly evaluation", () => {
  test("is RESOURCE_EXHAUSTED, and the next calls are answered", async () => {
    const err = await expectCode(
      api.check({
        consistency,
        resource: obj("document:d"),
        permission: "viewer",
        subject: subj("user:u"),
        context: { l: ints(10_000) },
      }),
      status.RESOURCE_EXHAUSTED,
    );
    expect(err.details).toContain("pairs");
    for (const [who, context] of [
      ["user:u", { l: [1, 2] }],
      ["user:plain", { l: ints(10_000) }],
    ] as const) {
      const res = await api.check({
        consistency,
        resource: obj("document:d"),
        permission: "viewer",
        subject: subj(who),
        context,
      });
      expect(res.permissionship).toBe(HAS);
    }
  });

  test("is one item's error in CheckBulk", async () => {
    const res = await api.checkBulk({
      consistency,
      items: [
        {
          resource: obj("document:d"),
          permission: "viewer",
          subject: subj("user:u"),
          context: { l: ints(10_000) },
        },
        { resource: obj("document:d"), permission: "viewer", subject: subj("user:plain") },
      ],
    });
    expect(res.pairs[0]?.response).toMatchObject({
      $case: "error",
      error: { code: status.RESOURCE_EXHAUSTED },
    });
    expect(res.pairs[1]?.response).toMatchObject({ $case: "item" });
  });
});

describe("a context over the size limits", () => {
  test("is INVALID_ARGUMENT on a check", async () => {
    await expectCode(
      api.check({
        consistency,
        resource: obj("document:d"),
        permission: "viewer",
        subject: subj("user:u"),
        context: { l: ints(20_000) },
      }),
      status.INVALID_ARGUMENT,
    );
  });
});
