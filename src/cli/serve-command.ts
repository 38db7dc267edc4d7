/**
 * `trellis serve`: opens the datastore, builds the engine, loads a preset schema into an empty
 * tenant (or `--schema FILE`, with what it imports, whenever it differs from the tenant's) and
 * runs the gRPC server until SIGTERM or SIGINT, then shuts down in order (server,
 * engine, store). Every flag has a `TRELLIS_*` environment variable; a flag wins over its
 * variable, and both are checked before anything is opened, with a message naming the flag.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import pino, { type Logger } from "pino";
import { isLoopbackHost, parseListenAddress } from "../api/listen-address.js";
import { DEFAULT_SHUTDOWN_GRACE_MS, startServer } from "../api/server.js";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../api/server-limits.js";
import { type JwtOptions, JwtVerifier, PinoAuditLog } from "../auth/index.js";
import { systemClock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import { isValidTenantId, TENANT_ID_RULE } from "../core/names.js";
import { ENGINE_DEFAULTS, Engine, GC_DEFAULTS } from "../engine/engine.js";
import { defaultMemoryBudget } from "../engine/machine-memory.js";
import { storedZookieSecret } from "../engine/zookie-secret.js";
import { type CaveatLimits, DEFAULT_CAVEAT_LIMITS } from "../schema/caveat-limits.js";
import { PRESETS, type PresetName } from "../schema/presets.js";
import { composeSchemaFile } from "../schema/schema-files.js";
import type { Datastore } from "../store/datastore.js";
import { openDatastore } from "../store/open.js";
import type { TracingHandle } from "../telemetry/index.js";
import { otlpTracesUrl } from "../telemetry/otlp-url.js";
import { playgroundDirectory } from "./playground-files.js";
import type { Output } from "./schema-command.js";

/** A bad flag or environment variable; the message names it. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export { PRESETS };
export type Preset = PresetName;

/** The package's preset schemas: `schema/` two levels above `src/cli/` and `dist/cli/`. */
export const PRESET_DIR = fileURLToPath(new URL("../../schema/", import.meta.url));

const CACHE_DEFAULTS = { maxEntries: 1_000_000, maxBytes: 256 * 1024 * 1024 } as const;

/** What the command runs with, resolved from flags, environment and defaults. */
export interface ServeConfig {
  readonly listen: string;
  readonly datastore: string;
  /** SQLite's `synchronous` setting (see `OpenDatastoreOptions`); undefined for PostgreSQL. */
  readonly sqliteSynchronous: "NORMAL" | "FULL" | undefined;
  readonly preset: Preset | undefined;
  /** `--schema FILE`: the file and the one schema it compiles to (its imports resolved). */
  readonly schema?: { readonly file: string; readonly text: string };
  readonly insecureDev: boolean;
  readonly tenant: string;
  readonly metricsListen: string | undefined;
  /** `--http-listen`: HTTP/JSON beside gRPC; undefined: none. */
  readonly httpListen: string | undefined;
  /** `--playground`: the folder served at `/playground/` on the HTTP listener; undefined: off. */
  readonly playground?: string;
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly maxDepth: number;
  readonly maxStalenessMs: number;
  readonly cacheMaxEntries: number;
  readonly cacheMaxBytes: number;
  readonly caveatLimits: CaveatLimits;
  /** Bytes the in-memory indexes may hold together. */
  readonly memoryBudgetBytes: number;
  readonly gcWindowMs: number;
  /** 0: this process runs no garbage collection. */
  readonly gcIntervalMs: number;
  readonly zookieSecret: string | undefined;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly limits: Partial<ServerLimits>;
  /** JWT verification settings (key material read from its file); undefined: API keys only. */
  readonly jwt: JwtOptions | undefined;
  readonly authFailuresPerMinute: number;
  /** Audit lines go to this file; undefined: to stderr with the request log. */
  readonly auditLog: string | undefined;
  /** The OTLP/HTTP collector traces go to (`--otel-endpoint`); undefined: tracing off. */
  readonly otelEndpoint?: string;
}

/** The raw option values commander collects (strings; the booleans as flags). */
export interface ServeFlags {
  readonly listen?: string;
  readonly datastore?: string;
  readonly sqliteSynchronous?: string;
  readonly preset?: string;
  readonly schema?: string;
  readonly insecureDev?: boolean;
  readonly playground?: boolean;
  readonly tenant?: string;
  readonly metricsListen?: string;
  readonly httpListen?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly maxDepth?: string;
  readonly maxStaleness?: string;
  readonly cacheMaxEntries?: string;
  readonly cacheMaxBytes?: string;
  readonly caveatMaxCost?: string;
  readonly caveatMaxRequestCost?: string;
  readonly memoryBudget?: string;
  readonly gcWindow?: string;
  readonly gcInterval?: string;
  readonly zookieSecret?: string;
  readonly logLevel?: string;
  readonly shutdownGrace?: string;
  readonly maxUpdatesPerWrite?: string;
  readonly maxPreconditionsPerWrite?: string;
  readonly maxChecksPerBulk?: string;
  readonly maxDeletesPerCall?: string;
  readonly maxImportBatch?: string;
  readonly maxMessageBytes?: string;
  readonly defaultDeadline?: string;
  readonly jwtKeyFile?: string;
  readonly jwtJwksUrl?: string;
  readonly jwtHmacSecretFile?: string;
  readonly jwtIssuer?: string;
  readonly jwtAudience?: string;
  readonly jwtAlgorithms?: string;
  readonly jwtTenantClaim?: string;
  readonly jwtScopesClaim?: string;
  readonly jwtClockTolerance?: string;
  readonly authFailuresPerMinute?: string;
  readonly auditLog?: string;
  readonly otelEndpoint?: string;
}

