// Every validation file in test/validation/ and every preset's validation file in schema/ runs
// against each store engine: answered from the in-memory index with the shared result cache on
// and off, and answered from the store (no index loaded).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Engine } from "../src/engine/engine.js";
import { parseValidationFile, runValidationFile } from "../src/engine/validation-file.js";
import { openTestStore, STORE_KINDS, type TestStore } from "./support/test-stores.js";

const root = join(import.meta.dirname, "..");
const files = [
  ...readdirSync(join(root, "test", "validation"))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join(root, "test", "validation", f)),
  ...readdirSync(join(root, "schema"))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join(root, "schema", f)),
];

test("there are validation files to run", () => {
  expect(files.length).toBeGreaterThanOrEqual(8);
});

const MODES = [
  { name: "index, cache on", cache: true, indexTenants: true },
  { name: "index, cache off", cache: false, indexTenants: true },
  { name: "store-backed", cache: true, indexTenants: false },
] as const;

for (const kind of STORE_KINDS) {
  for (const mode of MODES) {
    describe(`validation files on ${kind}, ${mode.name}`, () => {
      let t: TestStore;
      let engine: Engine;
      beforeAll(async () => {
        t = await openTestStore(kind);
        engine = new Engine(t.store, {
          zookieSecret: "validation-test-secret-0123456789",
          indexTenants: mode.indexTenants,
          ...(mode.cache ? {} : { cache: false }),
        });
      });
      afterAll(async () => {
        await engine.close();
        await t.close();
      });

      files.forEach((file, i) => {
        test(`${file.slice(root.length + 1)} passes`, async () => {
          const tenant = `t${i}`;
          await t.store.createTenant(tenant);
          const parsed = parseValidationFile(readFileSync(file, "utf8"), file);
          const report = await runValidationFile(engine, tenant, parsed);
          expect(report.failures).toEqual([]);
          expect(report.checked).toBeGreaterThan(0);
          if (!mode.indexTenants) expect(engine.indexStats().storeReads).toBeGreaterThan(0);
        });
      });
    });
  }
}
