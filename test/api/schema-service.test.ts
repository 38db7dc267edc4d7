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
