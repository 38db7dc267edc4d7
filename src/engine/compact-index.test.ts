import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseRelationship, type Relationship } from "../core/relationship.js";
import { CompactIndex } from "./compact-index.js";
import { isVisible, type TupleVersion } from "./tuple-index.js";

const RUNS = Number(process.env.TRELLIS_FUZZ_RUNS ?? 100);

/** Orders relationships as the store's export does (stable order; names are ASCII). */
function stableOrder(a: Relationship, b: Relationship): number {
  const key = (r: Relationship) => [
    r.resource.type,
    r.resource.id,
    r.relation,
    r.subject.type,
    r.subject.id,
    r.subject.relation ?? "",
  ];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  }
  return 0;
}

const identity = (r: Relationship) =>
  `${r.resource.type}:${r.resource.id}#${r.relation}@${r.subject.type}:${r.subject.id}#${r.subject.relation ?? ""}`;

const tuple: fc.Arbitrary<Relationship> = fc
  .record({
    resourceType: fc.constantFrom("doc", "folder"),
    resourceId: fc.constantFrom("a", "b", "c"),
    relation: fc.constantFrom("viewer", "parent", "editor"),
    subject: fc.constantFrom(
      "user:alice",
      "user:bob",
      "user:*",
      "group:eng#member",
      "group:ops#member",
      "folder:a",
    ),
    caveat: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    expires: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  })
  .map((t) => {
    const base = parseRelationship(`${t.resourceType}:${t.resourceId}#${t.relation}@${t.subject}`);
    return {
      ...base,
      ...(t.caveat !== undefined ? { caveat: { name: "c", context: { n: t.caveat } } } : {}),
      ...(t.expires !== undefined ? { expiration: new Date(t.expires * 1000) } : {}),
    };
  });

type Op =
  | { readonly kind: "touch" | "delete"; readonly rel: Relationship }
  | { readonly kind: "compact"; readonly back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: tuple.map((rel): Op => ({ kind: "touch", rel })) },
  { weight: 3, arbitrary: tuple.map((rel): Op => ({ kind: "delete", rel })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 3 }).map((back): Op => ({ kind: "compact", back })),
  },
);

interface ModelVersion {
  readonly rel: Relationship;
  readonly created: number;
  deleted: number;
}

/** What a reader at `revision`, at time `now`, must see in a version list. */
function seen(versions: Iterable<TupleVersion>, revision: number, now: number): string[] {
  return [...versions]
    .filter((v) => isVisible(v, revision, now))
    .map(
      (v) =>
        `${v.resourceType}:${v.resourceId}#${v.relation}@${v.subjectKey}|${JSON.stringify(v.caveat ?? null)}|${v.expiresAt}`,
    )
    .sort();
}

function expected(
  model: readonly ModelVersion[],
  revision: number,
  now: number,
  pick: (r: Relationship) => boolean,
): string[] {
  return model
    .filter((m) => m.created <= revision && revision < m.deleted && pick(m.rel))
    .filter((m) => now < (m.rel.expiration?.getTime() ?? Number.POSITIVE_INFINITY))
    .map((m) => {
      const s = m.rel.subject;
      const key =
        s.relation === undefined ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
      return `${m.rel.resource.type}:${m.rel.resource.id}#${m.rel.relation}@${key}|${JSON.stringify(m.rel.caveat ?? null)}|${m.rel.expiration?.getTime() ?? Number.POSITIVE_INFINITY}`;
    })
    .sort();
}

