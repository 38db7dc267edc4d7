/** What each conformance test receives: a fresh store, the clock it reads, and a tenant. */
import type { ManualClock } from "../../../test/support/manual-clock.js";
import type { Datastore } from "../datastore.js";

export interface Fixture {
  readonly store: Datastore;
  readonly clock: ManualClock;
  /** A tenant created for the test. */
  readonly tenant: string;
}

/** Opens a fresh fixture, closed after the test that opened it. */
export type OpenFixture = () => Promise<Fixture>;
