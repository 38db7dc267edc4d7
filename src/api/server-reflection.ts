/**
 * gRPC server reflection (what `grpcurl list` and `describe` read), built from the .proto files
 * themselves — the published contract in `proto/` and the health service's — rather than from
 * the generated code, so that what reflection shows is exactly what the package ships.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  Server,
  ServerDuplexStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";
import type { CallerResolver } from "./caller.js";
import { toGrpcFailure } from "./errors.js";

/** `proto/` of the package: two levels above this file in `src/api/` and in `dist/api/`. */
export const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));

/** The public contract's files, relative to `PROTO_ROOT`. */
export function contractProtoFiles(): string[] {
  return readdirSync(join(PROTO_ROOT, "trellis", "v1"))
    .filter((f) => f.endsWith(".proto"))
    .sort()
    .map((f) => `trellis/v1/${f}`);
}

/**
 * Reflection needs a credential like every service but health (any scope will do); it is added
 * through a view of the server whose `addService` puts that check in front of each handler.
 */
export function addReflection(server: Server, callers: CallerResolver): void {
  const definition = loadSync([...contractProtoFiles(), healthProtoPath], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const guarded = {
    addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
      const wrapped: UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(implementation)) {
        wrapped[name] = requireCaller(handler as StreamHandler, callers);
      }
      server.addService(service, wrapped);
    },
  } as unknown as Server;
  new ReflectionService(definition).addToServer(guarded);
}

type StreamHandler = (call: ServerDuplexStream<unknown, unknown>) => void;

function requireCaller(handler: StreamHandler, callers: CallerResolver): StreamHandler {
  return (call) => {
    Promise.resolve()
      .then(() => callers.resolve(call.metadata, call.getPeer(), "ServerReflection"))
      .then(
        () => handler(call),
        (err: unknown) => {
          const failure = toGrpcFailure(err, "reflection");
          call.emit("error", { code: failure.code, details: failure.details });
        },
      );
  };
}
