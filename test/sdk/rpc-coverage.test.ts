/**
 * `TrellisApi` covers every trellis.v1 RPC but AdminService's (see its header for why), and
 * both entry points implement each one. The maps below must name every RPC of the generated
 * service definitions: a method added to a .proto fails the type check here until the API
 * answers it too.
 */
import { describe, expect, test } from "vitest";
import { AdminServiceService } from "../../src/gen/trellis/v1/admin_service.js";
import { PermissionServiceService } from "../../src/gen/trellis/v1/permission_service.js";
import { RelationshipServiceService } from "../../src/gen/trellis/v1/relationship_service.js";
import { SchemaServiceService } from "../../src/gen/trellis/v1/schema_service.js";
import { Trellis } from "../../src/index.js";
import { TrellisClient } from "../../src/sdk/index.js";
import type { TrellisApi } from "../../src/sdk/trellis-api.js";

type Rpc<S> = keyof S;

const PERMISSION_RPCS = {
  check: "check",
  checkBulk: "checkBulk",
  expand: "expand",
  listObjects: "listObjectsDetailed",
  listSubjects: "listSubjectsDetailed",
} as const satisfies Record<Rpc<typeof PermissionServiceService>, keyof TrellisApi>;

const RELATIONSHIP_RPCS = {
  write: "writeRelationships",
  delete: "deleteRelationships",
  read: "readRelationships",
  import: "importRelationships",
  export: "exportRelationships",
  watch: "watch",
} as const satisfies Record<Rpc<typeof RelationshipServiceService>, keyof TrellisApi>;

const SCHEMA_RPCS = {
  writeSchema: "writeSchema",
  readSchema: "readSchema",
  validateSchema: "validateSchema",
  diffSchema: "diffSchema",
} as const satisfies Record<Rpc<typeof SchemaServiceService>, keyof TrellisApi>;

/** AdminService: on `TrellisClient` only. */
const ADMIN_RPCS = {
  createApiKey: "createApiKey",
  listApiKeys: "listApiKeys",
  revokeApiKey: "revokeApiKey",
  createTenant: "createTenant",
  listTenants: "listTenants",
} as const satisfies Record<Rpc<typeof AdminServiceService>, keyof TrellisClient>;

const API_METHODS = [
  ...Object.values(PERMISSION_RPCS),
  ...Object.values(RELATIONSHIP_RPCS),
  ...Object.values(SCHEMA_RPCS),
];

describe("trellis.v1 coverage", () => {
  test.each([
    ["PermissionService", PermissionServiceService, PERMISSION_RPCS],
    ["RelationshipService", RelationshipServiceService, RELATIONSHIP_RPCS],
    ["SchemaService", SchemaServiceService, SCHEMA_RPCS],
    ["AdminService", AdminServiceService, ADMIN_RPCS],
  ])("every %s RPC has a method", (_, service, methods) => {
    expect(Object.keys(methods).sort()).toEqual(Object.keys(service).sort());
  });

  test("both entry points implement every method of the API", () => {
    for (const method of API_METHODS) {
      expect(typeof Trellis.prototype[method], `Trellis.${method}`).toBe("function");
      expect(typeof TrellisClient.prototype[method], `TrellisClient.${method}`).toBe("function");
    }
    for (const method of Object.values(ADMIN_RPCS)) {
      expect(typeof TrellisClient.prototype[method], `TrellisClient.${method}`).toBe("function");
    }
  });
});
