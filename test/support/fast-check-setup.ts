/**
 * Properties that do not choose their seed (property-runs.ts) take one fixed seed in
 * `make test`, so that every run of the suite tries the same cases, or the one
 * TRELLIS_FUZZ_SEED replays; under `make fuzz` fast-check draws a fresh seed per property and
 * reports it with a failure.
 */
import fc from "fast-check";
import { FUZZING, replayedSeed } from "./property-runs.js";

const FIXED_SEED = 20_251_130;

const seed = replayedSeed()?.seed ?? (FUZZING ? undefined : FIXED_SEED);
if (seed !== undefined) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
