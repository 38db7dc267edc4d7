import { describe, expect, test } from "vitest";
import { generatedSchema } from "../../test/support/generated-schema.js";
import { SchemaError } from "../core/errors.js";
import { compileSchema, compileSchemaText } from "./compiler.js";
import { formatSchema } from "./formatter.js";
import { parseSchema } from "./parser.js";
import { MAX_CAVEAT_TEXT, MAX_CAVEATS } from "./schema-limits.js";

const DESIGN_EXAMPLE = `
/** doc comments are kept */
use expiration

caveat ip_allowed(user_ip ipaddress, cidr string) { user_ip.in_cidr(cidr) }

definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation viewer: user | user:* | group#member | user with ip_allowed | user with expiration
    permission view = viewer + parent->view
}

definition document {
    relation folder: folder
    relation owner: user
    relation banned: user
    permission edit = owner
    permission view = (edit + folder->view) - banned
    permission audit = edit & folder.all(view)
}
`;

function diagnosticsOf(text: string) {
  const parsed = parseSchema(text);
  expect(parsed.diagnostics).toEqual([]);
  return compileSchema(parsed.ast).diagnostics;
}

describe("compiler: valid schemas", () => {
  test("compiles the design example into the type system", () => {
    const schema = compileSchemaText(DESIGN_EXAMPLE);
    expect([...schema.definitions.keys()]).toEqual(["user", "group", "folder", "document"]);
    expect([...schema.caveats.keys()]).toEqual(["ip_allowed"]);
    expect(schema.features.has("expiration")).toBe(true);
    const doc = schema.definitions.get("document")!;
    expect(doc.members.get("view")).toEqual({
      kind: "permission",
      name: "view",
      definition: "document",
      rewrite: {
        kind: "exclusion",
        base: {
          kind: "union",
          children: [
            { kind: "computed", member: "edit" },
            { kind: "arrow", tupleset: "folder", computed: "view", mode: "any" },
          ],
        },
        subtract: { kind: "computed", member: "banned" },
      },
    });
    expect(doc.members.get("audit")).toMatchObject({
      rewrite: {
        kind: "intersection",
        children: [
          { kind: "computed", member: "edit" },
          { kind: "arrow", tupleset: "folder", computed: "view", mode: "all" },
        ],
      },
    });
    const folder = schema.definitions.get("folder")!;
    expect(folder.members.get("viewer")).toMatchObject({
      kind: "relation",
      allowed: [
        { type: "user", wildcard: false, expiration: false },
        { type: "user", wildcard: true, expiration: false },
        { type: "group", relation: "member", wildcard: false, expiration: false },
        { type: "user", wildcard: false, caveat: "ip_allowed", expiration: false },
        { type: "user", wildcard: false, expiration: true },
      ],
    });
  });

  test("flattens chains of the same operator and normalizes #... to the object itself", () => {
    const schema = compileSchemaText(`
      definition user {}
      definition doc {
        relation aaa: user#...
        relation bbb: user
        relation ccc: user
        permission ppp = aaa + bbb + ccc
        permission qqq = aaa & (bbb & ccc)
        permission rrr = nil
      }`);
    const doc = schema.definitions.get("doc")!;
    const children = (name: string) => {
      const m = doc.members.get(name);
      if (m?.kind !== "permission" || !("children" in m.rewrite)) throw new Error(name);
      return m.rewrite.children;
    };
    expect(children("ppp")).toHaveLength(3);
    expect(children("qqq")).toHaveLength(3);
    expect(doc.members.get("rrr")).toMatchObject({ rewrite: { kind: "nil" } });
    expect(doc.members.get("aaa")).toMatchObject({
      allowed: [{ type: "user", wildcard: false, expiration: false }],
    });
  });

  test("accepts a relation that includes a permission of another type as a userset", () => {
    expect(
      diagnosticsOf(`
      definition user {}
      definition team {
        relation lead: user
        permission any_member = lead
      }
      definition doc { relation viewer: team#any_member }`),
    ).toEqual([]);
  });

  test("accepts an arrow whose target exists on only one of several subject types", () => {
    expect(
      diagnosticsOf(`
      definition user {}
      definition folder { relation viewer: user }
      definition org {}
      definition doc {
        relation parent: folder | org
        permission view = parent->viewer
      }`),
    ).toEqual([]);
  });

  test("accepts an arrow whose target no subject type defines, as SpiceDB does", () => {
    expect(
      diagnosticsOf(`
      definition user {}
      definition folder {}
      definition doc {
        relation parent: folder | user
        permission view = parent->view
        permission every = parent.all(view)
      }`),
    ).toEqual([]);
  });

  test("accepts a userset of its own definition that reaches a wildcard, as SpiceDB does", () => {
    // SpiceDB refuses a wildcard reached through another definition's userset only.
    expect(() =>
      compileSchemaText(
        "definition user {}\ndefinition group {\n  relation owner: group#parent\n  relation parent: user:*\n}",
      ),
    ).not.toThrow();
  });

  test("accepts a permission that recurses through an arrow", () => {
    expect(
      diagnosticsOf(`
      definition user {}
      definition folder {
        relation parent: folder
        relation viewer: user
        permission view = viewer + parent->view
      }`),
    ).toEqual([]);
  });

  test("accepts complete type annotations under use typechecking", () => {
    expect(
      diagnosticsOf(`use typechecking
      definition user {}
      definition team {}
      definition group {
        relation member: user | group#member
      }
      definition doc {
        relation parent: doc
        relation viewer: group#member | team
        permission view: user | team = viewer + parent->view
        permission edit: team | user = view & viewer
      }`),
    ).toEqual([]);
  });

  test("accepts annotated types that are unknown or unreachable, as SpiceDB does", () => {
    const text = `definition user {}
      definition doc {
        relation viewer: user
        permission view: user | ghost = viewer
      }`;
    expect(diagnosticsOf(text)).toEqual([]);
    expect(diagnosticsOf(`use typechecking\n${text}`)).toEqual([]);
  });

  test("leaves annotations unchecked without use typechecking", () => {
    expect(
      diagnosticsOf(`definition user {}
      definition team {}
      definition doc {
        relation viewer: team
        permission view: user = viewer
      }`),
    ).toEqual([]);
  });

  test("splices partials into definitions, in place, and drops the partials", () => {
    const schema = compileSchemaText(`use partial
      partial viewable {
        relation viewer: user
        permission view = viewer
      }
      definition user {}
      definition doc {
        relation owner: user
        ...viewable
        permission edit = owner
      }`);
    expect([...schema.definitions.get("doc")!.members.keys()]).toEqual([
      "owner",
      "viewer",
      "view",
      "edit",
    ]);
    expect(schema.ast.items.map((i) => i.kind)).toEqual(["definition", "definition"]);
    expect(formatSchema(schema.ast)).not.toMatch(/partial/);
  });

  test("compiles a 200-definition generated schema", () => {
    expect(compileSchemaText(generatedSchema(200)).definitions.size).toBe(201);
  });
});

