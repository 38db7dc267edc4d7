/**
 * `telemetry/` owns the OpenTelemetry side of tracing: the tracer behind `core/tracing.ts`, the
 * OTLP exporter and the W3C trace context. It may import `core` and `@opentelemetry/*` (only
 * here); only the entry points (`cli/`, the embedded `Trellis`) import it, and load it only
 * when tracing is asked for.
 */
export { OtelTracer } from "./otel-tracer.js";
export { otlpTracesUrl } from "./otlp-url.js";
export {
  SERVICE_NAME,
  startTracing,
  type TracingHandle,
  type TracingOptions,
} from "./start-tracing.js";
