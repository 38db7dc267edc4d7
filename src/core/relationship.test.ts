import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { propertyParameters } from "../../test/support/property-runs.js";
import { relationship } from "../../test/support/relationship-arbitrary.js";
import {
  formatRelationship,
  parseRelationship,
  parseSubjectRef,
  relationshipKey,
} from "./relationship.js";

describe("relationship string form", () => {
  test.each([
    [
      "document:1#viewer@user:alice",
      {
        resource: { type: "document", id: "1" },
        relation: "viewer",
        subject: { type: "user", id: "alice" },
      },
    ],
    [
      "document:1#viewer@group:eng#member",
      { subject: { type: "group", id: "eng", relation: "member" } },
    ],
    ["document:1#viewer@user:*", { subject: { type: "user", id: "*" } }],
    ["document:1#viewer@user:alice#...", { subject: { type: "user", id: "alice" } }],
    [
      "acme/docs/doc:a/b|c=d+e@f.g:h#owner@acme/user:j@x.com",
      {
        resource: { type: "acme/docs/doc", id: "a/b|c=d+e@f.g:h" },
        subject: { type: "acme/user", id: "j@x.com" },
      },
    ],
    [
      'document:1#viewer@user:bob[ip_allowed:{"cidr":"10.0.0.0/8","n":{"x":[1,"]"]}}]',
      { caveat: { name: "ip_allowed", context: { cidr: "10.0.0.0/8", n: { x: [1, "]"] } } } },
    ],
    ["document:1#viewer@user:bob[ip_allowed]", { caveat: { name: "ip_allowed" } }],
    [
      "document:1#viewer@user:carol[expiration:2030-01-01T00:00:00Z]",
      { expiration: new Date("2030-01-01T00:00:00Z") },
    ],
    [
      'document:1#viewer@user:carol[cav:{"a":1}][expiration:2030-01-01T00:00:00.5+02:00]',
      {
        caveat: { name: "cav", context: { a: 1 } },
        expiration: new Date("2029-12-31T22:00:00.500Z"),
      },
    ],
  ])("parses %s", (text, expected) => {
    expect(parseRelationship(text)).toMatchObject(expected);
  });

  test.each([
    ["document:1viewer@user:a", "relationship"],
    ["document:1#viewer", "relationship"],
    ["document#viewer@user:a", "relationship.resource"],
    ["Document:1#viewer@user:a", "relationship.resource.type"],
    ["document:1#Viewer@user:a", "relationship.relation"],
    ["document:#viewer@user:a", "relationship.resource.id"],
    ["document:a b#viewer@user:a", "relationship.resource.id"],
    ["document:*#viewer@user:a", "relationship.resource.id"],
    ["document:1#viewer@user:*#member", "relationship.subject.relation"],
    ["document:1#viewer@user:a[cav:{bad json}]", "relationship"],
    ["document:1#viewer@user:a[cav:[1,2]]", "relationship"],
    ["document:1#viewer@user:a[expiration:tomorrow]", "relationship"],
    ["document:1#viewer@user:a[expiration:2030-01-01T00:00:00Z][cav]", "relationship"],
    ["document:1#viewer@user:a[cav]x", "relationship"],
    [`document:${"x".repeat(1025)}#viewer@user:a`, "relationship.resource.id"],
  ])("refuses %s with INVALID_ARGUMENT on %s", (text, field) => {
    expect(() => parseRelationship(text)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", field: expect.stringContaining(field) }),
    );
  });

  test("prints expiration without a fraction when it has whole seconds", () => {
    const rel = parseRelationship("document:1#viewer@user:carol[expiration:2030-01-01T00:00:00Z]");
    expect(formatRelationship(rel)).toBe(
      "document:1#viewer@user:carol[expiration:2030-01-01T00:00:00Z]",
    );
  });

  test("the key ignores caveat and expiration", () => {
    expect(relationshipKey(parseRelationship('doc:1#viewer@user:a[cav:{"x":1}]'))).toBe(
      relationshipKey(parseRelationship("doc:1#viewer@user:a")),
    );
  });

  test("a subject with #... is the object itself", () => {
    expect(parseSubjectRef("user:a#...")).toEqual({ type: "user", id: "a" });
  });
});

test("formatting then parsing any valid relationship gives it back", () => {
  fc.assert(
    fc.property(relationship, (rel) => {
      const back = parseRelationship(formatRelationship(rel));
      expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(rel)));
    }),
    propertyParameters(500),
  );
});
