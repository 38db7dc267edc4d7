/**
 * SchemaService: WriteSchema and ReadSchema through the operation layer (which refuses a schema
 * that would orphan relationships), ValidateSchema and DiffSchema without writing anything.
 */
import type { Engine } from "../engine/engine.js";
import type {
  DiffSchemaRequest,
  DiffSchemaResponse,
  ReadSchemaRequest,
  ReadSchemaResponse,
  SchemaServiceServer,
  ValidateSchemaRequest,
  ValidateSchemaResponse,
  WriteSchemaRequest,
  WriteSchemaResponse,
} from "../gen/trellis/v1/schema_service.js";
import { Operations } from "../operations/operations.js";
import {
  consistencyFromRequest,
  schemaDiffToWire,
  schemaErrorToWire,
  zookieToWire,
} from "../wire/trellis-v1.js";
import type { RequestPipeline } from "./request-pipeline.js";

const SERVICE = "SchemaService";

export function schemaService(engine: Engine, pipeline: RequestPipeline): SchemaServiceServer {
  const ops = new Operations(engine);
  return {
    writeSchema: pipeline.unary<WriteSchemaRequest, WriteSchemaResponse>(
      `${SERVICE}/WriteSchema`,
      async (req, ctx) => {
        ctx.audit({ schemaBytes: Buffer.byteLength(req.schema) });
        const { zookie } = await ops.writeSchema(ctx.tenant, req.schema);
        return { writtenAt: zookieToWire(zookie) };
      },
    ),

    readSchema: pipeline.unary<ReadSchemaRequest, ReadSchemaResponse>(
      `${SERVICE}/ReadSchema`,
      async (req, ctx) => {
        const { text, zookie } = await ops.readSchema(
          ctx.tenant,
          consistencyFromRequest(req.consistency, "fully_consistent"),
        );
        return { schemaText: text, readAt: zookieToWire(zookie) };
      },
    ),

    validateSchema: pipeline.unary<ValidateSchemaRequest, ValidateSchemaResponse>(
      `${SERVICE}/ValidateSchema`,
      async (req) => {
        const result = ops.validateSchema(req.schema);
        return {
          errors: result.diagnostics.map(schemaErrorToWire),
          formattedSchema: result.formatted ?? "",
        };
      },
    ),

    diffSchema: pipeline.unary<DiffSchemaRequest, DiffSchemaResponse>(
      `${SERVICE}/DiffSchema`,
      async (req, ctx) => {
        const { diffs, diagnostics } = await ops.diffSchema(ctx.tenant, req.schema);
        return {
          diffs: diffs.map(schemaDiffToWire),
          errors: diagnostics.map(schemaErrorToWire),
        };
      },
    ),
  };
}
