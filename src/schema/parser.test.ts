import { describe, expect, test } from "vitest";
import { type ExprNode, stripSpans } from "./ast.js";
import { formatExpr } from "./formatter.js";
import { parseSchema } from "./parser.js";

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
