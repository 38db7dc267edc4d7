import { describe, expect, test } from "vitest";
import { type ExprNode, stripSpans } from "./ast.js";
import { formatExpr } from "./formatter.js";
import { parseSchema } from "./parser.js";
import {
  MAX_EXPRESSION_NESTING,
  MAX_PERMISSION_TERMS,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_ITEMS,
} from "./schema-limits.js";

function permissionExpr(body: string): ExprNode {
  const { ast, diagnostics } = parseSchema(`definition d1x { permission p = ${body} }`);
  expect(diagnostics).toEqual([]);
  const def = ast.items[0];
  if (def?.kind !== "definition" || def.members[0]?.kind !== "permission") {
    throw new Error("expected a permission");
  }
  return def.members[0].expr;
}

/** Fully parenthesized rendering, to read the tree's shape. */
function shape(e: ExprNode): string {
  switch (e.kind) {
    case "union":
      return `(${shape(e.left)} + ${shape(e.right)})`;
    case "intersection":
      return `(${shape(e.left)} & ${shape(e.right)})`;
    case "exclusion":
      return `(${shape(e.left)} - ${shape(e.right)})`;
    default:
      return formatExpr(e);
  }
}

describe("parser: valid constructs", () => {
  test.each([
    ["a + b + c", "((a + b) + c)"],
    ["a - b - c", "((a - b) - c)"],
    ["a & b & c", "((a & b) & c)"],
    ["a + b - c", "((a + b) - c)"],
    ["a - b + c", "(a - (b + c))"],
    ["a & b + c", "(a & (b + c))"],
    ["a - b & c", "(a - (b & c))"],
    ["(a - b) + c", "((a - b) + c)"],
    ["a->b + c.any(d) - e.all(f)", "((a->b + c.any(d)) - e.all(f))"],
    ["nil + a", "(nil + a)"],
    ["((a))", "a"],
    ["a +\n b", "(a + b)"],
  ])("reads %j with SpiceDB's precedence as %s", (body, expected) => {
    expect(shape(permissionExpr(body))).toBe(expected);
  });

  test("reads every subject type form of a relation", () => {
    const { ast, diagnostics } = parseSchema(
      `use expiration
      definition doc {
        relation r: user | user:* | group#member | group#... | user with cav | user with cav and expiration | user with expiration | a/b/c
      }`,
    );
    expect(diagnostics).toEqual([]);
    const def = ast.items[0];
    expect(def?.kind).toBe("definition");
    if (def?.kind !== "definition" || def.members[0]?.kind !== "relation") return;
    expect(stripSpans(def.members[0].types)).toEqual([
      { kind: "typeRef", type: "user", wildcard: false, expiration: false },
      { kind: "typeRef", type: "user", wildcard: true, expiration: false },
      { kind: "typeRef", type: "group", relation: "member", wildcard: false, expiration: false },
      { kind: "typeRef", type: "group", relation: "...", wildcard: false, expiration: false },
      { kind: "typeRef", type: "user", wildcard: false, caveat: "cav", expiration: false },
      { kind: "typeRef", type: "user", wildcard: false, caveat: "cav", expiration: true },
      { kind: "typeRef", type: "user", wildcard: false, expiration: true },
      { kind: "typeRef", type: "a/b/c", wildcard: false, expiration: false },
    ]);
  });

  test("keeps the caveat expression as written and locates it", () => {
    const text = 'caveat c1x(a int, b list<map<string>>) {\n  a > 1 &&\n    b[0]["k"] == "}"\n}';
    const { ast, diagnostics } = parseSchema(text);
    expect(diagnostics).toEqual([]);
    const c = ast.items[0];
    if (c?.kind !== "caveat") throw new Error("expected a caveat");
    expect(c.expression).toBe('a > 1 &&\n    b[0]["k"] == "}"');
    expect(c.expressionSpan.start).toEqual({ line: 2, column: 3, offset: 43 });
    expect(c.params.map((p) => p.name)).toEqual(["a", "b"]);
    expect(stripSpans(c.params[1]?.type)).toEqual({
      kind: "caveatType",
      name: "list",
      args: [
        {
          kind: "caveatType",
          name: "map",
          args: [{ kind: "caveatType", name: "string", args: [] }],
        },
      ],
    });
  });

  test("attaches doc comments to the node that follows them", () => {
    const { ast } = parseSchema(
      "/** the user */\ndefinition user {\n  // owner\n  relation owner: user\n}",
    );
    const def = ast.items[0];
    if (def?.kind !== "definition") throw new Error("expected a definition");
    expect(def.comments).toEqual(["/** the user */"]);
    expect(def.members[0]?.comments).toEqual(["// owner"]);
  });

  test("accepts semicolons as statement ends", () => {
    const { ast, diagnostics } = parseSchema(
      "definition user {}; definition doc { relation a: user; permission b = a; }",
    );
    expect(diagnostics).toEqual([]);
    expect(ast.items).toHaveLength(2);
  });

  test("keeps a permission's type annotation, however it is spaced", () => {
    const { ast, diagnostics } = parseSchema(
      "definition doc {\n  permission a: user = b\n  permission c : user|group =d\n  permission e:\n    user |\n    team = f\n}",
    );
    expect(diagnostics).toEqual([]);
    const def = ast.items[0];
    if (def?.kind !== "definition") throw new Error("expected a definition");
    expect(
      def.members.map((m) => (m.kind === "permission" ? m.annotation?.map((t) => t.type) : [])),
    ).toEqual([["user"], ["user", "group"], ["user", "team"]]);
    const first = def.members[0];
    if (first?.kind !== "permission") throw new Error("expected a permission");
    expect(first.annotation?.[0]?.span.start).toMatchObject({ line: 2, column: 17 });
  });

  test("reads partials, partial references and imports under their use", () => {
    const { ast, diagnostics } = parseSchema(
      "use partial\nuse import\nimport \"a/b.zed\"\nimport 'c.zed'\npartial p1x {\n  relation r: user\n  ... p2x\n}\ndefinition doc {\n  ...p1x; relation s: user\n}",
    );
    expect(diagnostics).toEqual([]);
    expect(ast.imports.map((i) => i.path)).toEqual(["a/b.zed", "c.zed"]);
    expect(stripSpans(ast.items)).toMatchObject([
      {
        kind: "partial",
        name: "p1x",
        members: [
          { kind: "relation", name: "r" },
          { kind: "partialRef", name: "p2x" },
        ],
      },
      {
        kind: "definition",
        name: "doc",
        members: [
          { kind: "partialRef", name: "p1x" },
          { kind: "relation", name: "s" },
        ],
      },
    ]);
  });

  test("accepts a feature used twice, as SpiceDB does", () => {
    expect(
      parseSchema("use typechecking\nuse typechecking\ndefinition user {}").diagnostics,
    ).toEqual([]);
  });

  test("keeps feature words as names where no use made them keywords", () => {
    const { diagnostics } = parseSchema(
      "caveat expiration(a int) { a > 1 }\ndefinition partial {}\ndefinition doc {\n  relation typechecking: partial\n  relation import: partial\n  permission p = typechecking + import\n}",
    );
    expect(diagnostics).toEqual([]);
  });

  test("locates a definition name", () => {
    const { ast } = parseSchema("\n  definition   abc {}");
    expect(ast.items[0]?.nameSpan.start).toEqual({ line: 2, column: 16, offset: 16 });
  });
});

