/**
 * The floor of the HTTP benchmark: an empty `node:http` JSON handler for Check — it reads the
 * body, parses it into a CheckRequest with the generated `fromJSON` (as the Trellis HTTP face
 * does), and answers a fixed, realistically shaped CheckResponse through `toJSON`, with a
 * content-length. What node:http and JSON cost on this machine for the same messages, and
 * nothing else: no routing table, no authentication, no logging, no deadline timer.
 *
 * Started by bench/http-bench.ts; by hand:
 *   node bench/.build/bench/http-floor-server.js --listen 127.0.0.1:0
 * It prints `floor server listening on HOST:PORT` and stops on SIGTERM or SIGINT.
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { ZookieCodec } from "../src/engine/zookie.js";
import { Permissionship } from "../src/gen/trellis/v1/core.js";
import { CheckRequest, CheckResponse } from "../src/gen/trellis/v1/permission_service.js";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "127.0.0.1:0" } },
});

/** A zookie of Trellis's form and length (see bench/grpc-floor-server.ts). */
const CHECK_RESPONSE: CheckResponse = {
  checkedAt: {
    token: new ZookieCodec("floor-server-zookie-secret-0123456789").encode("bench", 30),
  },
  permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
  partialCaveatInfo: undefined,
  debugTrace: undefined,
};

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const text =
      chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
    CheckRequest.fromJSON(JSON.parse(text));
    const body = JSON.stringify(CheckResponse.toJSON(CHECK_RESPONSE));
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
});

const colon = values.listen.lastIndexOf(":");
const host = values.listen.slice(0, colon);
server.listen(Number(values.listen.slice(colon + 1)), host, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  console.log(`floor server listening on ${host}:${port}`);
});

const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
