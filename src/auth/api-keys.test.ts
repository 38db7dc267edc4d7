// API-key revocation and the key cache, on every store engine: a revocation that lands while a
// store read of the key is in flight, and unknown key ids cached like known ones.
import { afterEach, describe, expect, test } from "vitest";
import { Gate } from "../../test/support/gate.js";
import { ManualClock } from "../../test/support/manual-clock.js";
import { openTestStore, STORE_KINDS, type TestStore } from "../../test/support/test-stores.js";
import type { Datastore } from "../store/datastore.js";
import { mintApiKey } from "./api-key-token.js";
import { ApiKeys } from "./api-keys.js";
import type { AuthFailure } from "./principal.js";

/** The store, with its `getApiKey` calls counted and the next one held on request. */
function instrumented(store: Datastore) {
  let reads = 0;
  let hold: { read: Gate; release: Gate } | undefined;
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === "getApiKey") {
        return async (id: string) => {
          reads++;
          const record = await target.getApiKey(id);
          const held = hold;
          hold = undefined;
          if (held !== undefined) {
            // The record is read; its answer reaches the caller only once released.
            held.read.open();
            await held.release.opened;
          }
          return record;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    get reads() {
      return reads;
    },
    /** Holds the next read after it has read the store. */
    holdNextRead() {
      hold = { read: new Gate(), release: new Gate() };
      return hold;
    },
  };
}

const reason = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (e: AuthFailure) => e.reason,
  );

describe.each(STORE_KINDS)("API keys on %s", (kind) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setup() {
    const clock = new ManualClock(new Date());
    t = await openTestStore(kind, clock);
    await t.store.createTenant("t1");
    const store = instrumented(t.store);
    return { clock, store, keys: new ApiKeys(store.store, { clock, cacheTtlMs: 5000 }) };
  }

  test("a key revoked while its first verification reads the store is refused by every later call", async () => {
    const { store, keys } = await setup();
    const { token, record } = await keys.create({ tenant: "t1", scopes: ["check"] });
    const held = store.holdNextRead();
    const first = reason(keys.verify(token));
    // The read has the record as it was before the revocation...
    await held.read.opened;
    await keys.revoke(record.id);
    // ...and returns only after the revocation was acknowledged.
    held.release.open();
    await first;
    expect(keys.verifyCached(token)).toBeUndefined();
    expect(await reason(keys.verify(token))).toBe("revoked");
  });

  test("unknown key ids are cached like known ones: one store read each per cache time", async () => {
    const { clock, store, keys } = await setup();
    const { token } = await keys.create({ tenant: "t1", scopes: ["check"] });
    const unknown = mintApiKey();
    const before = store.reads;
    for (let i = 0; i < 3; i++) {
      expect(await reason(keys.verify(token))).toBe("accepted");
      expect(await reason(keys.verify(unknown.token))).toBe("unknown_key");
    }
    expect(store.reads - before).toBe(2);
    // Another process creates a key under that id (ids are random: only a test can): it is
    // seen once the cache time has passed.
    await t!.store.createApiKey({
      id: unknown.id,
      tenant: "t1",
      secretHash: unknown.secretHash,
      scopes: ["check"],
      description: "",
      createdAt: new Date(clock.now()),
    });
    expect(await reason(keys.verify(unknown.token))).toBe("unknown_key");
    clock.advance(5001);
    expect(await reason(keys.verify(unknown.token))).toBe("accepted");
  });
});
