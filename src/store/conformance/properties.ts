/**
 * The store against a plain in-memory model: random sequences of writes, imports, deletes by
 * filter and clock moves give the same reads at every revision, and the changelog replays to the same
 * state. Runs: TRELLIS_FUZZ_RUNS (default 15).
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import {
  type Relationship,
  relationshipKey,
  type SubjectRef,
  TrellisError,
} from "../../core/index.js";
import type { ChangeEvent, Mutation, MutationOp, RelationshipFilter } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { collect, orderedKeys } from "./tuple-fixtures.js";

const RUNS = Number(process.env.TRELLIS_FUZZ_RUNS ?? 15);

const SUBJECTS: SubjectRef[] = [
  { type: "user", id: "x" },
  { type: "user", id: "y" },
  { type: "user", id: "*" },
  { type: "group", id: "g", relation: "member" },
  { type: "group", id: "g" },
];

interface TupleSpec {
  readonly resourceType: string;
  readonly id: string;
  readonly relation: string;
  readonly subject: SubjectRef;
  readonly caveat: { name: string; context?: { n: number; deep: { s: string[] } } } | null;
  /** Milliseconds from the clock at the time of the write; null for no expiration. */
  readonly expiresIn: number | null;
}

const tupleSpec: fc.Arbitrary<TupleSpec> = fc.record({
  resourceType: fc.constantFrom("doc", "folder"),
  id: fc.constantFrom("a", "b", "c"),
  relation: fc.constantFrom("viewer", "owner"),
  subject: fc.constantFrom(...SUBJECTS),
  caveat: fc.option(
    fc.record(
      {
        name: fc.constantFrom("c_one", "c_two"),
        context: fc.record({
          n: fc.integer({ min: -3, max: 3 }),
          deep: fc.record({ s: fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }) }),
        }),
      },
      { requiredKeys: ["name"] },
    ),
  ),
  expiresIn: fc.option(fc.constantFrom(-500, 400, 1200, 5000)),
});

const specKey = (t: TupleSpec) =>
  `${t.resourceType}:${t.id}#${t.relation}@${t.subject.type}:${t.subject.id}#${t.subject.relation ?? ""}`;

const filterArb: fc.Arbitrary<RelationshipFilter> = fc.record(
  {
    resourceType: fc.constantFrom("doc", "folder"),
    resourceId: fc.constantFrom("a", "b"),
    relation: fc.constantFrom("viewer", "owner"),
    subjectType: fc.constantFrom("user", "group"),
  },
  { requiredKeys: ["resourceType"] },
);

type Step =
  | { kind: "write"; mutations: { op: MutationOp; tuple: TupleSpec }[] }
  | { kind: "deleteByFilter"; filter: RelationshipFilter }
  | { kind: "import"; tuples: TupleSpec[] }
  | { kind: "tick"; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      mutations: fc.uniqueArray(
        fc.record({
          op: fc.constantFrom<MutationOp>("CREATE", "TOUCH", "DELETE"),
          tuple: tupleSpec,
        }),
        { minLength: 1, maxLength: 4, selector: (m) => specKey(m.tuple) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("deleteByFilter" as const), filter: filterArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("tick" as const),
      ms: fc.constantFrom(300, 700, 1500),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("import" as const),
      tuples: fc.uniqueArray(tupleSpec, { minLength: 1, maxLength: 5, selector: specKey }),
    }),
  },
);

function toRelationship(spec: TupleSpec, now: number): Relationship {
  return {
    resource: { type: spec.resourceType, id: spec.id },
    relation: spec.relation,
    subject: spec.subject,
    ...(spec.caveat === null ? {} : { caveat: spec.caveat }),
    ...(spec.expiresIn === null ? {} : { expiration: new Date(now + spec.expiresIn) }),
  };
}

function alive(rel: Relationship, now: number): boolean {
  return rel.expiration === undefined || rel.expiration.getTime() > now;
}

function matches(rel: Relationship, f: RelationshipFilter): boolean {
  return (
    rel.resource.type === f.resourceType &&
    (f.resourceId === undefined || rel.resource.id === f.resourceId) &&
    (f.relation === undefined || rel.relation === f.relation) &&
    (f.subjectType === undefined || rel.subject.type === f.subjectType)
  );
}

const byKey = (a: Relationship, b: Relationship) =>
  relationshipKey(a) < relationshipKey(b) ? -1 : relationshipKey(a) > relationshipKey(b) ? 1 : 0;

