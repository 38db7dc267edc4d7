/** changesSince (order, completeness, limits) and waitForChanges. */
import { expect, it } from "vitest";
import { type Relationship, relationshipKey } from "../../core/index.js";
import type { ChangeEvent } from "../datastore.js";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, rel, remove, touch } from "./tuple-fixtures.js";

/** `rev OP tuple` lines, for readable comparisons. */
function lines(changes: readonly ChangeEvent[]): string[] {
  return changes.map((c) =>
    c.op === "SCHEMA"
      ? `${c.revision} SCHEMA ${c.text}`
      : `${c.revision} ${c.op} ${relationshipKey(c.relationship)}`,
  );
}

/** Applies a changelog to a set of tuples, as a follower would. */
function replay(changes: readonly ChangeEvent[]): Relationship[] {
  const state = new Map<string, Relationship>();
  for (const change of changes) {
    if (change.op === "TOUCH") state.set(relationshipKey(change.relationship), change.relationship);
    if (change.op === "DELETE") state.delete(relationshipKey(change.relationship));
  }
  return [...state.values()];
}

export function changelogTests(open: OpenFixture): void {
  it("lists changes by revision, then in the order of the write", async () => {
    const { store, tenant, clock } = await open();
    await store.write(tenant, [create("doc:z#viewer@user:a"), create("doc:a#viewer@user:b")]);
    await store.writeSchema(tenant, "definition user {}");
    clock.advance(1500);
    const thirdCommit = new Date(clock.now());
    await store.write(tenant, [
      remove("doc:z#viewer@user:a"),
      touch('doc:a#viewer@user:b[flagged:{"x":[1]}]'),
      create("doc:m#viewer@user:c"),
      remove("doc:never#viewer@user:x"),
    ]);
    await store.deleteByFilter(tenant, { resourceType: "doc" });
    await store.bulkImport(tenant, [rel("doc:q#viewer@user:q"), rel("doc:b#viewer@user:q")]);
    const changes = await store.changesSince(tenant, 0, 100);
    expect(lines(changes)).toEqual([
      "1 TOUCH doc:z#viewer@user:a",
      "1 TOUCH doc:a#viewer@user:b",
      "2 SCHEMA definition user {}",
      "3 DELETE doc:z#viewer@user:a",
      "3 TOUCH doc:a#viewer@user:b",
      "3 TOUCH doc:m#viewer@user:c",
      "4 DELETE doc:a#viewer@user:b",
      "4 DELETE doc:m#viewer@user:c",
      "5 TOUCH doc:q#viewer@user:q",
      "5 TOUCH doc:b#viewer@user:q",
    ]);
    // Every entry carries its revision's commit time, read from the store's clock.
    expect(changes[2]!.committedAt.getTime()).toBe(thirdCommit.getTime() - 1500);
    // A TOUCH carries the tuple as written; a DELETE the tuple as it was.
    expect(changes[4]).toEqual({
      revision: 3,
      committedAt: thirdCommit,
      op: "TOUCH",
      relationship: rel('doc:a#viewer@user:b[flagged:{"x":[1]}]'),
    });
    expect(changes[6]).toEqual({
      revision: 4,
      committedAt: thirdCommit,
      op: "DELETE",
      relationship: rel('doc:a#viewer@user:b[flagged:{"x":[1]}]'),
    });
  });

  it("returns only changes after the given revision, and none after head", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:a")]);
    await store.write(tenant, [create("doc:b#viewer@user:a")]);
    expect(lines(await store.changesSince(tenant, 1, 10))).toEqual(["2 TOUCH doc:b#viewer@user:a"]);
    expect(await store.changesSince(tenant, 2, 10)).toEqual([]);
    await expectCode(store.changesSince(tenant, 3, 10), "INVALID_ARGUMENT");
    await expectCode(store.changesSince(tenant, 0, 0), "INVALID_ARGUMENT");
  });

  it("stops at a revision boundary once the limit is reached, never splitting a revision", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:a")]);
    await store.write(tenant, [create("doc:b#viewer@user:a"), create("doc:c#viewer@user:a")]);
    await store.write(
      tenant,
      Array.from({ length: 5 }, (_, i) => create(`doc:big${i}#viewer@user:a`)),
    );
    await store.writeSchema(tenant, "definition user {}");
    await store.write(tenant, [create("doc:d#viewer@user:a")]);
    const first = await store.changesSince(tenant, 0, 2);
    expect(first.map((c) => c.revision)).toEqual([1, 2, 2]);
    const second = await store.changesSince(tenant, 2, 2);
    expect(second.map((c) => c.revision)).toEqual([3, 3, 3, 3, 3]);
    const third = await store.changesSince(tenant, 3, 1);
    expect(lines(third)).toEqual(["4 SCHEMA definition user {}"]);
    expect(lines(await store.changesSince(tenant, 4, 1))).toEqual(["5 TOUCH doc:d#viewer@user:a"]);
    const large = await store.changesSince(tenant, 1, 3);
    expect(large.map((c) => c.revision)).toEqual([2, 2, 3, 3, 3, 3, 3]);
  });

  it("replays into exactly the tuples at head, paging with any limit", async () => {
    const { store, tenant } = await open();
    await store.bulkImport(
      tenant,
      Array.from({ length: 30 }, (_, i) => rel(`doc:i${i}#viewer@user:u${i % 4}`)),
      { batchSize: 7 },
    );
    await store.write(tenant, [
      remove("doc:i3#viewer@user:u3"),
      touch("doc:i4#viewer@user:u0[cav]"),
    ]);
    await store.deleteByFilter(tenant, {
      resourceType: "doc",
      subjectType: "user",
      subjectId: "u1",
    });
    await store.write(tenant, [create("doc:i5#viewer@user:u1")]);
    for (const limit of [1, 3, 1000]) {
      const all: ChangeEvent[] = [];
      let after = 0;
      for (;;) {
        const page = await store.changesSince(tenant, after, limit);
        if (page.length === 0) break;
        all.push(...page);
        after = page[page.length - 1]!.revision;
      }
      expect(keys(replay(all))).toEqual(keys(await everything(store, tenant)));
      expect(replay(all).find((r) => r.resource.id === "i4")).toEqual(
        rel("doc:i4#viewer@user:u0[cav]"),
      );
    }
  });

  it("resolves a wait at once when head is already past the revision", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:a")]);
    expect(await store.waitForChanges(tenant, 0)).toBe(1);
  });

  it("resolves a wait when a write commits", async () => {
    const { store, tenant } = await open();
    const waiting = store.waitForChanges(tenant, 0);
    await Promise.resolve();
    const revision = await store.write(tenant, [create("doc:a#viewer@user:a")]);
    expect(await waiting).toBe(revision);
  });

  it("wakes waiters for the tenant written and only for revisions past theirs", async () => {
    const { store, tenant } = await open();
    await store.createTenant("other");
    let otherWoke = false;
    const controller = new AbortController();
    const other = store.waitForChanges("other", 0, { signal: controller.signal }).then((r) => {
      otherWoke = r > 0;
      return r;
    });
    const later = store.waitForChanges(tenant, 1);
    await store.write(tenant, [create("doc:a#viewer@user:a")]);
    await store.write(tenant, [create("doc:b#viewer@user:a")]);
    expect(await later).toBe(2);
    expect(otherWoke).toBe(false);
    controller.abort();
    expect(await other).toBe(0);
  });

  it("resolves with the unchanged head on timeout or abort", async () => {
    const { store, tenant } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:a")]);
    // A short real-time wait: the timeout is the behaviour under test.
    expect(await store.waitForChanges(tenant, 1, { timeoutMs: 5 })).toBe(1);
    const controller = new AbortController();
    const waiting = store.waitForChanges(tenant, 1, { signal: controller.signal });
    controller.abort();
    expect(await waiting).toBe(1);
    expect(await store.waitForChanges(tenant, 1, { signal: AbortSignal.abort() })).toBe(1);
  });

  it("rejects pending waits with UNAVAILABLE when the store closes", async () => {
    const { store, tenant } = await open();
    const outcome = expectCode(store.waitForChanges(tenant, 0), "UNAVAILABLE");
    await new Promise((resolve) => setImmediate(resolve));
    await store.close();
    await outcome;
  });
}
