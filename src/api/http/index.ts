/**
 * `api/http/` owns the HTTP/JSON face: trellis.v1 and SpiceDB's gateway routes served by the
 * same pipeline-wrapped handlers as the gRPC port, through calls that look like grpc-js server
 * calls; proto3 JSON bodies, NDJSON streams, errors as HTTP statuses. It may import what `api/`
 * may.
 */
export { HttpFace, type HttpFaceOptions } from "./http-face.js";
export { type HttpListener, listenHttp } from "./http-listener.js";
export {
  errorBody,
  GATEWAY_HTTP_STATUS,
  httpStatusOf,
  PAYLOAD_TOO_LARGE,
  TRELLIS_HTTP_STATUS,
} from "./http-status.js";
export type { ErrorDialect, JsonRoute } from "./json-route.js";
export { type RegisteredMethods, recordServices } from "./registered-methods.js";
export { StaticFiles, type StaticFilesOptions } from "./static-files.js";
export { TRELLIS_JSON_ROUTES } from "./trellis-routes.js";