describe("parser: syntax errors carry line:column", () => {
  test.each([
    ["definition {}", 1, 12],
    ["definition doc { relation owner user }", 1, 33],
    ["definition doc { relation owner: }", 1, 34],
    ["definition doc {\n  relation owner: user\n  | group\n}", 3, 3],
    ["definition doc {\n  permission p = a\n  + b\n}", 3, 3],
    ["definition doc { permission p = a -> }", 1, 38],
    ["definition doc { permission p = a->b->c }", 1, 37],
    ["definition doc { permission p = a.some(b) }", 1, 35],
    ["definition doc { permission p = (a + b }", 1, 40],
    ["definition doc { relation r: user:*#member }", 1, 36],
    ["definition doc { relation r: group#member:* }", 1, 42],
    ["definition doc { relation r: user with expiration and cav }", 1, 51],
    ["definition doc { relation r: user with cav and }", 1, 48],
    ["definition doc { relation owner: user", 1, 38],
    ["definition doc { relation owner: user $ }", 1, 39],
    ["caveat c1x(a int { a }", 1, 18],
    ["caveat c1x(a int) { a > 1", 1, 20],
    ["caveat c1x(a int) {}", 1, 20],
    ["caveat c1x(a list<int) { a }", 1, 22],
    ["definition doc {} /* never closed", 1, 19],
    ["permission p = a", 1, 1],
    ["use", 1, 4],
    ["definition doc { permission p: = a }", 1, 32],
    ["definition doc { permission p: user | = a }", 1, 39],
    ["definition doc { permission p: user & group = a }", 1, 37],
    ["definition doc { permission p: a/user = a }", 1, 33],
    ["definition doc { permission p: user#member = a }", 1, 36],
    ["definition doc { permission p: user:* = a }", 1, 36],
    ["use expiration\ncaveat expiration(a int) { a }", 2, 8],
    ["use expiration\ncaveat cav(expiration int) { a }", 2, 12],
    ["use expiration\ndefinition expiration {}", 2, 12],
    ["use expiration\ndefinition expiration/doc {}", 2, 12],
    ["use expiration\ndefinition doc { relation r: expiration }", 2, 30],
    ["use typechecking\ndefinition doc { relation typechecking: doc }", 2, 27],
    ["use self\ndefinition doc { permission self = nil }", 2, 29],
    ["definition user {}\nuse expiration", 2, 1],
    ["caveat cav(a int) { a > 1 }\nuse typechecking", 2, 1],
    ["partial p1x {}", 1, 1],
    ["definition doc { ...p1x }", 1, 18],
    ['import "x.zed"', 1, 1],
    ["use import\nimport x.zed", 2, 8],
    ['use import\nimport "x.zed', 2, 8],
    ["use import\nimport\n'x.zed'", 3, 1],
    ["use partial\ndefinition doc { ...p1x relation r: user }", 2, 25],
    ["use partial\npartial p/q {}", 2, 10],
    ["use partial\ndefinition doc { ... }", 2, 22],
    ["use partial\npartial expiration {}\nuse expiration", 3, 1],
  ])("%j fails at %i:%i", (text, line, column) => {
    const { diagnostics } = parseSchema(text);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics[0]?.position).toMatchObject({ line, column });
  });

  test("reports every broken statement in one run and keeps the good ones", () => {
    const { ast, diagnostics } = parseSchema(
      [
        "definition doc {",
        "  relation owner user",
        "  relation reader: user",
        "  permission p = reader +",
        "  permission q = reader $ owner",
        "  permission ok = reader",
        "}",
        "definition user {}",
      ].join("\n"),
    );
    expect(diagnostics.map((d) => d.position.line)).toEqual([2, 5, 5]);
    const [doc, user] = ast.items;
    if (doc?.kind !== "definition") throw new Error("expected a definition");
    expect(doc.members.map((m) => m.name)).toEqual(["reader", "p", "ok"]);
    expect(user?.name).toBe("user");
  });
});

