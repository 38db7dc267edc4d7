/**
 * The span of one request, whatever its face: started by the pipeline when the call arrives,
 * continuing the caller's trace from its W3C `traceparent`/`tracestate` metadata (an HTTP
 * face passes its headers as metadata), ended with the call's status. Only names, the tenant,
 * the request id and the status go on it; the request's messages and credentials never do.
 */
import { type Metadata, status } from "@grpc/grpc-js";
import { SPAN_ATTRIBUTES, type TraceSpan, tracing } from "../core/tracing.js";
import { statusName } from "./errors.js";

/**
 * Statuses that mark a request span failed: the server's faults, as OpenTelemetry's RPC
 * conventions have it. A caller's mistake (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, …)
 * is an answer, recorded in the status attributes only.
 */
const SERVER_FAULTS: ReadonlySet<status> = new Set([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/** `trellis.v1.PermissionService/Check` for a method logged as `PermissionService/Check`. */
function qualified(method: string): { service: string; rpc: string } {
  const slash = method.indexOf("/");
  const service = method.slice(0, slash);
  return {
    service: service.includes(".") ? service : `trellis.v1.${service}`,
    rpc: method.slice(slash + 1),
  };
}

function header(metadata: Metadata, name: string): string | undefined {
  const values = metadata.get(name).filter((v): v is string => typeof v === "string");
  return values.length === 0 ? undefined : values.join(",");
}

/** Starts the request's span. Call only with `tracing.enabled`. */
export function startRequestSpan(method: string, requestId: string, metadata: Metadata): TraceSpan {
  const { service, rpc } = qualified(method);
  const traceparent = header(metadata, "traceparent");
  const tracestate = header(metadata, "tracestate");
  return tracing.tracer.startSpan(`${service}/${rpc}`, {
    kind: "server",
    parent: {
      ...(traceparent !== undefined ? { traceparent } : {}),
      ...(tracestate !== undefined ? { tracestate } : {}),
    },
    attributes: {
      [SPAN_ATTRIBUTES.method]: method,
      [SPAN_ATTRIBUTES.rpcService]: service,
      [SPAN_ATTRIBUTES.rpcMethod]: rpc,
      [SPAN_ATTRIBUTES.requestId]: requestId,
    },
  });
}

/** Ends the request's span with the call's status and, once known, its tenant. */
export function endRequestSpan(span: TraceSpan, code: status, tenant: string): void {
  if (tenant !== "") span.setAttribute(SPAN_ATTRIBUTES.tenant, tenant);
  span.setAttribute(SPAN_ATTRIBUTES.grpcStatus, code);
  const name = statusName(code);
  if (SERVER_FAULTS.has(code)) span.fail(name);
  else span.setAttribute(SPAN_ATTRIBUTES.code, name);
  span.end();
}
