/**
 * Clients of the services the generated code does not cover (health, reflection), loaded from
 * their .proto files, and a pino logger whose lines a test can read.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import {
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import pino from "pino";

type GrpcCtor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Client;

export function healthClient(address: string) {
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: GrpcCtor } } };
  };
  const client = new pkg.grpc.health.v1.Health(address, credentials.createInsecure()) as Client & {
    check(
      req: { service: string },
      cb: (err: ServiceError | null, res: { status: string }) => void,
    ): void;
  };
  return {
    client,
    check: (service: string) =>
      new Promise<string>((resolve, reject) =>
        client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
      ),
  };
}

function reflectionClient(address: string) {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
  const pkg = loadPackageDefinition(
    loadSync("grpc/reflection/v1/reflection.proto", { includeDirs: [root], keepCase: true }),
  ) as unknown as { grpc: { reflection: { v1: { ServerReflection: GrpcCtor } } } };
  return new pkg.grpc.reflection.v1.ServerReflection(
    address,
    credentials.createInsecure(),
  ) as Client & {
    ServerReflectionInfo(
      metadata: Metadata,
    ): NodeJS.ReadWriteStream & { write(m: unknown): boolean; end(): void };
  };
}

/** A pino logger that keeps its lines for inspection. */
export function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n"))
        if (line.trim() !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

/** The service names reflection lists, asked with `metadata` (a credential, when needed). */
export async function listServices(address: string, metadata = new Metadata()): Promise<string[]> {
  const client = reflectionClient(address);
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo(metadata);
      call.on("data", (m: { list_services_response?: { service: { name: string }[] } }) => {
        resolve((m.list_services_response?.service ?? []).map((s) => s.name));
        call.end();
      });
      call.on("error", reject);
      call.write({ list_services: "" });
    });
  } finally {
    client.close();
  }
}
