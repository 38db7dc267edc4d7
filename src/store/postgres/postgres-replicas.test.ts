import { afterAll, describe } from "vitest";
import { describeSharedDatastore } from "../conformance/describe-shared-datastore.js";
import { openDatastore } from "../open.js";
import { PG_TEST_URL, PostgresTestSchemas } from "./postgres-test-schemas.testkit.js";

if (!PG_TEST_URL) {
  console.warn("postgres replica tests skipped: set TRELLIS_TEST_PG_URL to run them");
}

describe.skipIf(!PG_TEST_URL)("postgres replicas", () => {
  const schemas = new PostgresTestSchemas(PG_TEST_URL!);
  afterAll(() => schemas.dropAll());

  describeSharedDatastore("conformance with two instances on one database", async ({ clock }) => {
    const schema = schemas.next();
    return {
      open: () => openDatastore(PG_TEST_URL!, { clock, postgresSchema: schema, poolSize: 4 }),
    };
  });
});
