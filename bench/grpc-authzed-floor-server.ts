/**
 * The floor of SpiceDB's face in the gRPC benchmark: a process serving SpiceDB's
 * `authzed.api.v1.PermissionsService` with a CheckPermission handler that does no work and
 * answers at once with a fixed, realistically shaped response — what grpc-js costs on this
 * machine for SpiceDB's messages, with the same service definition and codecs as Trellis's
 * SpiceDB face (src/api/authzed/service-definitions.ts over the published authzed-node message
 * types: requests decoded, responses encoded by protobuf-ts).
 *
 * - CheckPermission: `{ checkedAt: { token: <a zookie of Trellis's form> }, permissionship:
 *   HAS_PERMISSION }`.
 * - Every other method: grpc-js's UNIMPLEMENTED.
 *
 * No interceptors, no logging, no deadline timer of its own. Started by bench/grpc-bench.ts;
 * by hand:
 *   node bench/.build/bench/grpc-authzed-floor-server.js --listen 127.0.0.1:0
 * It prints `authzed floor server listening on HOST:PORT` and stops on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import { v1 } from "@authzed/authzed-node";
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { serviceDefinition } from "../src/api/authzed/service-definitions.js";
import { ZookieCodec } from "../src/engine/zookie.js";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "127.0.0.1:0" } },
});

/** A zookie of Trellis's form and length, as bench/grpc-floor-server.ts answers with. */
const CHECK_RESPONSE: v1.CheckPermissionResponse = {
  checkedAt: {
    token: new ZookieCodec("floor-server-zookie-secret-0123456789").encode("bench", 30),
  },
  permissionship: v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION,
  partialCaveatInfo: undefined,
  debugTrace: undefined,
};

const handlers = {
  checkPermission: (
    _call: ServerUnaryCall<v1.CheckPermissionRequest, v1.CheckPermissionResponse>,
    callback: sendUnaryData<v1.CheckPermissionResponse>,
  ) => callback(null, CHECK_RESPONSE),
};

const server = new Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
// Methods without a handler get grpc-js's default one: UNIMPLEMENTED.
server.addService(serviceDefinition(v1.PermissionsService), handlers);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(values.listen, ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
const host = values.listen.slice(0, values.listen.lastIndexOf(":"));
console.log(`authzed floor server listening on ${host}:${port}`);

const stop = () => server.tryShutdown(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
