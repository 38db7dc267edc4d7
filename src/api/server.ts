/**
 * `startServer`: the gRPC server of Trellis — the four trellis.v1 services, health and
 * reflection on one listener, Prometheus metrics on another — over an engine the caller made
 * (and closes). It does not create datastores or engines; `cli/` and tests do.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import pino, { type Logger } from "pino";
import {
  ApiKeys,
  type AuditLog,
  Authenticator,
  FailureLimiter,
  type JwtVerifier,
  PinoAuditLog,
} from "../auth/index.js";
import { TrellisError } from "../core/errors.js";
import { checkTenantId } from "../core/names.js";
import type { TenantId } from "../core/revision.js";
import type { Engine } from "../engine/engine.js";
import { AdminServiceService } from "../gen/trellis/v1/admin_service.js";
import { PermissionServiceService } from "../gen/trellis/v1/permission_service.js";
import { RelationshipServiceService } from "../gen/trellis/v1/relationship_service.js";
import { SchemaServiceService } from "../gen/trellis/v1/schema_service.js";
import { Operations } from "../operations/operations.js";
import { adminService } from "./admin-service.js";
import { guardAuthorizationHeaders } from "./authorization-header.js";
import { SPICEDB_GATEWAY_ROUTES } from "./authzed/gateway-routes.js";
import { addSpiceDBServices, SPICEDB_SERVICE_NAMES } from "./authzed/index.js";
import { AuthenticatedCallers, type CallerResolver, InsecureDevCallers } from "./caller.js";
import { routeGrpcLogs } from "./grpc-logging.js";
import {
  HttpFace,
  type HttpListener,
  listenHttp,
  recordServices,
  StaticFiles,
  type StaticFilesOptions,
  TRELLIS_JSON_ROUTES,
} from "./http/index.js";
import { formatListenAddress, parseListenAddress, resolvesToLoopback } from "./listen-address.js";
import { PerTokenTenants } from "./per-token-tenants.js";
import { permissionService } from "./permission-service.js";
import { relationshipService } from "./relationship-service.js";
import { decodingFailuresAsArguments } from "./request-decoding.js";
import { RequestPipeline } from "./request-pipeline.js";
import { schemaService } from "./schema-service.js";
import { resolveServerLimits, type ServerLimits } from "./server-limits.js";
import { ServerMetrics } from "./server-metrics.js";
import { addReflection } from "./server-reflection.js";
import { StoreHealthProbe } from "./store-health-probe.js";

export interface ServerOptions {
  /** Answers every request; its store (`engine.store`) is the one the server reads and probes. */
  engine: Engine;
  /** `host:port` to listen on, e.g. `127.0.0.1:50051`; port 0 picks a free port. */
  listen: string;
  /**
   * Serve without caller authentication, for local development: refuses a listen host that
   * resolves to any non-loopback address and logs a loud warning. Otherwise every call but
   * health needs a credential.
   */
  insecureDev: boolean;
  /**
   * With `insecureDev`: every distinct bearer token acts on a tenant of its own, created empty on
   * first use, and a call without one on `defaultTenant` (`trellis serve-testing`: users'
   * integration tests run in parallel without clearing anything). No token is checked.
   */
  perTokenTenants?: boolean;
  /** Caller authentication (not with `insecureDev`). Default: API keys only, no JWT. */
  auth?: ServerAuthOptions;
  /** Where writes and refused credentials are recorded. Default: the logger, `audit: true`. */
  audit?: AuditLog;
  /**
   * The tenant requests act on (created at start if missing). In insecure-dev mode a
   * `trellis-tenant` metadata header may name another tenant.
   */
  defaultTenant: string;
  /** Overrides of `DEFAULT_SERVER_LIMITS` (see `server-limits.ts` for each default). */
  limits?: Partial<ServerLimits>;
  /** Default: pino to stderr at level info. */
  logger?: Logger;
  /**
   * `host:port` (or a bare port, bound on 127.0.0.1) for Prometheus `/metrics` over plain HTTP,
   * without authentication: its labels name tenants. A host that is not loopback is logged as
   * a loud warning. Absent: no metrics listener.
   */
  metricsListen?: string;
  /** Serve TLS with this certificate chain and private key (PEM contents, not paths). */
  tls?: { cert: string; key: string };
  /**
   * `host:port` for HTTP/JSON (`api/http/`): every trellis.v1 RPC at its gRPC path and
   * SpiceDB's gateway routes, served by the same handlers, credentials and limits as gRPC;
   * HTTPS with `tls`. Absent: no HTTP listener.
   */
  httpListen?: string;
  /**
   * Files served on the HTTP listener under a path prefix, read once at start (the playground:
   * `trellis serve --playground`). Needs `httpListen`.
   */
  httpStaticFiles?: StaticFilesOptions;
}

