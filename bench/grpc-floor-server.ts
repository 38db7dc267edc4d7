/**
 * The floor of the gRPC benchmark: a process serving trellis.v1.PermissionService with handlers
 * that do no work and answer at once with a fixed, realistically shaped response — what
 * grpc-js itself costs on this machine for the same messages, with the same generated codecs
 * as the Trellis server (requests decoded, responses encoded by ts-proto).
 *
 * - Check: `{ checkedAt: { token: <a zookie of Trellis's form> }, permissionship: HAS_PERMISSION }`.
 * - CheckBulk: the same zookie and one pair per request item, the item echoed with
 *   `HAS_PERMISSION`, as Trellis answers.
 * - Expand, ListObjects, ListSubjects: UNIMPLEMENTED.
 *
 * No interceptors, no logging, no deadline timer of its own. Started by bench/grpc-bench.ts;
 * by hand:
 *   node bench/.build/bench/grpc-floor-server.js --listen 127.0.0.1:0
 * It prints `floor server listening on HOST:PORT` and stops on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { ZookieCodec } from "../src/engine/zookie.js";
import { Permissionship } from "../src/gen/trellis/v1/core.js";
import {
  type CheckBulkResponse,
  type CheckResponse,
  type PermissionServiceServer,
  PermissionServiceService,
} from "../src/gen/trellis/v1/permission_service.js";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "127.0.0.1:0" } },
});

/**
 * A zookie of Trellis's form and length: after the benchmark's bulk load the revision is a
 * small number (one or two base-36 digits).
 */
const checkedAt = {
  token: new ZookieCodec("floor-server-zookie-secret-0123456789").encode("bench", 30),
};
const CHECK_RESPONSE: CheckResponse = {
  checkedAt,
  permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
  partialCaveatInfo: undefined,
  debugTrace: undefined,
};
const ALLOWED = { permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION } as const;

const unimplemented = { code: status.UNIMPLEMENTED, details: "not served by the floor server" };

const handlers: PermissionServiceServer = {
  check: (_call, callback) => callback(null, CHECK_RESPONSE),
  checkBulk: (call, callback) => {
    const response: CheckBulkResponse = {
      checkedAt,
      pairs: call.request.items.map((request) => ({
        request,
        response: { $case: "item", item: ALLOWED },
      })),
    };
    callback(null, response);
  },
  expand: (_call, callback) => callback(unimplemented),
  listObjects: (call) => call.emit("error", unimplemented),
  listSubjects: (call) => call.emit("error", unimplemented),
};

const server = new Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
server.addService(PermissionServiceService, handlers);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(values.listen, ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
const host = values.listen.slice(0, values.listen.lastIndexOf(":"));
console.log(`floor server listening on ${host}:${port}`);

const stop = () => server.tryShutdown(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
