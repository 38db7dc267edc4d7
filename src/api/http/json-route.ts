/**
 * What the HTTP face needs to know of one RPC it serves: the HTTP path, the gRPC method it
 * calls, how its messages map to proto3 JSON, and which error dialect its callers expect. The
 * call itself (unary, server stream, client stream) is whatever the method registered with the
 * gRPC server is, so a route never restates it.
 */

/**
 * How failures are written:
 * - `trellis`: `{"code": "NOT_FOUND", "message": "..."}` (the gRPC code's name), with the
 *   statuses of `TRELLIS_HTTP_STATUS`;
 * - `gateway`: as SpiceDB's HTTP gateway (grpc-gateway) writes them, a `google.rpc.Status`
 *   in JSON, `{"code": 5, "message": "...", "details": []}`, with its statuses
 *   (`GATEWAY_HTTP_STATUS`), so that a caller of SpiceDB's HTTP API reads them unchanged.
 */
export type ErrorDialect = "trellis" | "gateway";

export interface JsonRoute {
  /** The path served, for POST: `/trellis.v1.PermissionService/Check`, `/v1/permissions/check`. */
  readonly httpPath: string;
  /** The gRPC path of the method it calls, as registered: `/trellis.v1.PermissionService/Check`. */
  readonly grpcPath: string;
  readonly errors: ErrorDialect;
  /** The request message of a proto3 JSON object; may throw when the JSON does not map. */
  decodeRequest(json: unknown): unknown;
  /** The proto3 JSON of a response message. */
  encodeResponse(message: unknown): unknown;
}
