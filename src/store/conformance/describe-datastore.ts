/**
 * The executable contract of `Datastore`: `describeDatastore` registers every topic of the
 * conformance suite for one engine. Each test gets a fresh store, a ManualClock it controls and
 * a tenant `t1`, all closed after the test.
 */
import { describe, onTestFinished } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import type { Clock } from "../../core/index.js";
import type { Datastore } from "../datastore.js";
import { apiKeyTests } from "./api-keys.js";
import { bulkImportTests } from "./bulk-import.js";
import { changelogTests } from "./changelog.js";
import { deleteByFilterTests } from "./delete-by-filter.js";
import { expirationTests } from "./expiration.js";
import type { OpenFixture } from "./fixture.js";
import { gcTests } from "./gc.js";
import { gcSoakTests } from "./gc-soak.js";
import { isolationTests } from "./isolation.js";
import { preconditionTests } from "./preconditions.js";
import { propertyTests } from "./properties.js";
import { readTests } from "./reads.js";
import { revisionTests } from "./revisions.js";
import { schemaTests } from "./schema.js";
import { sharedSecretTests } from "./shared-secrets.js";
import { tenantTests } from "./tenants.js";
import { textValueTests } from "./text-values.js";
import { writeTests } from "./writes.js";

export type { Fixture, OpenFixture } from "./fixture.js";

/** Opens a fresh, empty datastore that reads time from `clock`. */
export type DatastoreFactory = (options: { clock: Clock }) => Promise<Datastore>;

const TOPICS = {
  tenants: tenantTests,
  revisions: revisionTests,
  reads: readTests,
  writes: writeTests,
  preconditions: preconditionTests,
  "delete-by-filter": deleteByFilterTests,
  "bulk import and export": bulkImportTests,
  schema: schemaTests,
  "changelog and watch": changelogTests,
  expiration: expirationTests,
  gc: gcTests,
  "gc soak and stats": gcSoakTests,
  isolation: isolationTests,
  "api keys": apiKeyTests,
  "shared secrets": sharedSecretTests,
  "NUL in text": textValueTests,
  properties: propertyTests,
} satisfies Record<string, (open: OpenFixture) => void>;

export type ConformanceTopic = keyof typeof TOPICS;

export interface DescribeDatastoreOptions {
  /**
   * Topics this engine does not run, each with the reason written out (an engine opts out of a
   * capability only with a reason).
   */
  readonly skip?: Partial<Record<ConformanceTopic, string>>;
}

export function describeDatastore(
  name: string,
  factory: DatastoreFactory,
  options: DescribeDatastoreOptions = {},
): void {
  const open: OpenFixture = async () => {
    const clock = new ManualClock();
    const store = await factory({ clock });
    onTestFinished(() => store.close());
    await store.createTenant("t1");
    return { store, clock, tenant: "t1" };
  };
  describe(name, () => {
    for (const [topic, register] of Object.entries(TOPICS)) {
      const reason = options.skip?.[topic as ConformanceTopic];
      if (reason !== undefined) console.info(`${name}: skipping "${topic}": ${reason}`);
      describe.skipIf(reason !== undefined)(topic, () => register(open));
    }
  });
}