describe("compiler: semantic errors name the thing and its position", () => {
  test.each([
    [
      "an unknown subject type",
      "definition doc {\n  relation owner: usr\n}",
      2,
      19,
      /unknown type 'usr'/,
    ],
    [
      "an unknown relation on a userset subject type",
      "definition group { relation member: group }\ndefinition doc {\n  relation editor: group#membr\n}",
      3,
      20,
      /'membr' not found on definition group/,
    ],
    [
      "an unknown relation in a permission",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  permission perm = owner + missing\n}",
      4,
      29,
      /unknown relation or permission 'missing'/,
    ],
    [
      "an unknown caveat",
      "definition user {}\ndefinition doc { relation rel: user with nope }",
      2,
      32,
      /unknown caveat 'nope'/,
    ],
    [
      "a duplicate definition",
      "definition user {}\ndefinition user {}",
      2,
      12,
      /duplicate name 'user'/,
    ],
    [
      "a caveat named like a definition",
      "definition user {}\ncaveat user(a int) { a > 1 }",
      2,
      8,
      /duplicate name 'user'/,
    ],
    [
      "a duplicate caveat",
      "caveat cav(a int) { a > 1 }\ncaveat cav(a int) { a > 2 }",
      2,
      8,
      /duplicate name 'cav'/,
    ],
    [
      "a duplicate relation",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  relation owner: user\n}",
      4,
      12,
      /duplicate relation\/permission name 'owner'/,
    ],
    [
      "a relation named like a permission",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  permission owner = owner\n}",
      4,
      14,
      /duplicate relation\/permission name 'owner'/,
    ],
    [
      "an arrow over a permission",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  permission edit = owner\n  permission view = edit->owner\n}",
      5,
      21,
      /permissions cannot be used on the left side of an arrow/,
    ],
    [
      "an arrow over an unknown relation",
      "definition user {}\ndefinition doc {\n  permission view = parent->owner\n}",
      3,
      21,
      /unknown relation 'parent'/,
    ],
    [
      "an arrow over a relation that allows a wildcard",
      "definition user { relation xxx: user }\ndefinition doc {\n  relation parent: user | user:*\n  permission view = parent->xxx\n}",
      4,
      21,
      /allows the wildcard user:\*/,
    ],
    [
      "an arrow over a relation that reaches a wildcard through a userset of its own definition",
      "definition user {}\ndefinition doc {\n  relation parent: doc#pp2\n  relation pp2: doc | user:*\n  permission view = parent->view\n}",
      5,
      21,
      /allows the wildcard user:\* \(via doc#pp2\), so it cannot be the left side of an arrow/,
    ],
    [
      "a wildcard included through a userset",
      "definition user {}\ndefinition group { relation member: user | user:* }\ndefinition doc {\n  relation viewer: group#member\n}",
      4,
      20,
      /includes group#member, which allows the wildcard user:\*/,
    ],
    [
      "a permission that names itself",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  permission self = self + owner\n}",
      4,
      14,
      /reaches itself through permissions only \(self -> self\)/,
    ],
    [
      "two permissions that name each other",
      "definition user {}\ndefinition doc {\n  relation owner: user\n  permission aaa = bbb + owner\n  permission bbb = aaa & owner\n}",
      4,
      14,
      /aaa -> bbb -> aaa/,
    ],
    [
      "with expiration without use expiration",
      "definition user {}\ndefinition doc {\n  relation viewer: user with expiration\n}",
      3,
      20,
      /needs 'use expiration'/,
    ],
    [
      "an unknown feature in use",
      "use teleportation\ndefinition user {}",
      1,
      1,
      /unknown feature 'teleportation'/,
    ],
    [
      "an upper-case relation name",
      "definition user {}\ndefinition doc {\n  relation Owner: user\n}",
      3,
      12,
      /invalid relation name 'Owner'/,
    ],
    ["a two-letter definition name", "definition ab {}", 1, 12, /invalid definition name 'ab'/],
    [
      "a duplicate subject type",
      "definition user {}\ndefinition doc {\n  relation viewer: user | user\n}",
      3,
      27,
      /duplicate subject type/,
    ],
    ["an unknown caveat parameter type", "caveat cav(a integer) { a > 1 }", 1, 14, /integer/],
    ["a duplicate caveat parameter", "caveat cav(a int, a string) { a > 1 }", 1, 19, /\ba\b/],
    [
      "a caveat expression that does not compile",
      "caveat cav(a int) {\n  a >\n}",
      2,
      undefined,
      /cav/,
    ],
    [
      "an annotation that leaves out a type reached through a userset",
      "use typechecking\ndefinition user {}\ndefinition group { relation member: user }\ndefinition doc {\n  relation viewer: group#member\n  permission view: group = viewer\n}",
      6,
      20,
      /incomplete type annotation on permission doc#view: it can reach 'user'/,
    ],
    [
      "an annotation that leaves out a type reached through an arrow",
      "use typechecking\ndefinition user {}\ndefinition team {}\ndefinition folder {\n  relation viewer: user | team\n  permission view = viewer\n}\ndefinition doc {\n  relation parent: folder\n  permission view: user = parent->view\n}",
      10,
      20,
      /'team'/,
    ],
    [
      "an annotation that leaves out a type on the subtracted side",
      "use typechecking\ndefinition user {}\ndefinition team {}\ndefinition doc {\n  relation viewer: user\n  relation banned: team\n  permission view: user = viewer - banned\n}",
      7,
      20,
      /'team'/,
    ],
    [
      "an unknown partial",
      "use partial\ndefinition doc {\n  ...nowhere\n}",
      3,
      6,
      /unknown partial 'nowhere'/,
    ],
    [
      "a partial reference to a definition",
      "use partial\ndefinition user {}\ndefinition doc {\n  ...user\n}",
      4,
      6,
      /names a definition/,
    ],
    [
      "partials that reference each other",
      "use partial\npartial aaa {\n  ...bbb\n}\npartial bbb {\n  ...aaa\n}",
      6,
      6,
      /cycle \(aaa -> bbb -> aaa\)/,
    ],
    [
      "a partial that brings a member the definition has",
      "use partial\ndefinition user {}\npartial ppp {\n  relation owner: user\n}\ndefinition doc {\n  relation owner: user\n  ...ppp\n}",
      8,
      6,
      /brings 'owner'/,
    ],
    [
      "a partial named like a caveat",
      "use partial\ncaveat ppp(a int) { a > 1 }\npartial ppp {}",
      3,
      9,
      /has the name of a caveat/,
    ],
    [
      "an unresolved import",
      'use import\nimport "user.zed"\ndefinition doc {}',
      2,
      1,
      /compile the schema first/,
    ],
    [
      `more than ${MAX_CAVEATS} caveats`,
      Array.from({ length: MAX_CAVEATS + 1 }, (_, i) => `caveat cav${i}(a int) { a > 1 }`).join(
        "\n",
      ),
      MAX_CAVEATS + 1,
      8,
      new RegExp(`more than ${MAX_CAVEATS} caveats`),
    ],
    [
      `caveat expressions of more than ${MAX_CAVEAT_TEXT} characters`,
      Array.from(
        { length: 3 },
        (_, i) => `caveat cav${i}(a int) {\n  ${"a > 1 || ".repeat(MAX_CAVEAT_TEXT / 20)}a > 2\n}`,
      ).join("\n"),
      8,
      3,
      new RegExp(`more than ${MAX_CAVEAT_TEXT} characters`),
    ],
  ])("refuses %s", (_title, text, line, column, message) => {
    const diagnostics = diagnosticsOf(text);
    expect(diagnostics.length).toBeGreaterThan(0);
    const first = diagnostics[0]!;
    expect(first.position.line).toBe(line);
    if (column !== undefined) expect(first.position.column).toBe(column);
    expect(first.message).toMatch(message);
  });

  test("compileSchemaText throws a SchemaError listing every problem", () => {
    try {
      compileSchemaText("definition doc {\n  relation aaa: nope\n  relation bbb: nada\n}");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SchemaError);
      const e = err as SchemaError;
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.diagnostics.map((d) => d.position.line)).toEqual([2, 3]);
      expect([e.line, e.column]).toEqual([2, 17]);
    }
  });
});
