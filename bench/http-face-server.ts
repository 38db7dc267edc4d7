/**
 * The HTTP face alone, for the HTTP benchmark: Trellis's `HttpFace` (routing, body reading,
 * the call adapter, proto3 JSON both ways) in front of a Check handler that answers a fixed
 * CheckResponse at once — no request pipeline, no engine. Between the floor (an empty
 * node:http JSON handler) and Trellis, it shows what the face itself costs, apart from the
 * pipeline and the check that gRPC pays as well.
 *
 *   node bench/.build/bench/http-face-server.js --listen 127.0.0.1:0
 * It prints `face server listening on HOST:PORT` and stops on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import type { sendUnaryData } from "@grpc/grpc-js";
import { HttpFace, listenHttp, TRELLIS_JSON_ROUTES } from "../src/api/http/index.js";
import { ZookieCodec } from "../src/engine/zookie.js";
import { Permissionship } from "../src/gen/trellis/v1/core.js";
import type { CheckResponse } from "../src/gen/trellis/v1/permission_service.js";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "127.0.0.1:0" } },
});

/** As the floor server answers (bench/http-floor-server.ts). */
const CHECK_RESPONSE: CheckResponse = {
  checkedAt: {
    token: new ZookieCodec("floor-server-zookie-secret-0123456789").encode("bench", 30),
  },
  permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
  partialCaveatInfo: undefined,
  debugTrace: undefined,
};

const face = new HttpFace({
  routes: TRELLIS_JSON_ROUTES,
  methods: new Map([
    [
      "/trellis.v1.PermissionService/Check",
      {
        kind: "unary",
        handler: (_call: unknown, callback: sendUnaryData<CheckResponse>) =>
          callback(null, CHECK_RESPONSE),
      },
    ],
  ]),
  maxMessageBytes: 4 * 1024 * 1024,
});
const colon = values.listen.lastIndexOf(":");
const listener = await listenHttp({
  face,
  host: values.listen.slice(0, colon),
  port: Number(values.listen.slice(colon + 1)),
});
console.log(`face server listening on ${listener.address}`);

const stop = () => listener.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
