/**
 * The listening socket of the HTTP face (HTTP/1.1, or HTTPS with the gRPC port's certificate),
 * and its shutdown: stop accepting, let the requests in flight finish (their connections then
 * close), or cut them all when the grace period is over.
 *
 * `requestTimeout` is off: a streamed import may take longer than any fixed bound to upload,
 * and a call's own deadline (`grpc-timeout`) bounds it; `headersTimeout` (60 s) still bounds a
 * client that never finishes its headers.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { formatListenAddress } from "../listen-address.js";
import type { HttpFace } from "./http-face.js";

export interface HttpListener {
  /** `host:port` actually bound. */
  readonly address: string;
  /** Stops accepting; resolves once every request in flight is answered and its connection closed. */
  close(): Promise<void>;
  /** Cuts every connection at once. */
  destroy(): void;
}

export async function listenHttp(options: {
  readonly face: HttpFace;
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: string; readonly key: string };
}): Promise<HttpListener> {
  const { face, host, port, tls } = options;
  const serverOptions = { requestTimeout: 0 };
  const server: Server =
    tls === undefined
      ? createHttpServer(serverOptions, face.listener)
      : createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, face.listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
  let closed: Promise<void> | undefined;
  return {
    address: formatListenAddress(host, boundPort),
    close() {
      closed ??= new Promise<void>((resolve) => {
        // A connection becomes idle once its call is done: close it then.
        face.close(() => setImmediate(() => server.closeIdleConnections()));
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
    destroy() {
      server.closeAllConnections();
    },
  };
}