describe("parser: sizes beyond the schema limits are refused with a position", () => {
  test(`a permission of more than ${MAX_PERMISSION_TERMS} operands`, () => {
    const terms = Array.from({ length: 10_000 }, () => "aaa").join(" + ");
    const { diagnostics } = parseSchema(`definition doc {\n  permission ppp = ${terms}\n}`);
    expect(diagnostics).toHaveLength(1);
    // The first operand over the limit: 6 characters ("aaa + ") per operand after column 20.
    expect(diagnostics[0]?.position).toMatchObject({
      line: 2,
      column: 20 + 6 * MAX_PERMISSION_TERMS,
    });
  });

  test(`exactly ${MAX_PERMISSION_TERMS} operands are fine, in any mix of operators`, () => {
    const ops = ["+", "-", "&"];
    const terms = Array.from({ length: MAX_PERMISSION_TERMS }, (_, i) =>
      i === 0 ? "aaa" : `${ops[i % 3]} aaa`,
    ).join(" ");
    expect(parseSchema(`definition doc { permission ppp = ${terms} }`).diagnostics).toEqual([]);
  });

  test(`parentheses more than ${MAX_EXPRESSION_NESTING} deep`, () => {
    const depth = MAX_EXPRESSION_NESTING + 1;
    const text = `definition doc { permission ppp = ${"(".repeat(depth)}aaa${")".repeat(depth)} }`;
    const { diagnostics } = parseSchema(text);
    expect(diagnostics[0]?.position).toMatchObject({
      line: 1,
      column: 35 + MAX_EXPRESSION_NESTING,
    });
  });

  test("the nesting count starts afresh after a broken permission", () => {
    const deep = `${"(".repeat(MAX_EXPRESSION_NESTING)}aaa${")".repeat(MAX_EXPRESSION_NESTING)}`;
    const broken = Array.from({ length: 10 }, () => `  permission bad = ${"(".repeat(20)}aaa $`);
    const text = `definition doc {\n${broken.join("\n")}\n  permission ok = ${deep}\n}`;
    const lines = parseSchema(text).diagnostics.map((d) => d.position.line);
    expect(lines.every((l) => l <= 11)).toBe(true);
  });

  test(`a schema text over ${MAX_SCHEMA_BYTES} bytes`, () => {
    const text = `definition user {}\n${"// padding\n".repeat(MAX_SCHEMA_BYTES / 8)}`;
    const { ast, diagnostics } = parseSchema(text);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.position).toMatchObject({ line: 1, column: 1 });
    expect(ast.items).toEqual([]);
  });

  test(`more than ${MAX_SCHEMA_ITEMS} definitions, caveats and partials`, () => {
    const defs = Array.from({ length: MAX_SCHEMA_ITEMS + 5 }, (_, i) => `definition d${i}xx {}`);
    const { ast, diagnostics } = parseSchema(defs.join("\n"));
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.position).toMatchObject({ line: MAX_SCHEMA_ITEMS + 1, column: 1 });
    expect(ast.items).toHaveLength(MAX_SCHEMA_ITEMS);
  });
});
