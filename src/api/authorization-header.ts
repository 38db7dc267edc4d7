/**
 * The `authorization` header as the peer sent it, before grpc-js turns headers into metadata.
 * Two things go wrong there otherwise:
 * - Node's HTTP/2 keeps only the first of several `authorization` headers (it is a
 *   single-value header), so a request carrying two would be judged by the first alone;
 * - grpc-js drops a metadata value outside printable ASCII (a token pasted after a
 *   non-breaking space, a tab, a stray byte) and logs it, whole, as an error.
 * So each HTTP/2 server grpc-js creates gets a first `stream` listener that reads the raw header
 * list and replaces the `authorization` value grpc-js will read: several values become
 * `DUPLICATE_AUTHORIZATION` (twice, so that `Metadata.get` returns two values), a value grpc-js
 * would refuse becomes `MALFORMED_AUTHORIZATION`. The credential itself never reaches grpc-js
 * in either case, and the authenticator refuses both (UNAUTHENTICATED, audited).
 *
 * grpc-js creates its HTTP/2 servers in `Server#createHttp2Server` (not part of its typed API);
 * `guardAuthorizationHeaders` wraps it before the server binds, and fails start-up loudly if
 * that method is missing rather than serve without the guard.
 */
import type { Http2Server, Http2Stream, IncomingHttpHeaders } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/** What the authenticator sees for a request with several `authorization` headers. */
export const DUPLICATE_AUTHORIZATION = "<duplicate authorization headers>";
/** What it sees for a value grpc-js would drop (outside printable ASCII). */
export const MALFORMED_AUTHORIZATION = "<malformed authorization header>";

const AUTHORIZATION = "authorization";
/** grpc-js's rule for metadata values: printable ASCII and space only. */
const LEGAL_VALUE = /^[ -~]*$/;

/** Rewrites `headers.authorization` from the raw header list (see the file comment). */
export function normalizeAuthorization(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): void {
  const values: string[] = [];
  if (rawHeaders !== undefined) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.toLowerCase() === AUTHORIZATION) values.push(rawHeaders[i + 1]!);
    }
  } else if (headers.authorization !== undefined) {
    values.push(headers.authorization);
  }
  if (values.length > 1) {
    (headers as Record<string, unknown>)[AUTHORIZATION] = [
      DUPLICATE_AUTHORIZATION,
      DUPLICATE_AUTHORIZATION,
    ];
  } else if (values.length === 1 && !LEGAL_VALUE.test(values[0]!)) {
    headers.authorization = MALFORMED_AUTHORIZATION;
  }
}

type Http2ServerFactory = (credentials: unknown) => Http2Server;

/** Installs the listener on every HTTP/2 server `server` creates; call before `bindAsync`. */
export function guardAuthorizationHeaders(server: Server): void {
  const internals = server as unknown as { createHttp2Server?: Http2ServerFactory };
  const create = internals.createHttp2Server;
  if (typeof create !== "function") {
    throw new Error(
      "this version of @grpc/grpc-js has no Server#createHttp2Server: the authorization header guard cannot be installed",
    );
  }
  internals.createHttp2Server = (credentials: unknown) => {
    const http2Server = create.call(server, credentials);
    http2Server.prependListener(
      "stream",
      (_stream: Http2Stream, headers: IncomingHttpHeaders, _flags: number, raw?: string[]) =>
        normalizeAuthorization(headers, raw),
    );
    return http2Server;
  };
}
