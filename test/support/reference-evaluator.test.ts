import { describe, expect, test } from "vitest";
import { parseObjectRef, parseRelationship, parseSubjectRef } from "../../src/core/relationship.js";
import { compileSchemaText } from "../../src/schema/compiler.js";
import { ReferenceEvaluator } from "./reference-evaluator.js";

const NOW = Date.UTC(2030, 0, 1);

function reference(schema: string, tuples: string[], context?: Record<string, unknown>) {
  const evaluator = new ReferenceEvaluator({
    schema: compileSchemaText(schema),
    tuples: tuples.map((t) => parseRelationship(t)),
    now: NOW,
    ...(context !== undefined ? { context } : {}),
  });
  return (query: string) => {
    const [head, subject] = query.split("@") as [string, string];
    const hash = head.indexOf("#");
    return evaluator.check(
      parseObjectRef(head.slice(0, hash)),
      head.slice(hash + 1),
      parseSubjectRef(subject),
    );
  };
}

const ALLOWED = { permissionship: "ALLOWED" };
const DENIED = { permissionship: "DENIED" };

describe("the reference evaluator", () => {
  const groups = `
    definition user {}
    definition group {
      relation member: user | group#member
    }`;

  test("finds members of groups that contain each other and denies everyone else", () => {
    const check = reference(groups, [
      "group:a#member@group:b#member",
      "group:b#member@group:c#member",
      "group:c#member@group:a#member",
      "group:c#member@user:alice",
    ]);
    for (const g of ["a", "b", "c"]) {
      expect(check(`group:${g}#member@user:alice`)).toEqual(ALLOWED);
      expect(check(`group:${g}#member@user:bob`)).toEqual(DENIED);
    }
    // A userset subject is in itself, and in every group that includes it.
    expect(check("group:a#member@group:a#member")).toEqual(ALLOWED);
    expect(check("group:a#member@group:c#member")).toEqual(ALLOWED);
  });

  test("gives a cycle with no grant in it the least answer: denied", () => {
    const check = reference(groups, [
      "group:a#member@group:b#member",
      "group:b#member@group:a#member",
    ]);
    expect(check("group:a#member@user:alice")).toEqual(DENIED);
  });

  test("subtracts banned users, also from a wildcard", () => {
    const check = reference(
      `definition user {}
       definition doc {
         relation viewer: user | user:*
         relation banned: user
         permission view = viewer - banned
       }`,
      ["doc:1#viewer@user:*", "doc:1#banned@user:mallory"],
    );
    expect(check("doc:1#view@user:alice")).toEqual(ALLOWED);
    expect(check("doc:1#view@user:mallory")).toEqual(DENIED);
  });

  test("settles an exclusion whose base runs through a cycle without keeping an early grant", () => {
    // Before `banned` is known, `view` looks granted; the grant must not survive around the
    // folder cycle once `banned` takes it away.
    const check = reference(
      `definition user {}
       definition folder {
         relation parent: folder
         relation viewer: user
         relation banned: user
         permission direct = viewer - banned
         permission view = direct + parent->view
       }`,
      [
        "folder:a#parent@folder:b",
        "folder:b#parent@folder:a",
        "folder:a#viewer@user:alice",
        "folder:a#banned@user:alice",
      ],
    );
    expect(check("folder:a#view@user:alice")).toEqual(DENIED);
    expect(check("folder:b#view@user:alice")).toEqual(DENIED);
  });

  test("requires every target of an .all arrow, and at least one", () => {
    const check = reference(
      `definition user {}
       definition team {
         relation member: user
       }
       definition doc {
         relation team: team
         permission view = team.all(member)
       }`,
      [
        "doc:1#team@team:x",
        "doc:1#team@team:y",
        "team:x#member@user:alice",
        "team:y#member@user:alice",
        "team:x#member@user:bob",
      ],
    );
    expect(check("doc:1#view@user:alice")).toEqual(ALLOWED);
    expect(check("doc:1#view@user:bob")).toEqual(DENIED);
    expect(check("doc:2#view@user:alice")).toEqual(DENIED);
  });

  test("answers CONDITIONAL with the missing parameters when the context does not decide", () => {
    const schema = `
      caveat in_range(x int, limit int) { x < limit }
      caveat flag(a bool, b bool) { a || b }
      definition user {}
      definition doc {
        relation viewer: user with in_range | user with flag
        relation editor: user with flag
        permission view = viewer & editor
      }`;
    const tuples = [
      'doc:1#viewer@user:alice[in_range:{"limit":5}]',
      "doc:1#editor@user:alice[flag]",
    ];
    expect(reference(schema, tuples)("doc:1#view@user:alice")).toEqual({
      permissionship: "CONDITIONAL",
      missing: ["a", "b", "x"],
    });
    // The tuple's own context and the request's combine; one known `true` decides `a || b`.
    expect(reference(schema, tuples, { x: 3, a: true })("doc:1#view@user:alice")).toEqual(ALLOWED);
    expect(reference(schema, tuples, { x: 9, a: true })("doc:1#view@user:alice")).toEqual(DENIED);
    expect(reference(schema, tuples, { a: true })("doc:1#view@user:alice")).toEqual({
      permissionship: "CONDITIONAL",
      missing: ["x"],
    });
  });

  test("ignores tuples that expired at or before now", () => {
    const check = reference(
      `use expiration
       definition user {}
       definition doc {
         relation viewer: user with expiration
       }`,
      [
        "doc:1#viewer@user:old[expiration:2029-12-31T23:59:00Z]",
        "doc:1#viewer@user:edge[expiration:2030-01-01T00:00:00Z]",
        "doc:1#viewer@user:new[expiration:2030-01-01T00:00:01Z]",
      ],
    );
    expect(check("doc:1#viewer@user:old")).toEqual(DENIED);
    expect(check("doc:1#viewer@user:edge")).toEqual(DENIED);
    expect(check("doc:1#viewer@user:new")).toEqual(ALLOWED);
  });

  test("grants self only to the object itself, not to its usersets", () => {
    const check = reference(
      `use self
       definition user {
         relation friend: user
         permission itself = self
       }`,
      ["user:alice#friend@user:bob"],
    );
    expect(check("user:alice#itself@user:alice")).toEqual(ALLOWED);
    expect(check("user:alice#itself@user:bob")).toEqual(DENIED);
    expect(check("user:alice#itself@user:alice#friend")).toEqual(DENIED);
  });

  test("reports data cycles a missing list may depend on", () => {
    const schema = compileSchemaText(groups);
    const evaluator = new ReferenceEvaluator({
      schema,
      tuples: [
        "group:a#member@group:b#member",
        "group:b#member@group:a#member",
        "group:c#member@group:a#member",
      ].map((t) => parseRelationship(t)),
      now: NOW,
    });
    expect(evaluator.dependsOnCycle(parseObjectRef("group:c"), "member")).toBe(true);
    expect(evaluator.dependsOnCycle(parseObjectRef("group:d"), "member")).toBe(false);
  });
});
