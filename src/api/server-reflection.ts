/**
 * gRPC server reflection (what `grpcurl list` and `describe` read), built from the .proto files
 * themselves — the published contract in `proto/` and the health service's — rather than from
 * the generated code, so that what reflection shows is exactly what the package ships.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Server } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** `proto/` of the package: two levels above this file in `src/api/` and in `dist/api/`. */
export const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));

/** The public contract's files, relative to `PROTO_ROOT`. */
export function contractProtoFiles(): string[] {
  return readdirSync(join(PROTO_ROOT, "trellis", "v1"))
    .filter((f) => f.endsWith(".proto"))
    .sort()
    .map((f) => `trellis/v1/${f}`);
}

export function addReflection(server: Server): void {
  const definition = loadSync([...contractProtoFiles(), healthProtoPath], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  new ReflectionService(definition).addToServer(server);
}
