// Every pass over a schema's tree, from the parser to the engine's reverse graph, handles a
// schema at the limits of `src/schema/schema-limits.ts` without overflowing the stack; beyond
// them the schema is refused with a position, never a RangeError.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SchemaError } from "../src/core/errors.js";
import { EngineSchema } from "../src/engine/engine-schema.js";
import { reverseGraphOf } from "../src/engine/reverse-graph.js";
import { stripSpans } from "../src/schema/ast.js";
import { compileSchemaText } from "../src/schema/compiler.js";
import { formatSchema } from "../src/schema/formatter.js";
import { parseSchema } from "../src/schema/parser.js";
import { diffSchemas } from "../src/schema/schema-diff.js";
import {
  MAX_EXPRESSION_NESTING,
  MAX_PERMISSION_TERMS,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_ITEMS,
} from "../src/schema/schema-limits.js";
import { type EngineFixture, engineFixture } from "./support/engine-fixture.js";
import { generatedSchema } from "./support/generated-schema.js";

/** `aaa op bbb op aaa …` with `n` operands. */
function chain(op: string, n: number): string {
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? "aaa" : "bbb")).join(` ${op} `);
}

/** Parentheses `depth` deep, alternating operators, one operand per level. */
function nested(depth: number): string {
  const ops = ["+", "-", "&"];
  let e = "aaa";
  for (let i = 0; i < depth - 1; i++) e = `bbb ${ops[i % 3]} (${e})`;
  return `(${e})`;
}

/** A schema with a permission at each expression limit, annotated, under `use typechecking`. */
const AT_LIMITS = `use typechecking

definition user {}

definition doc {
	relation parent: doc
	relation aaa: user
	relation bbb: user
	permission excluded: user = ${chain("-", MAX_PERMISSION_TERMS)}
	permission united: user = ${chain("+", MAX_PERMISSION_TERMS - 1)} + parent->united
	permission intersected: user = ${chain("&", MAX_PERMISSION_TERMS)}
	permission deep: user = ${nested(MAX_EXPRESSION_NESTING)}
}
`;

describe("a schema at the expression limits", () => {
  let fixture: EngineFixture;
  beforeAll(async () => {
    fixture = await engineFixture(AT_LIMITS, [
      "doc:d1#aaa@user:ann",
      "doc:d1#bbb@user:ann",
      "doc:d2#parent@doc:d1",
      "doc:d2#bbb@user:bob",
    ]);
  });
  afterAll(() => fixture.close());

  test("parses, compiles, formats to the same tree and diffs", () => {
    const parsed = parseSchema(AT_LIMITS);
    expect(parsed.diagnostics).toEqual([]);
    const schema = compileSchemaText(AT_LIMITS);
    const again = parseSchema(formatSchema(parsed.ast));
    expect(stripSpans(again.ast)).toEqual(stripSpans(parsed.ast));
    const changed = compileSchemaText(AT_LIMITS.replace("aaa & bbb", "bbb & aaa"));
    expect(diffSchemas(schema, changed).map((d) => d.target)).toEqual(["doc#intersected"]);
  });

  test("builds the engine's compiled form and reverse graph", () => {
    const engineSchema = new EngineSchema(compileSchemaText(AT_LIMITS));
    expect(reverseGraphOf(engineSchema).computedReferrers.size).toBeGreaterThan(0);
  });

  test("answers check, expand, lookups", async () => {
    const { engine, tenant } = fixture;
    const check = async (permission: string, id: string, user: string) =>
      (
        await engine.check(tenant, {
          resource: { type: "doc", id },
          permission,
          subject: { type: "user", id: user },
          consistency: "fully_consistent",
        })
      ).permissionship;
    expect(await check("excluded", "d1", "ann")).toBe("DENIED");
    expect(await check("united", "d2", "ann")).toBe("ALLOWED");
    expect(await check("intersected", "d1", "ann")).toBe("ALLOWED");
    expect(await check("deep", "d2", "bob")).toBe("ALLOWED");
    const tree = await engine.expand(tenant, {
      resource: { type: "doc", id: "d1" },
      permission: "excluded",
      consistency: "fully_consistent",
    });
    expect(tree.tree.kind).toBe("exclusion");
    const objects = await engine.listObjects(tenant, {
      resourceType: "doc",
      permission: "united",
      subject: { type: "user", id: "ann" },
      consistency: "fully_consistent",
    });
    expect(objects.objects.map((o) => o.id).sort()).toEqual(["d1", "d2"]);
    const subjects = await engine.listSubjects(tenant, {
      resource: { type: "doc", id: "d1" },
      permission: "intersected",
      subjectType: "user",
      consistency: "fully_consistent",
    });
    expect(subjects.subjects.map((s) => s.id)).toEqual(["ann"]);
  });
});

describe("schemas beyond the limits are SchemaErrors with positions", () => {
  test.each([
    [
      "a permission of 10,000 operands",
      `definition doc {\n\tpermission p1x = ${chain("+", 10_000)}\n}`,
    ],
    [
      "an exclusion chain of 10,000 operands",
      `definition doc {\n\tpermission p1x = ${chain("-", 10_000)}\n}`,
    ],
    ["parentheses 10,000 deep", `definition doc {\n\tpermission p1x = ${nested(10_000)}\n}`],
    [
      "more definitions than the limit",
      Array.from({ length: MAX_SCHEMA_ITEMS * 2 }, (_, i) => `definition d${i}xx {}`).join("\n"),
    ],
    ["a text over the byte limit", `definition user {}\n//${"x".repeat(MAX_SCHEMA_BYTES)}`],
  ])("%s", (_title, text) => {
    let caught: unknown;
    try {
      compileSchemaText(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SchemaError);
    const e = caught as SchemaError;
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.column).toBeGreaterThanOrEqual(1);
  });

  test("a long chain of usersets and of permissions compiles without recursion", () => {
    const n = MAX_SCHEMA_ITEMS - 1;
    const defs = ["definition user {}"];
    for (let i = 0; i < n; i++) {
      const next = i === n - 1 ? "user" : `t${i + 1}xx#rel`;
      defs.push(`definition t${i}xx {\n\trelation rel: ${next}\n}`);
    }
    expect(compileSchemaText(defs.join("\n")).definitions.size).toBe(n + 1);
    const perms = Array.from({ length: 3000 }, (_, i) =>
      i === 2999 ? `\tpermission p${i}xx = aaa` : `\tpermission p${i}xx = p${i + 1}xx`,
    );
    const text = `definition user {}\ndefinition doc {\n\trelation aaa: user\n${perms.join("\n")}\n}`;
    expect(compileSchemaText(text).definitions.get("doc")!.members.size).toBe(3001);
  });
});

describe("a schema at the size limit", () => {
  test("of realistic definitions compiles, and fits the limit", () => {
    let n = 100;
    while (Buffer.byteLength(generatedSchema(n + 100)) <= MAX_SCHEMA_BYTES) n += 100;
    const text = generatedSchema(n);
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_SCHEMA_BYTES * 0.75);
    const schema = compileSchemaText(text);
    expect(reverseGraphOf(new EngineSchema(schema)).holders.size).toBeGreaterThan(0);
  });
});
