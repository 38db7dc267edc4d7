/**
 * The method implementations a grpc-js server was given, by gRPC path: the very functions the
 * request pipeline wrapped (caller, scope, deadline, log, audit, metrics), which the HTTP face
 * calls with calls of its own. Recorded as `addService` is called, so whatever the server
 * registers, whoever registers it, is what HTTP serves.
 */
import type {
  Server,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";

export type CallKind = "unary" | "serverStream" | "clientStream" | "bidiStream";

export interface RegisteredMethod {
  readonly kind: CallKind;
  readonly handler: UntypedHandleCall;
}

export type RegisteredMethods = ReadonlyMap<string, RegisteredMethod>;

function kindOf(requestStream: boolean, responseStream: boolean): CallKind {
  if (requestStream) return responseStream ? "bidiStream" : "clientStream";
  return responseStream ? "serverStream" : "unary";
}

/**
 * Records every service added to `server` from now on (it is still added as before); the map
 * fills as services are added.
 */
export function recordServices(server: Server): RegisteredMethods {
  const methods = new Map<string, RegisteredMethod>();
  const addService = server.addService.bind(server);
  server.addService = (
    service: ServiceDefinition,
    implementation: UntypedServiceImplementation,
  ): void => {
    addService(service, implementation);
    for (const [name, method] of Object.entries(service)) {
      // As grpc-js looks an implementation up: by the definition's key, then its original name.
      const handler =
        implementation[name] ??
        (typeof method.originalName === "string" ? implementation[method.originalName] : undefined);
      if (typeof handler !== "function") continue;
      methods.set(method.path, {
        kind: kindOf(method.requestStream, method.responseStream),
        handler,
      });
    }
  };
  return methods;
}