interface FlagSpec {
  readonly flag: string;
  readonly key: keyof ServeFlags;
  readonly env: string;
  readonly description: string;
  readonly defaultValue?: string;
}

/** Every valued flag, its variable and default, in `--help` order. */
const FLAGS: readonly FlagSpec[] = [
  {
    flag: "--listen <host:port>",
    key: "listen",
    env: "TRELLIS_LISTEN",
    description: "gRPC listen address (port 0 picks a free port)",
    defaultValue: "127.0.0.1:50051",
  },
  {
    flag: "--datastore <url>",
    key: "datastore",
    env: "TRELLIS_DATASTORE",
    description: "sqlite:PATH, postgres://user@host:5432/db, or memory: (this process only)",
    defaultValue: "sqlite:./data/trellis.db",
  },
  {
    flag: "--sqlite-synchronous <mode>",
    key: "sqliteSynchronous",
    env: "TRELLIS_SQLITE_SYNCHRONOUS",
    description:
      "SQLite only: normal (a power loss may undo the last commits, never corrupts the file; a process crash loses nothing) or full (every commit fsynced, slower writes) (default: normal)",
  },
  {
    flag: "--preset <name>",
    key: "preset",
    env: "TRELLIS_PRESET",
    description: `schema written to the tenant when it has none: ${PRESETS.join(", ")}`,
  },
  {
    flag: "--schema <file>",
    key: "schema",
    env: "TRELLIS_SCHEMA",
    description:
      "schema file (with the files it imports) written to the tenant at start whenever it differs from the tenant's; not with --preset",
  },
  {
    flag: "--tenant <id>",
    key: "tenant",
    env: "TRELLIS_TENANT",
    description: "the tenant requests act on (created if missing)",
    defaultValue: "default",
  },
  {
    flag: "--metrics-listen <host:port>",
    key: "metricsListen",
    env: "TRELLIS_METRICS_LISTEN",
    description:
      "serve Prometheus /metrics over HTTP, unauthenticated, at [host:]port; a bare port binds 127.0.0.1, any non-loopback host is warned about (labels name tenants) (default: off)",
  },
  {
    flag: "--http-listen <host:port>",
    key: "httpListen",
    env: "TRELLIS_HTTP_LISTEN",
    description:
      "also serve HTTP/JSON here: every trellis.v1 RPC at its gRPC path (POST /trellis.v1.PermissionService/Check) and SpiceDB's gateway routes (POST /v1/permissions/check), streams as NDJSON, the same credentials and limits; HTTPS with --tls-cert (default: off)",
  },
  {
    flag: "--tls-cert <file>",
    key: "tlsCert",
    env: "TRELLIS_TLS_CERT",
    description: "PEM certificate chain; serve TLS (with --tls-key)",
  },
  {
    flag: "--tls-key <file>",
    key: "tlsKey",
    env: "TRELLIS_TLS_KEY",
    description: "PEM private key (with --tls-cert)",
  },
  {
    flag: "--jwt-key-file <file>",
    key: "jwtKeyFile",
    env: "TRELLIS_JWT_KEY_FILE",
    description:
      "accept JWTs signed by this public key: PEM (public key or certificate), JWK or JWKS file; re-read when it changes (within 5 s)",
  },
  {
    flag: "--jwt-jwks-url <url>",
    key: "jwtJwksUrl",
    env: "TRELLIS_JWT_JWKS_URL",
    description: "accept JWTs signed by the keys of this JWKS URL (fetched and cached)",
  },
  {
    flag: "--jwt-hmac-secret-file <file>",
    key: "jwtHmacSecretFile",
    env: "TRELLIS_JWT_HMAC_SECRET_FILE",
    description: "accept HS256/384/512 JWTs with the secret in this file (at least 32 bytes)",
  },
  {
    flag: "--jwt-issuer <iss,...>",
    key: "jwtIssuer",
    env: "TRELLIS_JWT_ISSUER",
    description: "accepted JWT issuers (required with JWTs)",
  },
  {
    flag: "--jwt-audience <aud,...>",
    key: "jwtAudience",
    env: "TRELLIS_JWT_AUDIENCE",
    description: "accepted JWT audiences (required with JWTs)",
  },
  {
    flag: "--jwt-algorithms <alg,...>",
    key: "jwtAlgorithms",
    env: "TRELLIS_JWT_ALGORITHMS",
    description:
      "JWT algorithm allowlist (default: those of the key's family: RSA → RS*/PS*, EC → its curve's ES*, Ed25519 → EdDSA; every asymmetric one for a JWKS URL; HS* with an HMAC secret)",
  },
  {
    flag: "--jwt-tenant-claim <name>",
    key: "jwtTenantClaim",
    env: "TRELLIS_JWT_TENANT_CLAIM",
    description: "the JWT claim naming the tenant",
    defaultValue: "tenant",
  },
  {
    flag: "--jwt-scopes-claim <name>",
    key: "jwtScopesClaim",
    env: "TRELLIS_JWT_SCOPES_CLAIM",
    description: "the JWT claim with the scopes (space-separated string or array)",
    defaultValue: "scope",
  },
  {
    flag: "--jwt-clock-tolerance <duration>",
    key: "jwtClockTolerance",
    env: "TRELLIS_JWT_CLOCK_TOLERANCE",
    description: "leeway for JWT exp and nbf",
    defaultValue: "10s",
  },
  {
    flag: "--auth-failures-per-minute <n>",
    key: "authFailuresPerMinute",
    env: "TRELLIS_AUTH_FAILURES_PER_MINUTE",
    description:
      "failed authentications per peer address (IPv6: per /64) and per API-key id in a minute before their failing attempts are RESOURCE_EXHAUSTED for the rest of it; valid credentials are always served",
    defaultValue: "20",
  },
  {
    flag: "--audit-log <file>",
    key: "auditLog",
    env: "TRELLIS_AUDIT_LOG",
    description: "append audit lines (writes, refused credentials) here (default: stderr)",
  },
  {
    flag: "--zookie-secret <secret>",
    key: "zookieSecret",
    env: "TRELLIS_ZOOKIE_SECRET",
    description:
      "signs zookies, at least 16 bytes (default: one generated once and kept in the datastore, so every replica on it shares it)",
  },
  {
    flag: "--max-depth <n>",
    key: "maxDepth",
    env: "TRELLIS_MAX_DEPTH",
    description: "longest chain of sub-problems a check may follow",
    defaultValue: String(ENGINE_DEFAULTS.maxDepth),
  },
  {
    flag: "--max-staleness <duration>",
    key: "maxStaleness",
    env: "TRELLIS_MAX_STALENESS",
    description: "how old minimize_latency reads may be (ms, or with a unit: 5s)",
    defaultValue: `${ENGINE_DEFAULTS.maxStalenessMs}ms`,
  },
  {
    flag: "--cache-max-entries <n>",
    key: "cacheMaxEntries",
    env: "TRELLIS_CACHE_MAX_ENTRIES",
    description: "most entries of the check result cache",
    defaultValue: String(CACHE_DEFAULTS.maxEntries),
  },
  {
    flag: "--cache-max-bytes <n>",
    key: "cacheMaxBytes",
    env: "TRELLIS_CACHE_MAX_BYTES",
    description: "most bytes of the check result cache (estimated)",
    defaultValue: String(CACHE_DEFAULTS.maxBytes),
  },
  {
    flag: "--memory-budget <size>",
    key: "memoryBudget",
    env: "TRELLIS_MEMORY_BUDGET",
    description:
      "memory the tenants' in-memory indexes share, in bytes or with a unit (512MB, 4GB); least recently used tenants are evicted, a larger tenant is served from the store (default: a quarter of the machine's memory, at most half the heap limit)",
  },
  {
    flag: "--gc-window <duration>",
    key: "gcWindow",
    env: "TRELLIS_GC_WINDOW",
    description:
      "history kept in the store: zookies older than this stop working (ms, or with a unit: 24h)",
    defaultValue: `${GC_DEFAULTS.windowMs / 3_600_000}h`,
  },
  {
    flag: "--gc-interval <duration>",
    key: "gcInterval",
    env: "TRELLIS_GC_INTERVAL",
    description: "how often this process garbage-collects the store's history; 0 turns it off",
    defaultValue: `${GC_DEFAULTS.intervalMs / 60_000}m`,
  },
  {
    flag: "--caveat-max-cost <n>",
    key: "caveatMaxCost",
    env: "TRELLIS_CAVEAT_MAX_COST",
    description:
      "cost one caveat evaluation may spend (about 40-70 ns a unit); more is RESOURCE_EXHAUSTED",
    defaultValue: String(DEFAULT_CAVEAT_LIMITS.maxCostPerEvaluation),
  },
  {
    flag: "--caveat-max-request-cost <n>",
    key: "caveatMaxRequestCost",
    env: "TRELLIS_CAVEAT_MAX_REQUEST_COST",
    description: "cost all the caveat evaluations of one request may spend together",
    defaultValue: String(DEFAULT_CAVEAT_LIMITS.maxCostPerRequest),
  },
  {
    flag: "--max-updates-per-write <n>",
    key: "maxUpdatesPerWrite",
    env: "TRELLIS_MAX_UPDATES_PER_WRITE",
    description: "most updates in one Write",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxUpdatesPerWrite),
  },
  {
    flag: "--max-preconditions-per-write <n>",
    key: "maxPreconditionsPerWrite",
    env: "TRELLIS_MAX_PRECONDITIONS_PER_WRITE",
    description: "most preconditions in one Write or Delete",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxPreconditionsPerWrite),
  },
  {
    flag: "--max-checks-per-bulk <n>",
    key: "maxChecksPerBulk",
    env: "TRELLIS_MAX_CHECKS_PER_BULK",
    description: "most items in one CheckBulk",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxChecksPerBulk),
  },
  {
    flag: "--max-deletes-per-call <n>",
    key: "maxDeletesPerCall",
    env: "TRELLIS_MAX_DELETES_PER_CALL",
    description: "most relationships one Delete removes",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxDeletesPerCall),
  },
  {
    flag: "--max-import-batch <n>",
    key: "maxImportBatch",
    env: "TRELLIS_MAX_IMPORT_BATCH",
    description: "most relationships in one Import message (one atomic batch)",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxRelationshipsPerImportMessage),
  },
  {
    flag: "--max-message-bytes <n>",
    key: "maxMessageBytes",
    env: "TRELLIS_MAX_MESSAGE_BYTES",
    description: "largest request message accepted",
    defaultValue: String(DEFAULT_SERVER_LIMITS.maxReceiveMessageBytes),
  },
  {
    flag: "--default-deadline <duration>",
    key: "defaultDeadline",
    env: "TRELLIS_DEFAULT_DEADLINE",
    description: "deadline of queries whose client sets none",
    defaultValue: `${DEFAULT_SERVER_LIMITS.defaultDeadlineMs / 1000}s`,
  },
  {
    flag: "--shutdown-grace <duration>",
    key: "shutdownGrace",
    env: "TRELLIS_SHUTDOWN_GRACE",
    description: "how long calls in flight may finish at shutdown",
    defaultValue: `${DEFAULT_SHUTDOWN_GRACE_MS / 1000}s`,
  },
  {
    flag: "--otel-endpoint <url>",
    key: "otelEndpoint",
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    description:
      "send OpenTelemetry traces over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (to its /v1/traces); spans per request, engine call and store query (default: off, at no cost)",
  },
  {
    flag: "--log-level <level>",
    key: "logLevel",
    env: "TRELLIS_LOG_LEVEL",
    description: "fatal, error, warn, info (one line per request), debug, trace or silent",
    defaultValue: "info",
  },
];

