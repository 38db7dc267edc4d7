/**
 * SchemaService: WriteSchema and ReadSchema through the engine (which refuses a schema that
 * would orphan relationships), ValidateSchema and DiffSchema without writing anything.
 */
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { Engine } from "../engine/engine.js";
import type {
  DiffSchemaRequest,
  DiffSchemaResponse,
  ReadSchemaRequest,
  ReadSchemaResponse,
  SchemaError,
  SchemaServiceServer,
  ValidateSchemaRequest,
  ValidateSchemaResponse,
  WriteSchemaRequest,
  WriteSchemaResponse,
} from "../gen/trellis/v1/schema_service.js";
import { compileSchema, compileSchemaText } from "../schema/compiler.js";
import { formatSchema } from "../schema/formatter.js";
import { parseSchema } from "../schema/parser.js";
import { diffSchemas } from "../schema/schema-diff.js";
import type { CompiledSchema } from "../schema/types.js";
import {
  consistencyFromProto,
  schemaDiffToProto,
  schemaErrorToProto,
  zookieToProto,
} from "./convert.js";
import type { RequestPipeline } from "./request-pipeline.js";

const SERVICE = "SchemaService";

/** Parses and compiles; every problem with its position, or the compiled schema. */
function check(text: string): {
  schema?: CompiledSchema;
  errors: SchemaError[];
  formatted?: string;
} {
  const parsed = parseSchema(text);
  if (parsed.diagnostics.length > 0) {
    return { errors: parsed.diagnostics.map(schemaErrorToProto) };
  }
  const compiled = compileSchema(parsed.ast);
  if (compiled.schema === undefined) {
    return { errors: compiled.diagnostics.map(schemaErrorToProto) };
  }
  return { schema: compiled.schema, errors: [], formatted: formatSchema(parsed.ast) };
}

export function schemaService(engine: Engine, pipeline: RequestPipeline): SchemaServiceServer {
  return {
    writeSchema: pipeline.unary<WriteSchemaRequest, WriteSchemaResponse>(
      `${SERVICE}/WriteSchema`,
      async (req, ctx) => {
        // An empty schema would drop every definition: almost always a mistake in the caller.
        if (req.schema.trim() === "") throw invalidArgument("schema is required", "schema");
        ctx.audit({ schemaBytes: Buffer.byteLength(req.schema) });
        const { zookie } = await engine.writeSchema(ctx.tenant, req.schema);
        return { writtenAt: zookieToProto(zookie) };
      },
    ),

    readSchema: pipeline.unary<ReadSchemaRequest, ReadSchemaResponse>(
      `${SERVICE}/ReadSchema`,
      async (req, ctx) => {
        const { text, zookie } = await engine.readSchema(
          ctx.tenant,
          consistencyFromProto(req.consistency, "fully_consistent"),
        );
        return { schemaText: text, readAt: zookieToProto(zookie) };
      },
    ),

    validateSchema: pipeline.unary<ValidateSchemaRequest, ValidateSchemaResponse>(
      `${SERVICE}/ValidateSchema`,
      async (req) => {
        const result = check(req.schema);
        return { errors: result.errors, formattedSchema: result.formatted ?? "" };
      },
    ),

    diffSchema: pipeline.unary<DiffSchemaRequest, DiffSchemaResponse>(
      `${SERVICE}/DiffSchema`,
      async (req, ctx) => {
        const proposed = check(req.schema);
        if (proposed.schema === undefined) return { diffs: [], errors: proposed.errors };
        let current: CompiledSchema | undefined;
        try {
          const { text } = await engine.readSchema(ctx.tenant, "fully_consistent");
          current = compileSchemaText(text);
        } catch (err) {
          // A tenant without a schema yet: everything proposed is an addition.
          const noSchema =
            err instanceof TrellisError && err.code === "NOT_FOUND" && err.field !== "tenant";
          if (!noSchema) throw err;
        }
        return { diffs: diffSchemas(current, proposed.schema).map(schemaDiffToProto), errors: [] };
      },
    ),
  };
}
