/**
 * The part of the `Datastore` contract that takes several instances on one store (several
 * processes or replicas, as far as an engine can tell): `describeSharedDatastore` registers it
 * for one engine. Each test gets a fresh store; every instance it opens is closed after it.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import type { Clock } from "../../core/index.js";
import type { Datastore } from "../datastore.js";
import { create, keys } from "./tuple-fixtures.js";

/** A fresh, empty store that any number of instances can open. */
export interface SharedStore {
  /** Opens another instance on the store (its own connections or file handle). */
  open(): Promise<Datastore>;
}

/** Makes a fresh shared store whose instances read time from `clock`. */
export type SharedStoreFactory = (options: { clock: Clock }) => Promise<SharedStore>;

export function describeSharedDatastore(name: string, factory: SharedStoreFactory): void {
  async function instances(count: number): Promise<{ stores: Datastore[]; shared: SharedStore }> {
    const shared = await factory({ clock: new ManualClock() });
    const stores: Datastore[] = [];
    for (let i = 0; i < count; i++) {
      const store = await shared.open();
      onTestFinished(() => store.close());
      stores.push(store);
    }
    return { stores, shared };
  }

  describe(name, () => {
    it("gives instances racing on an empty store one secret per name", async () => {
      const { stores, shared } = await instances(2);
      const [a, b] = stores as [Datastore, Datastore];
      const names = Array.from({ length: 16 }, (_, i) => `secret-${i}`);
      const answers = await Promise.all(
        names.map((n) =>
          Promise.all([a.sharedSecret(n, () => `a-${n}`), b.sharedSecret(n, () => `b-${n}`)]),
        ),
      );
      answers.forEach(([fromA, fromB], i) => {
        expect(fromA).toBe(fromB);
        expect([`a-${names[i]}`, `b-${names[i]}`]).toContain(fromA);
      });
      const late = await shared.open();
      onTestFinished(() => late.close());
      let generated = 0;
      for (const [i, n] of names.entries()) {
        expect(await late.sharedSecret(n, () => `late-${generated++}`)).toBe(answers[i]![0]);
      }
      expect(generated).toBe(0);
    });

    it("keeps a shared secret when every instance has closed", async () => {
      const { stores, shared } = await instances(1);
      const value = await stores[0]!.sharedSecret("zookie", () => "kept");
      await stores[0]!.close();
      const again = await shared.open();
      onTestFinished(() => again.close());
      expect(await again.sharedSecret("zookie", () => "replaced")).toBe(value);
    });

    it("shows a write through one instance to another at the revision it returned", async () => {
      const { stores } = await instances(2);
      const [a, b] = stores as [Datastore, Datastore];
      await a.createTenant("acme");
      const revision = await a.write("acme", [create("doc:a#viewer@user:alice")]);
      expect(await b.headRevision("acme")).toBe(revision);
      const page = await b.readByFilter("acme", revision, { resourceType: "doc" }, { limit: 10 });
      expect(keys(page.relationships)).toEqual(["doc:a#viewer@user:alice"]);
    });
  });
}