const INSECURE_DEV_ENV = "TRELLIS_INSECURE_DEV";
const PLAYGROUND_ENV = "TRELLIS_PLAYGROUND";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function integer(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} must be an integer, got "${text}"`);
  const n = Number(text.trim());
  if (n < min || n > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got ${n}`);
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** `250ms`, `5s`, `2m`, `1h`, or a bare number of milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) {
    throw new UsageError(`${flag} must be a duration such as 500ms, 5s or 2m, got "${text}"`);
  }
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "ms"]!);
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

/** `1073741824`, `512MB`, `4GB` (binary multiples). */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?b)?$/i.exec(text.trim());
  if (m === null)
    throw new UsageError(`${flag} must be a size such as 512MB or 4GB, got "${text}"`);
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? "").toLowerCase()]!);
  if (bytes < 1024 * 1024) throw new UsageError(`${flag} must be at least 1MB, got "${text}"`);
  return bytes;
}

/** Flags over environment over defaults, every value checked. */
export function resolveServeConfig(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeConfig {
  const value = (key: keyof ServeFlags): string | undefined => {
    const spec = FLAGS.find((f) => f.key === key)!;
    const given = flags[key];
    if (typeof given === "string") return given;
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    return spec.defaultValue;
  };
  const flagName = (key: keyof ServeFlags) => FLAGS.find((f) => f.key === key)!.flag.split(" ")[0]!;

  const insecureDev =
    flags.insecureDev === true ||
    ["1", "true", "yes"].includes((env[INSECURE_DEV_ENV] ?? "").toLowerCase());

  const listen = value("listen")!;
  const metricsListen = value("metricsListen");
  const httpListen = value("httpListen");
  for (const [key, address, defaultHost] of [
    ["listen", listen, undefined],
    ["metricsListen", metricsListen, "127.0.0.1"],
    ["httpListen", httpListen, undefined],
  ] as const) {
    if (address === undefined) continue;
    try {
      parseListenAddress(address, flagName(key), defaultHost);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const playgroundOn =
    flags.playground === true ||
    ["1", "true", "yes"].includes((env[PLAYGROUND_ENV] ?? "").toLowerCase());
  const playground = playgroundOn ? playgroundDirectory() : undefined;
  if (playgroundOn && httpListen === undefined) {
    throw new UsageError("--playground is served on the HTTP listener: give --http-listen too");
  }
  if (playgroundOn && playground === undefined) {
    throw new UsageError("--playground: the playground is not built (make build builds it)");
  }
  const host = parseListenAddress(listen).host;
  if (insecureDev && !isLoopbackHost(host)) {
    throw new UsageError(
      `--listen: with --insecure-dev the server binds loopback addresses only (127.0.0.1, ::1, localhost), got ${listen}`,
    );
  }
  if (
    insecureDev &&
    httpListen !== undefined &&
    !isLoopbackHost(parseListenAddress(httpListen).host)
  ) {
    throw new UsageError(
      `--http-listen: with --insecure-dev the server binds loopback addresses only (127.0.0.1, ::1, localhost), got ${httpListen}`,
    );
  }

  const datastore = value("datastore")!;
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/|memory:$)/.test(datastore)) {
    throw new UsageError(
      `--datastore must be sqlite:PATH, postgres://… or memory:, got "${datastore}"`,
    );
  }

  const synchronousText = value("sqliteSynchronous");
  let sqliteSynchronous: "NORMAL" | "FULL" | undefined;
  if (synchronousText !== undefined) {
    if (!datastore.startsWith("sqlite:")) {
      throw new UsageError("--sqlite-synchronous applies to sqlite: datastores only");
    }
    const mode = synchronousText.trim().toUpperCase();
    if (mode !== "NORMAL" && mode !== "FULL") {
      throw new UsageError(`--sqlite-synchronous must be normal or full, got "${synchronousText}"`);
    }
    sqliteSynchronous = mode;
  } else if (datastore.startsWith("sqlite:")) {
    sqliteSynchronous = "NORMAL";
  }

  const presetText = value("preset");
  if (presetText !== undefined && !(PRESETS as readonly string[]).includes(presetText)) {
    throw new UsageError(`--preset must be one of ${PRESETS.join(", ")}, got "${presetText}"`);
  }
  const schema = schemaFileConfig(value("schema"), presetText);

  const tenant = value("tenant")!;
  if (!isValidTenantId(tenant)) {
    throw new UsageError(`--tenant must be ${TENANT_ID_RULE}, got "${tenant}"`);
  }

  const certFile = value("tlsCert");
  const keyFile = value("tlsKey");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: give both or neither");
  }
  const readText = (file: string, flag: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new UsageError(
        `${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  };
  const tls =
    certFile !== undefined && keyFile !== undefined
      ? { cert: readText(certFile, "--tls-cert"), key: readText(keyFile, "--tls-key") }
      : undefined;

  const zookieSecret = value("zookieSecret");
  if (zookieSecret !== undefined && Buffer.byteLength(zookieSecret) < 16) {
    throw new UsageError("--zookie-secret must be at least 16 bytes long");
  }

  const logLevel = value("logLevel")!;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }

  const jwt = resolveJwt(value, readText, insecureDev);

  const otelEndpoint = value("otelEndpoint");
  if (otelEndpoint !== undefined) {
    try {
      otlpTracesUrl(otelEndpoint);
    } catch (err) {
      throw new UsageError(`--otel-endpoint: ${(err as Error).message}`);
    }
  }

  return {
    listen,
    datastore,
    sqliteSynchronous,
    jwt,
    authFailuresPerMinute: integer(
      value("authFailuresPerMinute")!,
      "--auth-failures-per-minute",
      1,
      1_000_000,
    ),
    auditLog: value("auditLog"),
    ...(otelEndpoint !== undefined ? { otelEndpoint } : {}),
    preset: presetText as Preset | undefined,
    ...(schema !== undefined ? { schema } : {}),
    insecureDev,
    tenant,
    metricsListen,
    httpListen,
    ...(playground !== undefined ? { playground } : {}),
    tls,
    maxDepth: integer(value("maxDepth")!, "--max-depth", 1, 10_000),
    maxStalenessMs: parseDuration(value("maxStaleness")!, "--max-staleness"),
    cacheMaxEntries: integer(value("cacheMaxEntries")!, "--cache-max-entries", 1),
    cacheMaxBytes: integer(value("cacheMaxBytes")!, "--cache-max-bytes", 1024),
    memoryBudgetBytes:
      value("memoryBudget") === undefined
        ? defaultMemoryBudget()
        : parseSize(value("memoryBudget")!, "--memory-budget"),
    gcWindowMs: parseDuration(value("gcWindow")!, "--gc-window"),
    gcIntervalMs: parseDuration(value("gcInterval")!, "--gc-interval"),
    caveatLimits: {
      maxCostPerEvaluation: integer(value("caveatMaxCost")!, "--caveat-max-cost", 100),
      maxCostPerRequest: integer(value("caveatMaxRequestCost")!, "--caveat-max-request-cost", 100),
    },
    zookieSecret,
    logLevel,
    shutdownGraceMs: parseDuration(value("shutdownGrace")!, "--shutdown-grace"),
    limits: {
      maxUpdatesPerWrite: integer(
        value("maxUpdatesPerWrite")!,
        "--max-updates-per-write",
        1,
        100_000,
      ),
      maxPreconditionsPerWrite: integer(
        value("maxPreconditionsPerWrite")!,
        "--max-preconditions-per-write",
        1,
        100_000,
      ),
      maxChecksPerBulk: integer(value("maxChecksPerBulk")!, "--max-checks-per-bulk", 1, 100_000),
      maxDeletesPerCall: integer(
        value("maxDeletesPerCall")!,
        "--max-deletes-per-call",
        1,
        1_000_000,
      ),
      maxRelationshipsPerImportMessage: integer(
        value("maxImportBatch")!,
        "--max-import-batch",
        1,
        100_000,
      ),
      maxReceiveMessageBytes: integer(
        value("maxMessageBytes")!,
        "--max-message-bytes",
        1024,
        1024 * 1024 * 1024,
      ),
      defaultDeadlineMs: Math.max(
        1,
        parseDuration(value("defaultDeadline")!, "--default-deadline"),
      ),
    },
  };
}

const JWT_SOURCES = ["jwtKeyFile", "jwtJwksUrl", "jwtHmacSecretFile"] as const;

/** JWT settings from the flags: none of them, or one key source with issuer and audience. */
function resolveJwt(
  value: (key: keyof ServeFlags) => string | undefined,
  readText: (file: string, flag: string) => string,
  insecureDev: boolean,
): JwtOptions | undefined {
  const given = JWT_SOURCES.filter((key) => value(key) !== undefined);
  const issuer = value("jwtIssuer");
  const audience = value("jwtAudience");
  if (given.length === 0) {
    if (issuer !== undefined || audience !== undefined || value("jwtAlgorithms") !== undefined) {
      throw new UsageError(
        "--jwt-issuer, --jwt-audience and --jwt-algorithms need a key: --jwt-key-file, --jwt-jwks-url or --jwt-hmac-secret-file",
      );
    }
    return undefined;
  }
  if (insecureDev) {
    throw new UsageError("--insecure-dev turns authentication off: it takes no --jwt-* flags");
  }
  if (given.length > 1) {
    throw new UsageError(
      "give one JWT key source: --jwt-key-file, --jwt-jwks-url or --jwt-hmac-secret-file",
    );
  }
  const list = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
  if (list(issuer).length === 0) throw new UsageError("JWTs need --jwt-issuer");
  if (list(audience).length === 0) throw new UsageError("JWTs need --jwt-audience");
  const keyFile = value("jwtKeyFile");
  const jwksUrl = value("jwtJwksUrl");
  const secretFile = value("jwtHmacSecretFile");
  if (jwksUrl !== undefined && !/^https?:\/\//.test(jwksUrl)) {
    throw new UsageError(`--jwt-jwks-url must be an http(s) URL, got "${jwksUrl}"`);
  }
  // Read now only to refuse an unreadable file early: the verifier reads it and watches it.
  if (keyFile !== undefined) readText(keyFile, "--jwt-key-file");
  const algorithms = value("jwtAlgorithms");
  return {
    issuer: list(issuer),
    audience: list(audience),
    ...(keyFile !== undefined ? { keyFilePath: keyFile } : {}),
    ...(jwksUrl !== undefined ? { jwksUrl } : {}),
    ...(secretFile !== undefined
      ? {
          hmacSecret: new Uint8Array(
            Buffer.from(readText(secretFile, "--jwt-hmac-secret-file").trim(), "utf8"),
          ),
        }
      : {}),
    ...(algorithms !== undefined ? { algorithms: list(algorithms) } : {}),
    tenantClaim: value("jwtTenantClaim")!,
    scopesClaim: value("jwtScopesClaim")!,
    clockToleranceSec: parseDuration(value("jwtClockTolerance")!, "--jwt-clock-tolerance") / 1000,
  };
}

/**
 * `--schema FILE`, compiled with its imports before anything opens: a schema that does not
 * compile stops the start with every error as FILE:line:col.
 */
function schemaFileConfig(
  file: string | undefined,
  preset: string | undefined,
): ServeConfig["schema"] {
  if (file === undefined) return undefined;
  if (preset !== undefined) {
    throw new UsageError("--schema and --preset exclude each other: give one");
  }
  const composed = composeSchemaFile(file);
  if (composed.text === undefined) {
    const errors = composed.diagnostics.map(
      (d) => `${d.file ?? file}:${d.position.line}:${d.position.column}: ${d.message}`,
    );
    throw new UsageError(`--schema: ${file} does not compile:\n${errors.join("\n")}`);
  }
  return { file, text: composed.text };
}

/**
 * Creates the tenant if missing; writes the `--schema` file when it differs from the tenant's
 * schema (refused, stopping the start, when that would orphan relationships), or the preset
 * when the tenant has no schema.
 */
async function prepareTenant(
  store: Datastore,
  engine: Engine,
  config: ServeConfig,
  logger: Logger,
): Promise<void> {
  if (!(await store.listTenants()).includes(config.tenant)) {
    await store.createTenant(config.tenant);
    logger.info({ tenant: config.tenant }, "created the tenant");
  }
  const current = await store.readSchema(config.tenant, await store.headRevision(config.tenant));
  if (config.schema !== undefined) {
    const { file, text } = config.schema;
    if (current?.text === text) {
      logger.info({ tenant: config.tenant, schema: file }, "the tenant's schema is the file's");
      return;
    }
    await engine.writeSchema(config.tenant, text);
    logger.info({ tenant: config.tenant, schema: file }, "wrote the schema file");
    return;
  }
  if (current !== undefined) {
    if (config.preset !== undefined) {
      logger.info(
        { tenant: config.tenant, preset: config.preset },
        "the tenant has a schema already; the preset is not applied",
      );
    }
    return;
  }
  if (config.preset === undefined) {
    logger.warn(
      { tenant: config.tenant },
      "the tenant has no schema yet: write one with SchemaService/WriteSchema, or start with --preset",
    );
    return;
  }
  const text = readFileSync(join(PRESET_DIR, `${config.preset}.zed`), "utf8");
  await engine.writeSchema(config.tenant, text);
  logger.info({ tenant: config.tenant, preset: config.preset }, "wrote the preset schema");
}

/** How to call the running server: a grpcurl line, an SDK snippet, and curl over HTTP/JSON. */
export function callingHints(
  address: string,
  config: ServeConfig,
  metricsAddress?: string,
  httpAddress?: string,
): string {
  const grpcurl = config.tls === undefined ? "grpcurl -plaintext" : "grpcurl -cacert CERT.pem";
  const check = JSON.stringify({
    resource: { objectType: "document", objectId: "readme" },
    permission: "view",
    subject: { object: { objectType: "user", objectId: "alice" } },
  });
  const auth = config.insecureDev ? "" : ` -H "authorization: Bearer $TRELLIS_TOKEN"`;
  const token = config.insecureDev ? "" : ", token: process.env.TRELLIS_TOKEN";
  const lines = [
    "",
    config.insecureDev
      ? `Trellis is serving on ${address} — tenant "${config.tenant}", INSECURE DEV MODE (no authentication).`
      : `Trellis is serving on ${address} — tenant "${config.tenant}", callers authenticate (${config.jwt === undefined ? "API keys" : "API keys or JWTs"}).`,
    "",
    ...(config.insecureDev
      ? []
      : [
          "Create an API key (its token is shown once):",
          `  export TRELLIS_TOKEN=$(trellis keys create --datastore ${config.datastore} --tenant ${config.tenant} --scopes check,read,write,schema --quiet)`,
          "",
        ]),
    "Call it with grpcurl:",
    `  ${grpcurl}${auth} ${address} list`,
    `  ${grpcurl}${auth} -d '${check}' ${address} trellis.v1.PermissionService/Check`,
    "",
    "Or from TypeScript with the Trellis SDK:",
    `  import { TrellisClient } from "trellis/client";`,
    config.tls === undefined
      ? `  const trellis = new TrellisClient({ address: "${address}"${token} });`
      : `  const trellis = new TrellisClient({ address: "${address}", tls: { ca: readFileSync("CERT.pem") }${token} });`,
    `  const { permissionship } = await trellis.check("document:readme", "view", "user:alice");`,
    "",
    ...(httpAddress !== undefined
      ? [
          "Or over HTTP/JSON with curl:",
          `  curl${config.tls === undefined ? "" : " --cacert CERT.pem"}${auth} -d '${check}' ${config.tls === undefined ? "http" : "https"}://${httpAddress}/trellis.v1.PermissionService/Check`,
          "",
        ]
      : []),
    ...(httpAddress !== undefined && config.playground !== undefined
      ? [
          `Playground: ${config.tls === undefined ? "http" : "https"}://${httpAddress}/playground/`,
          "",
        ]
      : []),
    ...(metricsAddress !== undefined ? [`Metrics: http://${metricsAddress}/metrics`, ""] : []),
    "Stop with Ctrl-C (SIGINT) or SIGTERM.",
    "",
  ];
  return lines.join("\n");
}

