/**
 * grpc-js service definitions of SpiceDB's `authzed.api.v1` services, made from the service
 * descriptions that the published `@authzed/authzed-node` package generates (protobuf-ts): the
 * method paths (`/authzed.api.v1.PermissionsService/CheckPermission`), which side streams, and
 * each message's binary codec. No `.proto` file of SpiceDB's is copied: the wire contract comes
 * from the published client, so that the server speaks exactly what that client speaks.
 */
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The part of a protobuf-ts message type a server needs: its binary codec. */
interface BinaryCodec {
  toBinary(message: never): Uint8Array;
  fromBinary(bytes: Uint8Array): unknown;
}

/** The part of a protobuf-ts `ServiceType` a server needs. */
export interface ServiceDescription {
  readonly typeName: string;
  readonly methods: readonly {
    readonly name: string;
    readonly localName: string;
    readonly I: BinaryCodec;
    readonly O: BinaryCodec;
    readonly serverStreaming?: boolean;
    readonly clientStreaming?: boolean;
  }[];
}

/**
 * The service's methods keyed by their local (lowerCamel) names, as `Server#addService` expects
 * them beside an implementation keyed the same way.
 */
export function serviceDefinition(service: ServiceDescription): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const encode = (codec: BinaryCodec) => (message: unknown) =>
      Buffer.from(codec.toBinary(message as never));
    const decode = (codec: BinaryCodec) => (bytes: Buffer) => codec.fromBinary(bytes);
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.clientStreaming === true,
      responseStream: method.serverStreaming === true,
      requestSerialize: encode(method.I),
      requestDeserialize: decode(method.I),
      responseSerialize: encode(method.O),
      responseDeserialize: decode(method.O),
      originalName: method.localName,
    };
  }
  return definition;
}

/** `Service/Method` as the request pipeline names a call: the service's full name. */
export function methodName(service: ServiceDescription, method: string): string {
  return `${service.typeName}/${method}`;
}
