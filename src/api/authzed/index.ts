/**
 * `api/authzed/` owns SpiceDB's `authzed.api.v1` face on the Trellis gRPC port: the service
 * definitions made from the published `@authzed/authzed-node` messages, the translation of its
 * requests and answers to the operation layer, and SpiceDB's status codes; it may import what
 * `api/` may, and is the only place that imports `@authzed/authzed-node`.
 */
import { v1 } from "@authzed/authzed-node";
import type { Server } from "@grpc/grpc-js";
import type { Operations } from "../../operations/operations.js";
import { decodingFailuresAsArguments } from "../request-decoding.js";
import type { RequestPipeline } from "../request-pipeline.js";
import type { ServerLimits } from "../server-limits.js";
import { experimentalService } from "./experimental-service.js";
import { permissionsService } from "./permissions-service.js";
import { schemaService } from "./schema-service.js";
import { serviceDefinition } from "./service-definitions.js";
import { SpiceDBCalls } from "./spicedb-calls.js";
import { watchService } from "./watch-service.js";

export { spiceDBFailure } from "./spicedb-calls.js";

/** The SpiceDB services served, by their full names (for health). */
export const SPICEDB_SERVICE_NAMES = [
  v1.PermissionsService.typeName,
  v1.SchemaService.typeName,
  v1.WatchService.typeName,
  v1.ExperimentalService.typeName,
] as const;

/**
 * Registers SpiceDB's PermissionsService, SchemaService, WatchService and ExperimentalService;
 * a request that does not decode is INVALID_ARGUMENT, as on the trellis.v1 services.
 */
export function addSpiceDBServices(
  server: Server,
  deps: { operations: Operations; pipeline: RequestPipeline; limits: ServerLimits },
): void {
  const { operations, pipeline, limits } = deps;
  const calls = (service: typeof v1.PermissionsService) => new SpiceDBCalls(pipeline, service);
  server.addService(
    decodingFailuresAsArguments(serviceDefinition(v1.PermissionsService)),
    permissionsService(calls(v1.PermissionsService), { operations, limits }),
  );
  server.addService(
    decodingFailuresAsArguments(serviceDefinition(v1.SchemaService)),
    schemaService(calls(v1.SchemaService), operations),
  );
  server.addService(
    decodingFailuresAsArguments(serviceDefinition(v1.WatchService)),
    watchService(calls(v1.WatchService), operations),
  );
  server.addService(
    decodingFailuresAsArguments(serviceDefinition(v1.ExperimentalService)),
    experimentalService(calls(v1.ExperimentalService), { operations, limits }),
  );
}