/**
 * Runs the server until `stop` aborts; returns the exit code. Usage errors print to `io.err`
 * and return 2 before anything is opened; a failure to start returns 3.
 */
export async function runServe(
  flags: ServeFlags,
  io: Output,
  stop: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
  logger?: Logger,
): Promise<number> {
  let config: ServeConfig;
  try {
    config = resolveServeConfig(flags, env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`trellis serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log =
    logger ?? pino({ level: config.logLevel }, pino.destination({ dest: 2, sync: false }));
  let store: Datastore | undefined;
  let engine: Engine | undefined;
  let jwt: JwtVerifier | undefined;
  let tracingHandle: TracingHandle | undefined;
  try {
    if (config.otelEndpoint !== undefined) {
      // Loaded only when asked for: with tracing off no OpenTelemetry code runs at all.
      const { startTracing } = await import("../telemetry/index.js");
      tracingHandle = startTracing({ endpoint: config.otelEndpoint });
      log.info({ url: otlpTracesUrl(config.otelEndpoint) }, "exporting OpenTelemetry traces");
    }
    store = await openDatastore(
      config.datastore,
      config.sqliteSynchronous !== undefined ? { synchronous: config.sqliteSynchronous } : {},
    );
    const zookieSecret = config.zookieSecret ?? (await storedZookieSecret(store, config.datastore));
    engine = new Engine(store, {
      zookieSecret,
      maxDepth: config.maxDepth,
      maxStalenessMs: config.maxStalenessMs,
      cache: { maxEntries: config.cacheMaxEntries, maxBytes: config.cacheMaxBytes },
      caveatLimits: config.caveatLimits,
      memoryBudgetBytes: config.memoryBudgetBytes,
      gc:
        config.gcIntervalMs === 0
          ? false
          : { windowMs: config.gcWindowMs, intervalMs: config.gcIntervalMs },
      onGc: (result, ms, err) =>
        err === undefined
          ? log.info({ ...result, ms: Math.round(ms) }, "garbage-collected the store's history")
          : log.warn(
              { err, ms: Math.round(ms) },
              "garbage collection failed; retrying next interval",
            ),
      onBackgroundError: (err, tenant) =>
        log.warn({ err, tenant }, "following the tenant's changelog failed; retrying"),
    });
    await prepareTenant(store, engine, config, log);
    log.info(
      {
        memoryBudgetMB: Math.round(config.memoryBudgetBytes / 1024 / 1024),
        gcWindowMs: config.gcWindowMs,
        gcIntervalMs: config.gcIntervalMs,
      },
      "tenants' in-memory indexes share the memory budget; larger tenants are served from the store",
    );
    jwt = config.jwt === undefined ? undefined : await jwtVerifier(config.jwt, log);
    const server = await startServer({
      engine,
      listen: config.listen,
      insecureDev: config.insecureDev,
      ...(config.insecureDev
        ? {}
        : {
            auth: {
              ...(jwt !== undefined ? { jwt } : {}),
              maxFailuresPerMinute: config.authFailuresPerMinute,
            },
          }),
      ...(config.auditLog !== undefined
        ? {
            audit: new PinoAuditLog(
              pino(
                { level: "info" },
                pino.destination({ dest: config.auditLog, append: true, mkdir: true, sync: false }),
              ),
            ),
          }
        : {}),
      defaultTenant: config.tenant,
      limits: config.limits,
      logger: log,
      ...(config.metricsListen !== undefined ? { metricsListen: config.metricsListen } : {}),
      ...(config.httpListen !== undefined ? { httpListen: config.httpListen } : {}),
      ...(config.playground !== undefined
        ? { httpStaticFiles: { prefix: "/playground", directory: config.playground } }
        : {}),
      ...(config.tls !== undefined ? { tls: config.tls } : {}),
    });
    io.out(callingHints(server.address, config, server.metricsAddress, server.httpAddress));
    if (!stop.aborted) {
      await new Promise<void>((resolve) =>
        stop.addEventListener("abort", () => resolve(), { once: true }),
      );
    }
    log.info({ graceMs: config.shutdownGraceMs }, "shutting down");
    await server.close({ graceMs: config.shutdownGraceMs });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`trellis serve: ${err.message}\n`);
      return 2;
    }
    // A failure the store or the file system explains (a path that cannot hold the file, a
    // database that is not there) is the one line below, with its reason; only an error
    // nothing classified (a bug) is logged with its stack.
    const errno = (err as NodeJS.ErrnoException).code;
    if (!(err instanceof TrellisError) && typeof errno !== "string") {
      log.error({ err }, "trellis serve failed");
    }
    const where =
      typeof errno === "string" && !(err instanceof TrellisError)
        ? `cannot open the datastore ${config.datastore}: `
        : "";
    const cause = (err as Error).cause;
    const reason = cause instanceof Error && cause.message !== "" ? ` (${cause.message})` : "";
    io.err(`trellis serve: ${where}${(err as Error).message}${reason}\n`);
    return 3;
  } finally {
    jwt?.close();
    await engine?.close();
    await store?.close();
    // Sends the spans still waiting for a batch.
    await tracingHandle?.shutdown();
    log.flush();
  }
}

async function jwtVerifier(options: JwtOptions, log: Logger): Promise<JwtVerifier> {
  try {
    return await JwtVerifier.create(options, systemClock, {
      onKeysChanged: (version) =>
        log.info({ version }, "JWT keys changed: now verifying with them"),
      onKeysFailed: (err) =>
        log.warn(
          { err: err.message },
          "JWT keys could not be loaded; still using the previous ones",
        ),
    });
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`JWT settings: ${err.message}`);
    throw err;
  }
}

export function registerServeCommand(program: Command, io: Output): void {
  const command = new Command("serve")
    .description(
      "run the Trellis gRPC server (PermissionService, RelationshipService, SchemaService, AdminService, health, reflection)",
    )
    .addOption(
      new Option(
        "--insecure-dev",
        `serve without caller authentication, loopback addresses only (env: ${INSECURE_DEV_ENV}=1); for local development`,
      ),
    )
    .addOption(
      new Option(
        "--playground",
        `serve the playground (a schema and check workbench that runs in the browser) at /playground/ on the --http-listen address (env: ${PLAYGROUND_ENV}=1)`,
      ),
    );
  for (const spec of FLAGS) {
    // Defaults are applied by resolveServeConfig, after the environment; --help shows them.
    const shown =
      spec.defaultValue === undefined
        ? spec.description
        : `${spec.description} (default: ${spec.defaultValue})`;
    command.addOption(new Option(spec.flag, shown).env(spec.env));
  }
  command.action(async (flags: ServeFlags) => {
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        io.err(`trellis serve: ${signal} again; exiting now\n`);
        process.exit(130);
      }
      controller.abort();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    try {
      process.exitCode = await runServe(flags, io, controller.signal);
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  });
  program.addCommand(command);
}
