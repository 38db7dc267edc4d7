/**
 * gc under churn: the same relationships rewritten again and again leave the store no bigger
 * than twice one copy once gc has run, and what stays readable is whole. Small in `make test`;
 * with TRELLIS_FUZZ_RUNS set (`npm run fuzz`), 10,000 relationships rewritten 100 times.
 */
import { expect, it } from "vitest";
import type { Relationship } from "../../core/index.js";
import type { RelationshipChange } from "../changelog.js";
import type { OpenFixture } from "./fixture.js";
import { collect, expectCode } from "./tuple-fixtures.js";

const FULL = (process.env.TRELLIS_FUZZ_RUNS ?? "") !== "";
const COUNT = FULL ? 10_000 : 2_000;
const REWRITES = FULL ? 100 : 10;
/** Mutations per write: a round of rewrites spans several revisions. */
const PER_WRITE = 1_000;

const T0 = Date.UTC(2030, 0, 1);
const ROUND_MS = 1_000;

/** Version `round` of relationship `i`: the caveat context, and every other expiration, change. */
function version(i: number, round: number): Relationship {
  return {
    resource: { type: "doc", id: `d${i}` },
    relation: "viewer",
    subject: { type: "user", id: `u${i % 97}` },
    caveat: { name: "soak", context: { round, i } },
    ...(i % 2 === 1 ? { expiration: new Date(T0 + 365 * 86_400_000 + round * 1000) } : {}),
  };
}

/** The round a relationship read back was written in (its caveat context says). */
function roundOf(rel: Relationship): number | undefined {
  return (rel.caveat?.context as { round?: number } | undefined)?.round;
}

/** Relationships by the number of their resource, as `version` numbers them. */
function byNumber(rels: readonly Relationship[]): Relationship[] {
  return [...rels].sort((a, b) => Number(a.resource.id.slice(1)) - Number(b.resource.id.slice(1)));
}

export function gcSoakTests(open: OpenFixture): void {
  it(`keeps ${COUNT} relationships rewritten ${REWRITES} times within twice one copy after gc`, async () => {
    const { store, tenant, clock } = await open();
    clock.set(T0);
    await store.bulkImport(
      tenant,
      Array.from({ length: COUNT }, (_, i) => version(i, 0)),
      { batchSize: PER_WRITE },
    );
    let lastOfPreviousRound = await store.headRevision(tenant);
    for (let round = 1; round <= REWRITES; round++) {
      lastOfPreviousRound = await store.headRevision(tenant);
      clock.set(T0 + round * ROUND_MS);
      for (let from = 0; from < COUNT; from += PER_WRITE) {
        const to = Math.min(COUNT, from + PER_WRITE);
        await store.write(
          tenant,
          Array.from({ length: to - from }, (_, k) => ({
            op: "TOUCH" as const,
            relationship: version(from + k, round),
          })),
        );
      }
    }
    const head = await store.headRevision(tenant);
    const before = await store.stats();
    expect(before.relationshipRows).toBe(COUNT * (REWRITES + 1));

    // The window opens when the last round committed: every revision before it is history
    // but the newest one, which stays readable as the oldest snapshot.
    const lastRoundAt = T0 + REWRITES * ROUND_MS;
    clock.set(lastRoundAt + 60_000);
    const result = await store.gc(60_000);
    expect(result.tenants).toBe(1);
    const oldest = lastOfPreviousRound;

    const after = await store.stats();
    expect(after.liveRelationships).toBe(COUNT);
    expect(after.relationshipRows).toBeLessThanOrEqual(2 * COUNT);
    expect(result.relationships).toBe(before.relationshipRows - after.relationshipRows);
    expect(after.revisions).toBe(head - oldest + 1);

    // Reads at head see the last round, whole.
    const atHead = await collect(store.export(tenant, head));
    expect(atHead).toHaveLength(COUNT);
    expect(atHead.every((rel) => roundOf(rel) === REWRITES)).toBe(true);
    for (const i of [0, 1, COUNT - 1]) {
      expect(
        await store.readByResource(tenant, head, { type: "doc", id: `d${i}`, relation: "viewer" }),
      ).toEqual([version(i, REWRITES)]);
    }

    // The oldest readable snapshot is the round before, and the changelog from it is complete:
    // replayed onto that snapshot it gives head.
    await expectCode(store.readSchema(tenant, oldest - 1), "FAILED_PRECONDITION");
    await expectCode(store.changesSince(tenant, oldest - 1, 10), "FAILED_PRECONDITION");
    const snapshot = await collect(store.export(tenant, oldest));
    expect(snapshot.every((rel) => roundOf(rel) === REWRITES - 1)).toBe(true);
    const state = new Map(snapshot.map((rel) => [rel.resource.id, rel]));
    let position = oldest;
    let touches = 0;
    for (;;) {
      const changes = await store.changesSince(tenant, position, PER_WRITE);
      if (changes.length === 0) break;
      for (const change of changes as RelationshipChange[]) {
        expect(change.op).toBe("TOUCH");
        state.set(change.relationship.resource.id, change.relationship);
        touches++;
      }
      position = changes[changes.length - 1]!.revision;
    }
    expect(position).toBe(head);
    expect(touches).toBe(COUNT);
    expect(state).toEqual(new Map(atHead.map((rel) => [rel.resource.id, rel])));
    expect(byNumber(atHead)).toEqual(Array.from({ length: COUNT }, (_, i) => version(i, REWRITES)));
  });

  it("counts tenants, tuple rows, live tuples, revisions and schemas", async () => {
    const { store, tenant, clock } = await open();
    await store.createTenant("other");
    clock.set(T0);
    await store.writeSchema(tenant, "definition user {}");
    await store.write(tenant, [
      { op: "CREATE", relationship: version(1, 0) },
      { op: "CREATE", relationship: version(2, 0) },
    ]);
    await store.write(tenant, [
      { op: "TOUCH", relationship: version(1, 1) },
      { op: "DELETE", relationship: version(2, 0) },
    ]);
    await store.write("other", [{ op: "CREATE", relationship: version(3, 0) }]);
    expect(await store.stats()).toEqual({
      tenants: 2,
      relationshipRows: 4,
      liveRelationships: 2,
      revisions: 4,
      schemas: 1,
    });
  });
}
