import { defineConfig } from "vitest/config";

/**
 * The test suite that ships inside `@authzed/authzed-node` (SpiceDB's Node client), unchanged,
 * against `trellis serve-testing` on localhost:50051 (`make test` runs it after the main suite).
 * One file at a time: the suite names its tenants `prefix-<Date.now()>`, so two files running at
 * once could pick the same token, and so the same tenant, in the same millisecond.
 */
export default defineConfig({
  test: {
    include: ["node_modules/@authzed/authzed-node/dist/src/*.test.js"],
    exclude: [],
    fileParallelism: false,
    globalSetup: ["test/authzed-node/serve-testing-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