describe("CompactIndex", () => {
  test("answers every row and every reverse read at every revision it holds, as a plain model does", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(tuple, { selector: identity, maxLength: 20 }),
        fc.array(op, { maxLength: 30 }),
        fc.integer({ min: 0, max: 6 }),
        (loaded, ops, nowSeconds) => {
          const now = nowSeconds * 1000;
          const base = 5;
          const index = new CompactIndex({ maxCachedRows: 8 });
          const model: ModelVersion[] = [];
          for (const rel of [...loaded].sort(stableOrder)) {
            index.addLoaded(rel, base);
            model.push({ rel, created: base, deleted: Number.POSITIVE_INFINITY });
          }
          index.seal();
          let revision = base;
          let horizon = base;
          const check = () => {
            for (let r = horizon; r <= revision; r++) {
              for (const type of ["doc", "folder"]) {
                for (const id of ["a", "b", "c"]) {
                  for (const relation of ["viewer", "parent", "editor"]) {
                    const got = seen(index.entry(type, relation, id)?.all ?? [], r, now);
                    const want = expected(
                      model,
                      r,
                      now,
                      (x) =>
                        x.resource.type === type && x.resource.id === id && x.relation === relation,
                    );
                    expect(got).toEqual(want);
                  }
                }
              }
              for (const subject of ["user:alice", "user:*", "group:eng#member", "folder:a"]) {
                const s = parseRelationship(`doc:x#viewer@${subject}`).subject;
                for (const relation of ["viewer", "parent"]) {
                  const got = seen(index.reverse(s, "doc", relation), r, now);
                  const want = expected(
                    model,
                    r,
                    now,
                    (x) =>
                      x.resource.type === "doc" &&
                      x.relation === relation &&
                      x.subject.type === s.type &&
                      x.subject.id === s.id &&
                      x.subject.relation === s.relation,
                  );
                  expect(got).toEqual(want);
                }
              }
            }
          };
          for (const o of ops) {
            if (o.kind === "compact") {
              horizon = Math.max(horizon, revision - o.back);
              index.compact(horizon, now);
              continue;
            }
            revision++;
            const live = model.find(
              (m) => identity(m.rel) === identity(o.rel) && m.deleted === Number.POSITIVE_INFINITY,
            );
            if (live !== undefined) live.deleted = revision;
            if (o.kind === "touch") {
              index.touch(o.rel, revision);
              model.push({ rel: o.rel, created: revision, deleted: Number.POSITIVE_INFINITY });
            } else {
              index.delete(o.rel, revision);
            }
            check();
          }
          check();
          const live = model.filter((m) => m.deleted === Number.POSITIVE_INFINITY).length;
          expect(index.liveCount).toBe(live);
        },
      ),
      { numRuns: RUNS, seed: 11 },
    );
  });

  test("takes a version that arrives out of the store's order into the overlay, still right", () => {
    const index = new CompactIndex();
    const rels = ["doc:b#viewer@user:a", "doc:a#viewer@user:b", "doc:b#viewer@user:0"].map((t) =>
      parseRelationship(t),
    );
    for (const rel of rels) index.addLoaded(rel, 1);
    index.seal();
    expect(seen(index.entry("doc", "viewer", "b")?.all ?? [], 1, 0)).toHaveLength(2);
    index.delete(rels[2]!, 2);
    expect(seen(index.entry("doc", "viewer", "b")?.all ?? [], 2, 0)).toHaveLength(1);
    expect(index.liveCount).toBe(2);
  });

  test("answers a row of thousands of subjects without building it, as a small row would", () => {
    const index = new CompactIndex();
    const members = Array.from(
      { length: 3000 },
      (_, i) => `group:g#member@user:u${String(i).padStart(4, "0")}`,
    );
    const rels = [...members, "group:g#member@group:other#member", "group:g#member@user:*"].map(
      (t) => parseRelationship(t),
    );
    rels.sort(stableOrder);
    for (const rel of rels) index.addLoaded(rel, 1);
    index.seal();
    index.delete(parseRelationship("group:g#member@user:u0007"), 2);
    index.touch(parseRelationship("group:g#member@user:late"), 3);
    const entry = index.entry("group", "member", "g")!;
    const at = (r: number, versions: Iterable<TupleVersion> | undefined) =>
      seen(versions ?? [], r, 0);
    expect(at(1, entry.bySubject.get("user:u0007"))).toHaveLength(1);
    expect(at(2, entry.bySubject.get("user:u0007"))).toHaveLength(0);
    expect(at(3, entry.bySubject.get("user:late"))).toHaveLength(1);
    expect(entry.bySubject.get("user:nobody")).toBeUndefined();
    expect(at(3, entry.bySubject.get("group:other#member"))).toHaveLength(1);
    expect(entry.usersets.map((v) => v.subjectKey)).toEqual(["group:other#member"]);
    expect(entry.wildcards.map((v) => v.subjectKey)).toEqual(["user:*"]);
    expect(at(3, entry.all)).toHaveLength(3000 - 1 + 1 + 2);
  });

  test("holds a loaded tuple in a few dozen bytes", () => {
    const index = new CompactIndex();
    const n = 50_000;
    const rels: Relationship[] = [];
    for (let d = 0; d < n / 5; d++) {
      for (let u = 0; u < 5; u++) {
        rels.push(parseRelationship(`doc:d${d}#viewer@user:u${(d * 7 + u) % 5000}`));
      }
    }
    rels.sort(stableOrder);
    for (const rel of rels) index.addLoaded(rel, 1);
    index.seal();
    expect(index.liveCount).toBe(n);
    expect(index.bytes / n).toBeLessThan(80);
  });
});
