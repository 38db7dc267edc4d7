import { defineConfig } from "vitest/config";

/** `make fuzz` runs the properties for as long as their many cases take. */
const fuzzing = process.env.TRELLIS_FUZZ_RUNS !== undefined && process.env.TRELLIS_FUZZ_RUNS !== "";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Two cores on the CI machine: one worker per core keeps store tests from starving each other.
    maxWorkers: 2,
    // Guards against a test that hangs, not measures of speed: generous enough that a loaded
    // machine cannot trip them (tests wait for events, and fail on these when none comes).
    testTimeout: fuzzing ? 24 * 60 * 60 * 1000 : 60_000,
    hookTimeout: 120_000,
    // Fixed seeds for the property tests in `make test` (see test/support/property-runs.ts).
    setupFiles: ["test/support/fast-check-setup.ts"],
  },
});
