/**
 * SpiceDB's ExperimentalService: the deprecated bulk methods that current clients still call
 * (BulkImportRelationships, BulkExportRelationships, BulkCheckPermission), answered as their
 * PermissionsService successors are; the rest answer UNIMPLEMENTED.
 */
import type { v1 } from "@authzed/authzed-node";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  checkBulk,
  exportBulk,
  importBulk,
  type SpiceDBServiceDeps,
} from "./permissions-service.js";
import type { SpiceDBCalls } from "./spicedb-calls.js";

const REFLECTION = "schema reflection is not offered; read the schema text with ReadSchema";
const COUNTERS = "relationship counters are not offered";

export function experimentalService(
  calls: SpiceDBCalls,
  deps: SpiceDBServiceDeps,
): UntypedServiceImplementation {
  return {
    bulkImportRelationships: calls.clientStream<
      v1.BulkImportRelationshipsRequest,
      v1.BulkImportRelationshipsResponse
    >("BulkImportRelationships", importBulk(deps)),
    bulkExportRelationships: calls.serverStream<
      v1.BulkExportRelationshipsRequest,
      v1.BulkExportRelationshipsResponse
    >("BulkExportRelationships", { defaultDeadline: false }, exportBulk(deps)),
    bulkCheckPermission: calls.unary<v1.BulkCheckPermissionRequest, v1.BulkCheckPermissionResponse>(
      "BulkCheckPermission",
      checkBulk(deps),
    ),
    experimentalReflectSchema: calls.unimplemented("ExperimentalReflectSchema", REFLECTION),
    experimentalComputablePermissions: calls.unimplemented(
      "ExperimentalComputablePermissions",
      REFLECTION,
    ),
    experimentalDependentRelations: calls.unimplemented(
      "ExperimentalDependentRelations",
      REFLECTION,
    ),
    experimentalDiffSchema: calls.unimplemented(
      "ExperimentalDiffSchema",
      "use trellis.v1.SchemaService/DiffSchema on the same port",
    ),
    experimentalRegisterRelationshipCounter: calls.unimplemented(
      "ExperimentalRegisterRelationshipCounter",
      COUNTERS,
    ),
    experimentalCountRelationships: calls.unimplemented("ExperimentalCountRelationships", COUNTERS),
    experimentalUnregisterRelationshipCounter: calls.unimplemented(
      "ExperimentalUnregisterRelationshipCounter",
      COUNTERS,
    ),
  };
}