export interface ServerAuthOptions {
  /** Accept JWTs verified with these settings; absent: API keys only. */
  readonly jwt?: JwtVerifier;
  /**
   * Failed authentications allowed per peer address (an IPv6 one by its /64), and per API-key
   * id, per minute; past them, that source's failing attempts are RESOURCE_EXHAUSTED for the
   * rest of the minute. Valid credentials are always served. Default 20.
   */
  readonly maxFailuresPerMinute?: number;
  /** How long a verified API key is trusted without a store read. Default 5000 ms. */
  readonly keyCacheTtlMs?: number;
}

export interface RunningServer {
  /** `host:port` actually bound (the chosen port when 0 was asked). */
  readonly address: string;
  /** `host:port` of the metrics listener, when `metricsListen` was given. */
  readonly metricsAddress: string | undefined;
  /** `host:port` of the HTTP/JSON listener, when `httpListen` was given. */
  readonly httpAddress: string | undefined;
  /**
   * Stops accepting calls, ends open streams (UNAVAILABLE), lets unary calls in flight finish
   * for up to `graceMs` (default 10 000), then cuts whatever remains. Health turns NOT_SERVING
   * first. The engine and its store stay open: the caller closes them after this resolves.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

const SERVICE_NAMES = [
  "trellis.v1.PermissionService",
  "trellis.v1.RelationshipService",
  "trellis.v1.SchemaService",
  "trellis.v1.AdminService",
  ...SPICEDB_SERVICE_NAMES,
] as const;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("startServer needs an options object");
  }
  const { engine } = options;
  if (engine === undefined || engine === null || typeof engine.check !== "function") {
    throw new TypeError("option engine must be an Engine");
  }
  const insecureDev = options.insecureDev === true;
  if (insecureDev && options.auth !== undefined) {
    throw new TypeError("options insecureDev and auth exclude each other");
  }
  const listen = parseListenAddress(options.listen, "listen");
  const metricsListen =
    options.metricsListen === undefined
      ? undefined
      : parseListenAddress(options.metricsListen, "metricsListen", "127.0.0.1");
  const httpListen =
    options.httpListen === undefined
      ? undefined
      : parseListenAddress(options.httpListen, "httpListen");
  if (options.httpStaticFiles !== undefined && httpListen === undefined) {
    throw new TypeError("option httpStaticFiles is served on the HTTP listener: give httpListen");
  }
  let staticFiles: StaticFiles | undefined;
  try {
    staticFiles =
      options.httpStaticFiles === undefined ? undefined : new StaticFiles(options.httpStaticFiles);
  } catch (err) {
    throw new TypeError(`option httpStaticFiles: ${(err as Error).message}`);
  }
  try {
    checkTenantId(options.defaultTenant, "defaultTenant");
  } catch (err) {
    throw new TypeError(`option defaultTenant: ${(err as Error).message}`);
  }
  const limits = resolveServerLimits(options.limits);
  // The name is not trusted: what it resolves to now is what would be bound.
  const listenHost = await resolvesToLoopback(listen.host);
  if (insecureDev && !listenHost.loopback) {
    throw new TypeError(
      `listen: insecure-dev mode serves without authentication and binds loopback addresses only (127.0.0.0/8, ::1), but ${listen.host} resolves to ${listenHost.addresses.join(", ") || "nothing"}`,
    );
  }
  const httpHost = httpListen === undefined ? undefined : await resolvesToLoopback(httpListen.host);
  if (insecureDev && httpListen !== undefined && httpHost?.loopback !== true) {
    throw new TypeError(
      `httpListen: insecure-dev mode serves without authentication and binds loopback addresses only (127.0.0.0/8, ::1), but ${httpListen.host} resolves to ${httpHost?.addresses.join(", ") || "nothing"}`,
    );
  }
  const ownLogger = options.logger === undefined;
  const logger =
    options.logger ?? pino({ level: "info" }, pino.destination({ dest: 2, sync: false }));
  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [
            {
              cert_chain: Buffer.from(options.tls.cert),
              private_key: Buffer.from(options.tls.key),
            },
          ],
          false,
        );

  await ensureTenant(engine, options.defaultTenant);

  const metrics = new ServerMetrics(engine);
  const audit = options.audit ?? new PinoAuditLog(logger);
  const apiKeys = new ApiKeys(engine.store, {
    clock: engine.clock,
    ...(options.auth?.keyCacheTtlMs !== undefined
      ? { cacheTtlMs: options.auth.keyCacheTtlMs }
      : {}),
  });
  const authenticator = insecureDev
    ? undefined
    : new Authenticator({
        apiKeys,
        ...(options.auth?.jwt !== undefined ? { jwt: options.auth.jwt } : {}),
        limiter: new FailureLimiter({
          clock: engine.clock,
          maxFailures: options.auth?.maxFailuresPerMinute ?? 20,
          windowMs: 60_000,
        }),
        audit,
      });
  const callers: CallerResolver =
    authenticator === undefined
      ? options.perTokenTenants === true
        ? new PerTokenTenants(options.defaultTenant, (tenant) => ensureTenant(engine, tenant))
        : new InsecureDevCallers(options.defaultTenant)
      : new AuthenticatedCallers(authenticator, options.defaultTenant);
  const pipeline = new RequestPipeline({ logger, metrics, limits, callers, audit });
  const server = new Server({
    "grpc.max_receive_message_length": limits.maxReceiveMessageBytes,
  });
  guardAuthorizationHeaders(server);
  // What is registered below is also what the HTTP face serves.
  const registered = recordServices(server);
  server.addService(
    decodingFailuresAsArguments(PermissionServiceService),
    permissionService(engine, pipeline, limits),
  );
  server.addService(
    decodingFailuresAsArguments(RelationshipServiceService),
    relationshipService({ engine, pipeline, limits, metrics, logger }),
  );
  server.addService(
    decodingFailuresAsArguments(SchemaServiceService),
    schemaService(engine, pipeline),
  );
  server.addService(
    decodingFailuresAsArguments(AdminServiceService),
    adminService(engine, apiKeys, pipeline, metrics),
  );
  addSpiceDBServices(server, { operations: new Operations(engine), pipeline, limits });
  const health = new HealthImplementation(
    Object.fromEntries(["", ...SERVICE_NAMES].map((name) => [name, "SERVING" as const])),
  );
  health.addToServer(server);
  addReflection(server, callers);

  // From here on grpc-js may log what peers send: through our logger, redacted.
  const endGrpcLogs = routeGrpcLogs(logger);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      formatListenAddress(listen.host, listen.port),
      credentials,
      (err, boundPort) => (err === null ? resolve(boundPort) : reject(err)),
    );
  }).catch((err: unknown) => {
    endGrpcLogs();
    throw err;
  });
  const address = formatListenAddress(listen.host, port);

  const probe = new StoreHealthProbe({
    store: engine.store,
    health,
    services: ["", ...SERVICE_NAMES],
    intervalMs: limits.healthProbeIntervalMs,
    timeoutMs: limits.healthProbeTimeoutMs,
    metrics,
    logger,
  });
  probe.start();

  let metricsListener: { address: string; close(): Promise<void> } | undefined;
  if (metricsListen !== undefined) {
    try {
      metricsListener = await metrics.listen(
        formatListenAddress(metricsListen.host, metricsListen.port),
      );
      if (!(await resolvesToLoopback(metricsListen.host)).loopback) {
        logger.warn(
          { event: "metrics_exposed", metrics: metricsListener.address },
          "METRICS EXPOSED: /metrics is served without authentication on a non-loopback address, and its labels name tenants and methods; bind it to 127.0.0.1 (the default for a bare port) or keep it behind a firewall",
        );
      }
    } catch (err) {
      probe.stop();
      server.forceShutdown();
      endGrpcLogs();
      throw err;
    }
  }

  let httpListener: HttpListener | undefined;
  if (httpListen !== undefined) {
    try {
      const face = new HttpFace({
        routes: [...TRELLIS_JSON_ROUTES, ...SPICEDB_GATEWAY_ROUTES],
        methods: registered,
        maxMessageBytes: limits.maxReceiveMessageBytes,
        ...(staticFiles !== undefined ? { staticFiles } : {}),
      });
      httpListener = await listenHttp({
        face,
        host: httpListen.host,
        port: httpListen.port,
        ...(options.tls !== undefined ? { tls: options.tls } : {}),
      });
    } catch (err) {
      probe.stop();
      server.forceShutdown();
      await metricsListener?.close();
      endGrpcLogs();
      throw err;
    }
    if (!insecureDev && options.tls === undefined && httpHost?.loopback !== true) {
      logger.warn(
        { event: "http_without_tls", http: httpListener.address },
        "no TLS on a non-loopback HTTP address: credentials travel in clear text; serve TLS (--tls-cert, --tls-key) or terminate it in front of this server",
      );
    }
  }

  if (insecureDev) {
    logger.warn(
      { address },
      options.perTokenTenants === true
        ? "TESTING MODE: no credentials are checked; every bearer token acts on a tenant of its own. For tests only; never expose this server."
        : "INSECURE DEV MODE: no caller authentication; every caller can read and write every tenant. For local development only; never expose this server.",
    );
  } else if (options.tls === undefined && !listenHost.loopback) {
    logger.warn(
      { address },
      "no TLS on a non-loopback address: credentials travel in clear text; serve TLS (--tls-cert, --tls-key) or terminate it in front of this server",
    );
  }
  logger.info(
    {
      address,
      metrics: metricsListener?.address,
      http: httpListener?.address,
      tls: options.tls !== undefined,
      auth: insecureDev ? "off" : options.auth?.jwt !== undefined ? "api keys, jwt" : "api keys",
      limits,
    },
    "trellis gRPC server listening",
  );

  let closing: Promise<void> | undefined;
  const close = async (graceMs: number): Promise<void> => {
    probe.stop();
    const drained = Promise.all([
      new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
      httpListener?.close(),
    ]);
    pipeline.cancelStreams(new TrellisError("UNAVAILABLE", "the server is shutting down"));
    let timer: NodeJS.Timeout | undefined;
    const forced = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (forced) {
      logger.warn({ graceMs }, "calls still open after the grace period: closing them");
      server.forceShutdown();
      httpListener?.destroy();
    }
    await metricsListener?.close();
    authenticator?.flush();
    endGrpcLogs();
    logger.info({ address }, "trellis gRPC server stopped");
    if (ownLogger) logger.flush();
  };

  return {
    address,
    metricsAddress: metricsListener?.address,
    httpAddress: httpListener?.address,
    close(closeOptions = {}) {
      const graceMs = closeOptions.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
      if (!Number.isFinite(graceMs) || graceMs < 0) {
        return Promise.reject(
          new TypeError(`graceMs must be a non-negative number, got ${graceMs}`),
        );
      }
      closing ??= close(graceMs);
      return closing;
    },
  };
}

/** Creates the tenant unless it exists (another replica may be creating it at the same time). */
async function ensureTenant(engine: Engine, tenant: TenantId): Promise<void> {
  const tenants = await engine.store.listTenants();
  if (tenants.includes(tenant)) return;
  try {
    await engine.store.createTenant(tenant);
  } catch (err) {
    if (!(err instanceof TrellisError && err.code === "ALREADY_EXISTS")) throw err;
  }
}
