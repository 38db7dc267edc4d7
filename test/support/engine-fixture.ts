/** A real engine over a real store, loaded from schema text and tuple strings. */
import type { Clock } from "../../src/core/clock.js";
import { parseRelationship } from "../../src/core/relationship.js";
import { Engine, type EngineOptions } from "../../src/engine/engine.js";
import { openTestStore, type StoreKind, type TestStore } from "./test-stores.js";

export interface EngineFixture {
  readonly engine: Engine;
  readonly store: TestStore["store"];
  readonly tenant: string;
  /** Writes tuples (TOUCH) and returns the zookie of the write. */
  write(...tuples: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function engineFixture(
  schema: string,
  tuples: readonly string[] = [],
  options: { kind?: StoreKind; clock?: Clock; engine?: Partial<EngineOptions> } = {},
): Promise<EngineFixture> {
  const t = await openTestStore(options.kind ?? "sqlite", options.clock);
  const engine = new Engine(t.store, {
    zookieSecret: "engine-fixture-secret-0123456789",
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.engine,
  });
  const tenant = "acme";
  await t.store.createTenant(tenant);
  await engine.writeSchema(tenant, schema);
  const write = async (...list: string[]) => {
    const { zookie } = await engine.writeRelationships(
      tenant,
      list.map((s) => ({ op: "TOUCH" as const, relationship: parseRelationship(s) })),
    );
    return zookie;
  };
  if (tuples.length > 0) await write(...tuples);
  return {
    engine,
    store: t.store,
    tenant,
    write,
    close: async () => {
      await engine.close();
      await t.close();
    },
  };
}
