/** SpiceDB's SchemaService: ReadSchema and WriteSchema over the operation layer. */
import type { v1 } from "@authzed/authzed-node";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Operations } from "../../operations/operations.js";
import type { SpiceDBCalls } from "./spicedb-calls.js";
import { zedToken } from "./to-authzed.js";

const REFLECTION = "schema reflection is not offered; read the schema text with ReadSchema";

export function schemaService(
  calls: SpiceDBCalls,
  operations: Operations,
): UntypedServiceImplementation {
  return {
    // NOT_FOUND before the first schema, as SpiceDB answers.
    readSchema: calls.unary<v1.ReadSchemaRequest, v1.ReadSchemaResponse>(
      "ReadSchema",
      async (_req, ctx) => {
        const { text, zookie } = await operations.readSchema(ctx.tenant, "fully_consistent");
        return { schemaText: text, readAt: zedToken(zookie) };
      },
    ),

    writeSchema: calls.unary<v1.WriteSchemaRequest, v1.WriteSchemaResponse>(
      "WriteSchema",
      async (req, ctx) => {
        ctx.audit({ schemaBytes: Buffer.byteLength(req.schema) });
        const { zookie } = await operations.writeSchema(ctx.tenant, req.schema);
        return { writtenAt: zedToken(zookie) };
      },
    ),

    reflectSchema: calls.unimplemented("ReflectSchema", REFLECTION),
    computablePermissions: calls.unimplemented("ComputablePermissions", REFLECTION),
    dependentRelations: calls.unimplemented("DependentRelations", REFLECTION),
    diffSchema: calls.unimplemented(
      "DiffSchema",
      "use trellis.v1.SchemaService/DiffSchema on the same port",
    ),
  };
}
