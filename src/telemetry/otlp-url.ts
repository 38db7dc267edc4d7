/**
 * Where OTLP/HTTP trace exports go, from an endpoint given as `OTEL_EXPORTER_OTLP_ENDPOINT`
 * is: the collector's base URL, to which `/v1/traces` is added (a URL that already ends in
 * `/v1/traces` is taken as it is). Kept apart from the exporter so that checking a flag loads
 * no OpenTelemetry code.
 */
export function otlpTracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    throw new TypeError(`the OTLP endpoint must be an http(s) URL, got "${endpoint}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`the OTLP endpoint must be an http(s) URL, got "${endpoint}"`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/v1/traces")) url.pathname = `${path}/v1/traces`;
  return url.toString();
}
