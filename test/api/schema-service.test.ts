// SchemaService over the wire: write, read, validate and diff.
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SchemaDiff_Kind } from "../../src/gen/trellis/v1/schema_service.js";
import {
  type ApiFixture,
  expectCode,
  startApiFixture,
  TEST_SCHEMA,
  tenantMetadata,
} from "./api-fixture.js";

let api: ApiFixture;

beforeAll(async () => {
  api = await startApiFixture({ tuples: ["document:s1#viewer@user:sue"] });
});

afterAll(() => api.close());

describe("WriteSchema and ReadSchema", () => {
  test("a written schema is read back as written, at a fresh enough revision", async () => {
    const text = `${TEST_SCHEMA}\n/** New. */\ndefinition team {}\n`;
    const written = await api.writeSchema({ schema: text });
    expect(written.writtenAt?.token).toMatch(/^z1\./);
    const read = await api.readSchema({
      consistency: { requirement: { $case: "atLeastAsFresh", atLeastAsFresh: written.writtenAt! } },
    });
    expect(read.schemaText).toBe(text);
    expect(read.readAt?.token).toBeTruthy();
  });

  test("a schema that does not compile is INVALID_ARGUMENT with its position", async () => {
    const err = await expectCode(
      api.writeSchema({
        schema: "definition user {}\ndefinition doc { relation owner: nobody }\n",
      }),
      status.INVALID_ARGUMENT,
    );
    expect(err.details).toMatch(/^2:\d+: /);
  });

  test("an empty schema is INVALID_ARGUMENT", async () => {
    await expectCode(api.writeSchema({ schema: "  \n" }), status.INVALID_ARGUMENT);
  });

  test("a schema that would orphan relationships is FAILED_PRECONDITION and is not written", async () => {
    const without = TEST_SCHEMA.replace("| user with on_day | user with expiration", "").replace(
      "relation viewer: user | user:* | group#member\n\trelation banned",
      "relation banned",
    );
    const before = await api.readSchema();
    const noViewer = without.replace(/\trelation viewer: user \| user:\* \| group#member \n/, "");
    await expectCode(
      api.writeSchema({
        schema: noViewer.replace(
          "permission view = (viewer + edit + folder->view) - banned",
          "permission view = edit",
        ),
      }),
      status.FAILED_PRECONDITION,
    );
    expect((await api.readSchema()).schemaText).toBe(before.schemaText);
  });

  test("reading the schema of a tenant without one is NOT_FOUND", async () => {
    await api.createTenant({ tenant: "schemaless" });
    await expectCode(
      api.readSchema({}, { metadata: tenantMetadata("schemaless") }),
      status.NOT_FOUND,
    );
  });
});

describe("ValidateSchema", () => {
  test("reports every error with line and column and writes nothing", async () => {
    const res = await api.validateSchema({
      schema:
        "definition user {}\ndefinition doc {\n  relation owner: usr\n  relation x: nada\n}\n",
    });
    expect(res.errors[0]).toMatchObject({ line: 3, column: 19 });
    expect(res.errors.some((e) => e.line === 4 && e.column === 15)).toBe(true);
    expect(res.formattedSchema).toBe("");
  });

  test("returns the canonical text of a valid schema", async () => {
    const res = await api.validateSchema({
      schema:
        "definition user {}\ndefinition doc {\n    relation owner: user\n  permission edit = owner\n}",
    });
    expect(res.errors).toEqual([]);
    expect(res.formattedSchema).toBe(
      "definition user {}\n\ndefinition doc {\n\trelation owner: user\n\tpermission edit = owner\n}\n",
    );
  });
});

describe("DiffSchema", () => {
  test("lists definitions, members and caveats added, removed and changed", async () => {
    await api.createTenant({ tenant: "diffs" });
    const metadata = tenantMetadata("diffs");
    await api.writeSchema(
      {
        schema: `caveat cav_one(a int) { a > 1 }
caveat cav_two(a int) { a > 2 }
definition user {}
definition gone {}
definition doc {
	relation owner: user
	relation viewer: user
	permission view = viewer
}
`,
      },
      { metadata },
    );
    const res = await api.diffSchema(
      {
        schema: `caveat cav_one(a int) { a > 10 }
caveat cav_three(b string) { b == "x" }
definition user {}
definition team {}
definition doc {
	relation owner: user | team
	relation editor: user
	permission view = viewer + editor
	relation viewer: user
}
`,
      },
      { metadata },
    );
    expect(res.errors).toEqual([]);
    expect(res.diffs.map((d) => [SchemaDiff_Kind[d.kind], d.target])).toEqual([
      ["KIND_MEMBER_ADDED", "doc#editor"],
      ["KIND_MEMBER_CHANGED", "doc#owner"],
      ["KIND_MEMBER_CHANGED", "doc#view"],
      ["KIND_DEFINITION_REMOVED", "gone"],
      ["KIND_DEFINITION_ADDED", "team"],
      ["KIND_CAVEAT_CHANGED", "cav_one"],
      ["KIND_CAVEAT_ADDED", "cav_three"],
      ["KIND_CAVEAT_REMOVED", "cav_two"],
    ]);
    expect(res.diffs.every((d) => d.description.length > 0)).toBe(true);
  });

  test("reports the errors of an invalid proposal instead of a diff", async () => {
    const res = await api.diffSchema({ schema: "definition doc { relation owner: ghost }" });
    expect(res.diffs).toEqual([]);
    expect(res.errors[0]).toMatchObject({ line: 1 });
  });

  test("against a tenant without a schema, everything is added", async () => {
    await api.createTenant({ tenant: "blank" });
    const res = await api.diffSchema(
      { schema: "definition user {}" },
      { metadata: tenantMetadata("blank") },
    );
    expect(res.diffs.map((d) => d.kind)).toEqual([SchemaDiff_Kind.KIND_DEFINITION_ADDED]);
  });
});

describe("type annotations through the schema RPCs", () => {
  const ANNOTATED = `use typechecking

definition user {}

definition team {}

definition doc {
	relation viewer: user | team
	permission view: user | team = viewer
}
`;

  test("ReadSchema returns them as written and ValidateSchema prints them", async () => {
    await api.createTenant({ tenant: "annotated" });
    const metadata = tenantMetadata("annotated");
    await api.writeSchema({ schema: ANNOTATED }, { metadata });
    expect((await api.readSchema({}, { metadata })).schemaText).toBe(ANNOTATED);
    const validated = await api.validateSchema({
      schema: ANNOTATED.replace("user | team =", "user|team="),
    });
    expect(validated.formattedSchema).toBe(ANNOTATED);
  });

  test("DiffSchema reports a changed annotation as a changed member", async () => {
    const metadata = tenantMetadata("annotated");
    const res = await api.diffSchema(
      {
        schema: ANNOTATED.replace(
          "permission view: user | team",
          "permission view: team | user | doc",
        ),
      },
      { metadata },
    );
    expect(res.diffs.map((d) => [SchemaDiff_Kind[d.kind], d.target])).toEqual([
      ["KIND_MEMBER_CHANGED", "doc#view"],
    ]);
    const reordered = await api.diffSchema(
      { schema: ANNOTATED.replace("permission view: user | team", "permission view: team | user") },
      { metadata },
    );
    expect(reordered.diffs).toEqual([]);
  });

  test("an incomplete annotation under use typechecking is an error with its position", async () => {
    const res = await api.validateSchema({
      schema: ANNOTATED.replace("view: user | team", "view: user"),
    });
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]).toMatchObject({ line: 9, column: 19 });
    await expectCode(
      api.writeSchema({ schema: ANNOTATED.replace("view: user | team", "view: user") }),
      status.INVALID_ARGUMENT,
    );
  });
});

describe("schemas beyond the size limits", () => {
  test("a permission of 10,000 terms is refused with a position, not a stack overflow", async () => {
    const terms = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? "owner" : "viewer"));
    const schema = `definition user {}\ndefinition doc {\n\trelation owner: user\n\trelation viewer: user\n\tpermission view = ${terms.join(" - ")}\n}\n`;
    const res = await api.validateSchema({ schema });
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]?.line).toBe(5);
    const err = await expectCode(api.writeSchema({ schema }), status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^5:\d+: /);
  });

  test("a schema that imports files is refused by the server: imports resolve on the client", async () => {
    const res = await api.validateSchema({
      schema: 'use import\nimport "user.zed"\ndefinition doc {}\n',
    });
    expect(res.errors[0]).toMatchObject({ line: 2, column: 1 });
  });
});
