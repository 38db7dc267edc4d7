/** Expiring tuples: invisible from their expiration on, by the injected clock. */
import { expect, it } from "vitest";
import type { OpenFixture } from "./fixture.js";
import { create, everything, expectCode, keys, rel, remove, touch } from "./tuple-fixtures.js";

const START = Date.UTC(2030, 0, 1);

export function expirationTests(open: OpenFixture): void {
  it("shows a tuple until its expiration and hides it from that instant on", async () => {
    const { store, tenant, clock } = await open();
    const revision = await store.write(tenant, [
      create("doc:a#viewer@user:alice[expiration:2030-01-01T00:00:10.500Z]"),
    ]);
    const read = () =>
      store.readByResource(tenant, revision, { type: "doc", id: "a", relation: "viewer" });
    clock.set(START + 10_499);
    expect(await read()).toEqual([
      rel("doc:a#viewer@user:alice[expiration:2030-01-01T00:00:10.500Z]"),
    ]);
    clock.set(START + 10_500);
    expect(await read()).toEqual([]);
  });

  it("hides an expired tuple from every read shape, at every revision", async () => {
    const { store, tenant, clock } = await open();
    const r1 = await store.write(tenant, [
      create("doc:a#viewer@user:alice[expiration:2030-01-01T00:01:00Z]"),
      create("doc:a#viewer@user:bob"),
    ]);
    const r2 = await store.write(tenant, [create("doc:b#viewer@user:carol")]);
    clock.advance(60_000);
    for (const revision of [r1, r2]) {
      const forward = await store.readByResource(tenant, revision, {
        type: "doc",
        id: "a",
        relation: "viewer",
      });
      expect(keys(forward)).toEqual(["doc:a#viewer@user:bob"]);
      const reverse = await store.readBySubject(tenant, revision, {
        resourceType: "doc",
        relation: "viewer",
        subject: { type: "user", id: "alice" },
      });
      expect(reverse).toEqual([]);
      const page = await store.readByFilter(
        tenant,
        revision,
        { resourceType: "doc" },
        { limit: 10 },
      );
      expect(keys(page.relationships)).not.toContain("doc:a#viewer@user:alice");
      expect(keys(await everything(store, tenant, revision))).not.toContain(
        "doc:a#viewer@user:alice",
      );
    }
  });

  it("treats an expired tuple as absent: CREATE succeeds, DELETE is a no-op", async () => {
    const { store, tenant, clock } = await open();
    await store.write(tenant, [
      create("doc:a#viewer@user:alice[expiration:2030-01-01T00:00:01Z]"),
      create("doc:b#viewer@user:alice[expiration:2030-01-01T00:00:01Z]"),
    ]);
    clock.advance(1000);
    const r2 = await store.write(tenant, [
      create("doc:a#viewer@user:alice[flagged]"),
      remove("doc:b#viewer@user:alice"),
    ]);
    expect(await everything(store, tenant)).toEqual([rel("doc:a#viewer@user:alice[flagged]")]);
    const changes = await store.changesSince(tenant, 1, 10);
    expect(changes).toEqual([
      {
        revision: r2,
        committedAt: new Date(clock.now()),
        op: "TOUCH",
        relationship: rel("doc:a#viewer@user:alice[flagged]"),
      },
    ]);
    await expectCode(
      store.write(tenant, [create("doc:a#viewer@user:alice")]),
      "FAILED_PRECONDITION",
    );
  });

  it("revives an expired tuple with TOUCH, with the new expiration", async () => {
    const { store, tenant, clock } = await open();
    await store.write(tenant, [create("doc:a#viewer@user:alice[expiration:2030-01-01T00:00:01Z]")]);
    clock.advance(5000);
    await store.write(tenant, [touch("doc:a#viewer@user:alice[expiration:2030-01-02T00:00:00Z]")]);
    expect(await everything(store, tenant)).toEqual([
      rel("doc:a#viewer@user:alice[expiration:2030-01-02T00:00:00Z]"),
    ]);
  });

  it("keeps expirations to the millisecond, as Dates", async () => {
    const { store, tenant } = await open();
    const expiration = new Date(Date.UTC(2031, 5, 15, 12, 30, 45, 678));
    await store.write(tenant, [
      {
        op: "CREATE",
        relationship: {
          resource: { type: "doc", id: "a" },
          relation: "viewer",
          subject: { type: "user", id: "alice" },
          expiration,
        },
      },
    ]);
    const [found] = await everything(store, tenant);
    expect(found?.expiration).toBeInstanceOf(Date);
    expect(found?.expiration?.getTime()).toBe(expiration.getTime());
  });
}