export function propertyTests(open: OpenFixture): void {
  it("matches an in-memory model at every revision for random histories", async () => {
    const { store, clock } = await open();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const tenant = `run${run++}`;
        await store.createTenant(tenant);
        // snapshots[r] is the model's live tuples (expired ones included) at revision r.
        const snapshots: Map<string, Relationship>[] = [new Map()];
        for (const step of steps) {
          const now = clock.now();
          const current = new Map(snapshots[snapshots.length - 1]);
          if (step.kind === "tick") {
            clock.advance(step.ms);
            continue;
          }
          if (step.kind === "deleteByFilter") {
            let deleted = 0;
            for (const [key, r] of current) {
              if (alive(r, now) && matches(r, step.filter)) {
                current.delete(key);
                deleted++;
              }
            }
            const result = await store.deleteByFilter(tenant, step.filter);
            expect(result).toEqual({ revision: snapshots.length, deleted, partial: false });
            snapshots.push(current);
            continue;
          }
          if (step.kind === "import") {
            const rels = step.tuples.map((t) => toRelationship(t, now));
            const clash = rels.some((r) => {
              const existing = current.get(relationshipKey(r));
              return existing !== undefined && alive(existing, now);
            });
            const outcome = await store.bulkImport(tenant, rels).catch((e: unknown) => e);
            if (clash) {
              expect(outcome).toBeInstanceOf(TrellisError);
              expect((outcome as TrellisError).code).toBe("FAILED_PRECONDITION");
              expect(await store.headRevision(tenant)).toBe(snapshots.length - 1);
            } else {
              expect(outcome).toEqual({ revision: snapshots.length, imported: rels.length });
              for (const r of rels) current.set(relationshipKey(r), r);
              snapshots.push(current);
            }
            continue;
          }
          const mutations: Mutation[] = step.mutations.map((m) => ({
            op: m.op,
            relationship: toRelationship(m.tuple, now),
          }));
          let refused = false;
          for (const { op, relationship } of mutations) {
            const key = relationshipKey(relationship);
            const existing = current.get(key);
            const present = existing !== undefined && alive(existing, now);
            if (op === "CREATE" && present) refused = true;
            else if (op === "DELETE") {
              if (present) current.delete(key);
            } else current.set(key, relationship);
          }
          if (refused) {
            const err = await store.write(tenant, mutations).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(TrellisError);
            expect((err as TrellisError).code).toBe("FAILED_PRECONDITION");
            expect(await store.headRevision(tenant)).toBe(snapshots.length - 1);
          } else {
            expect(await store.write(tenant, mutations)).toBe(snapshots.length);
            snapshots.push(current);
          }
        }

        const now = clock.now();
        for (const [revision, snapshot] of snapshots.entries()) {
          const visible = [...snapshot.values()].filter((r) => alive(r, now));
          const exported = await collect(store.export(tenant, revision));
          expect([...exported].sort(byKey)).toEqual([...visible].sort(byKey));
          // One query of each shape per revision, rotating through the combinations.
          const spec = {
            type: ["doc", "folder"][revision % 2]!,
            id: ["a", "b", "c"][revision % 3]!,
            relation: ["viewer", "owner"][(revision >> 1) % 2]!,
          };
          const forward = await store.readByResource(tenant, revision, spec);
          expect(keysOf(forward)).toEqual(
            keysOf(
              visible.filter(
                (r) =>
                  r.resource.type === spec.type &&
                  r.resource.id === spec.id &&
                  r.relation === spec.relation,
              ),
            ),
          );
          const subject = SUBJECTS[revision % SUBJECTS.length]!;
          const reverse = await store.readBySubject(tenant, revision, {
            resourceType: spec.type,
            relation: spec.relation,
            subject,
          });
          expect(keysOf(reverse)).toEqual(
            keysOf(
              visible.filter(
                (r) =>
                  r.resource.type === spec.type &&
                  r.relation === spec.relation &&
                  relationshipKey({ ...r, resource: { type: "x", id: "x" }, relation: "x" }) ===
                    relationshipKey({ resource: { type: "x", id: "x" }, relation: "x", subject }),
              ),
            ),
          );
          const filter: RelationshipFilter = { resourceType: spec.type, subjectType: subject.type };
          const paged: Relationship[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.readByFilter(
              tenant,
              revision,
              filter,
              cursor === undefined ? { limit: 2 } : { limit: 2, cursor },
            );
            paged.push(...page.relationships);
            cursor = page.cursor;
          } while (cursor !== undefined);
          expect(orderedKeys(paged)).toEqual(
            orderedKeys(exported.filter((r) => matches(r, filter))),
          );
        }

        const changes: ChangeEvent[] = await store.changesSince(tenant, 0, 1_000_000);
        const replayed = new Map<string, Relationship>();
        for (const change of changes) {
          if (change.op === "TOUCH") {
            replayed.set(relationshipKey(change.relationship), change.relationship);
          } else if (change.op === "DELETE") {
            replayed.delete(relationshipKey(change.relationship));
          }
        }
        const final = [...snapshots[snapshots.length - 1]!.values()].filter((r) => alive(r, now));
        expect([...replayed.values()].filter((r) => alive(r, now)).sort(byKey)).toEqual(
          final.sort(byKey),
        );
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
}

function keysOf(rels: readonly Relationship[]): string[] {
  return rels.map(relationshipKey).sort();
}
