/**
 * One gRPC call with request headers exactly as a test writes them — bytes no conforming client
 * sends: several `authorization` headers, values with a non-breaking space, a tab or a byte
 * outside ASCII. Node's HTTP/2 client refuses to send such headers, so the call goes through a
 * small TCP relay in front of the server that replaces the client's HEADERS frame with one
 * encoded here (HPACK literals, no Huffman, no indexing); everything else passes unchanged,
 * and the client decodes the server's answer as usual.
 */
import { connect as http2Connect } from "node:http2";
import { createServer, connect as netConnect, type Socket } from "node:net";

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

function hpackInteger(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(value: Buffer): Buffer {
  return Buffer.concat([hpackInteger(value.length, 7, 0), value]);
}

/** A header block of literal fields "without indexing, new name". */
function headerBlock(headers: readonly (readonly [string, string | Buffer])[]): Buffer {
  return Buffer.concat(
    headers.flatMap(([name, value]) => [
      Buffer.from([0x00]),
      hpackString(Buffer.from(name, "latin1")),
      hpackString(typeof value === "string" ? Buffer.from(value, "latin1") : value),
    ]),
  );
}

/** Relays client → server, replacing the payload of every HEADERS frame with `block`. */
function rewriteHeaders(from: Socket, to: Socket, block: Buffer): void {
  let pending = Buffer.alloc(0);
  let prefaceDone = false;
  from.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    if (!prefaceDone) {
      if (pending.length < PREFACE_LENGTH) return;
      out.push(pending.subarray(0, PREFACE_LENGTH));
      pending = pending.subarray(PREFACE_LENGTH);
      prefaceDone = true;
    }
    while (pending.length >= FRAME_HEADER) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < FRAME_HEADER + length) break;
      const frame = pending.subarray(0, FRAME_HEADER + length);
      pending = pending.subarray(FRAME_HEADER + length);
      if (frame[3] !== HEADERS) {
        out.push(frame);
        continue;
      }
      const header = Buffer.alloc(FRAME_HEADER);
      header.writeUIntBE(block.length, 0, 3);
      header[3] = HEADERS;
      header[4] = END_HEADERS | (frame[4]! & END_STREAM);
      frame.copy(header, 5, 5, 9);
      out.push(header, block);
    }
    if (out.length > 0) to.write(Buffer.concat(out));
  });
  from.on("end", () => to.end());
}

export interface RawCallResult {
  /** The grpc-status the server answered, if any. */
  readonly code: number | undefined;
}

/**
 * Calls `path` (`/trellis.v1.PermissionService/Check`) on `address` with the required gRPC
 * headers plus `extra`, sending `message` (an encoded request) as the one request message.
 */
export async function rawGrpcCall(
  address: string,
  path: string,
  extra: readonly (readonly [string, string | Buffer])[],
  message: Uint8Array,
): Promise<RawCallResult> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  const block = headerBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", address],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra,
  ]);
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = netConnect(port, host);
    sockets.add(client).add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.pipe(client);
    rewriteHeaders(client, upstream, block);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const relayPort = (relay.address() as { port: number }).port;
  const session = http2Connect(`http://127.0.0.1:${relayPort}`);
  try {
    return await new Promise<RawCallResult>((resolve, reject) => {
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let code: number | undefined;
      const read = (headers: Record<string, unknown>) => {
        if (headers["grpc-status"] !== undefined) code = Number(headers["grpc-status"]);
      };
      stream.on("response", read);
      stream.on("trailers", read);
      stream.on("error", reject);
      stream.on("close", () => resolve({ code }));
      stream.resume();
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      Buffer.from(message).copy(frame, 5);
      stream.end(frame);
    });
  } finally {
    session.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  }
}
