import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { byteCompare, rel } from "./conformance/tuple-fixtures.js";
import { compareRows, compareRowToKey, compareUtf8 } from "./stable-order.js";
import { type TupleRow, tupleValues } from "./tuple-row.js";

const sign = (n: number) => Math.sign(n);

function row(text: string): TupleRow {
  const [t, id, relation, st, sid, srel] = tupleValues(rel(text));
  return {
    resource_type: t,
    resource_id: id,
    relation,
    subject_type: st,
    subject_id: sid,
    subject_relation: srel,
    caveat_name: null,
    caveat_context: null,
    expires_at: null,
  };
}

describe("compareUtf8", () => {
  it("orders any two strings as their UTF-8 bytes do", () => {
    // Code points from every UTF-8 length, surrogate pairs and U+E000–U+FFFF included.
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom("a", "B", "_", "~", "\u007f", "\u0080", "é", "\ud7ff", "\ue000", "\uffff"),
        fc.constantFrom("😀", "\u{10000}", "\u{10ffff}", "𝄞"),
        fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      ),
      maxLength: 6,
    });
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(sign(compareUtf8(a, b))).toBe(sign(byteCompare(a, b)));
      }),
      { numRuns: 500 },
    );
  });

  it("puts a code point above U+FFFF after U+E000–U+FFFF, unlike UTF-16 order", () => {
    expect("😀" < "\uffff").toBe(true);
    expect(compareUtf8("😀", "\uffff")).toBeGreaterThan(0);
    expect(compareUtf8("ab", "abc")).toBeLessThan(0);
    expect(compareUtf8("same", "same")).toBe(0);
  });
});

describe("compareRows", () => {
  it("orders by resource type, id, relation, then subject type, id and relation", () => {
    const texts = [
      "doc:a#viewer@user:b",
      "doc:a#viewer@user:a#member",
      "doc:a#viewer@user:a",
      "doc:a#viewer@group:z",
      "doc:a#editor@user:z",
      "doc:B#viewer@user:a",
      "doc:a-b#viewer@user:a",
      "doc/xyz:a#viewer@user:a",
      "folder:a#viewer@user:a",
    ];
    const sorted = [...texts].map(row).sort(compareRows);
    expect(
      sorted.map(
        (r) =>
          `${r.resource_type}:${r.resource_id}#${r.relation}@${r.subject_type}:${r.subject_id}#${r.subject_relation}`,
      ),
    ).toEqual([
      "doc:B#viewer@user:a#...",
      "doc:a#editor@user:z#...",
      "doc:a#viewer@group:z#...",
      "doc:a#viewer@user:a#...",
      "doc:a#viewer@user:a#member",
      "doc:a#viewer@user:b#...",
      "doc:a-b#viewer@user:a#...",
      "doc/xyz:a#viewer@user:a#...",
      "folder:a#viewer@user:a#...",
    ]);
  });

  it("compares a row with an identity key the same way", () => {
    const a = row("doc:a#viewer@user:alice");
    expect(compareRowToKey(a, ["doc", "a", "viewer", "user", "alice", "..."])).toBe(0);
    expect(compareRowToKey(a, ["doc", "a", "viewer", "user", "bob", "..."])).toBeLessThan(0);
    expect(compareRowToKey(a, ["doc", "a", "viewer", "user", "alice", "member"])).toBeLessThan(0);
    expect(compareRowToKey(a, ["doc", "B", "viewer", "user", "alice", "..."])).toBeGreaterThan(0);
  });
});
