/**
 * A real server on a loopback port (port 0) over a real SQLite store in a temp directory, with
 * raw grpc-js clients built from the generated code, and small promise helpers around them.
 */
import {
  type CallOptions,
  type ClientReadableStream,
  credentials,
  Metadata,
  type ServiceError,
  type status,
} from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import { expect } from "vitest";
import type { RunningServer, ServerAuthOptions, ServerOptions } from "../../src/api/server.js";
import { startServer } from "../../src/api/server.js";
import type { AuditLog } from "../../src/auth/index.js";
import { parseRelationship } from "../../src/core/relationship.js";
import { Engine, type EngineOptions } from "../../src/engine/engine.js";
import {
  AdminServiceClient,
  CreateApiKeyRequest,
  CreateTenantRequest,
  ListApiKeysRequest,
  ListTenantsRequest,
  RevokeApiKeyRequest,
} from "../../src/gen/trellis/v1/admin_service.js";
import {
  CheckBulkRequest,
  CheckRequest,
  type DeepPartial,
  ExpandRequest,
  ListObjectsRequest,
  ListSubjectsRequest,
  PermissionServiceClient,
} from "../../src/gen/trellis/v1/permission_service.js";
import {
  DeleteRequest,
  ExportRequest,
  type ImportRequest,
  ReadRequest,
  RelationshipServiceClient,
  WatchRequest,
  WriteRequest,
} from "../../src/gen/trellis/v1/relationship_service.js";
import {
  DiffSchemaRequest,
  ReadSchemaRequest,
  SchemaServiceClient,
  ValidateSchemaRequest,
  WriteSchemaRequest,
} from "../../src/gen/trellis/v1/schema_service.js";
import type { Datastore } from "../../src/store/datastore.js";
import { openTestStore, type TestStore } from "../support/test-stores.js";

export const TEST_SCHEMA = `use expiration

caveat on_day(day string, allowed string) { day == allowed }

definition user {}

definition group {
	relation member: user | group#member
}

definition folder {
	relation parent: folder
	relation viewer: user | user:* | group#member
	permission view = viewer + parent->view
}

definition document {
	relation folder: folder
	relation owner: user
	relation viewer: user | user:* | group#member | user with on_day | user with expiration
	relation banned: user
	permission edit = owner
	permission view = (viewer + edit + folder->view) - banned
}
`;

export interface CallOpts {
  readonly metadata?: Metadata;
  /** Milliseconds from now. */
  readonly deadlineMs?: number;
}

type UnaryFn<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res: Res) => void,
) => unknown;

function callOptions(opts: CallOpts = {}): Partial<CallOptions> {
  return opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
}

export function unary<Req, Res>(
  fn: UnaryFn<Req, Res>,
  req: Req,
  opts: CallOpts = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, opts.metadata ?? new Metadata(), callOptions(opts), (err, res) =>
      err === null ? resolve(res) : reject(err),
    );
  });
}

/** Every message of a server stream, or its error. */
export function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on("data", (m: T) => out.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
  });
}

/** Asserts that a call failed with `code` and returns its error. */
export async function expectCode(promise: Promise<unknown>, code: status): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    expect((err as ServiceError).code, (err as ServiceError).details).toBe(code);
    return err as ServiceError;
  }
  throw new Error(`expected the call to fail with code ${code}, but it succeeded`);
}

export function tenantMetadata(tenant: string): Metadata {
  const m = new Metadata();
  m.set("trellis-tenant", tenant);
  return m;
}

export interface ApiClients {
  readonly permissions: PermissionServiceClient;
  readonly relationships: RelationshipServiceClient;
  readonly schema: SchemaServiceClient;
  readonly admin: AdminServiceClient;
}

export type ApiFixture = ReturnType<typeof promisedCalls> & {
  readonly server: RunningServer;
  readonly engine: Engine;
  readonly store: Datastore;
  readonly address: string;
  readonly clients: ApiClients;
  /** Writes tuples (TOUCH) through the API and returns the zookie token. */
  touch(...tuples: string[]): Promise<string>;
  close(): Promise<void>;
};

/** The typed calls, bound to a fixture's clients (declared once for the types above). */
function promisedCalls(c: ApiClients) {
  const p = c.permissions;
  const r = c.relationships;
  const s = c.schema;
  const a = c.admin;
  return {
    check: (req: DeepPartial<CheckRequest>, opts?: CallOpts) =>
      unary(p.check.bind(p), CheckRequest.fromPartial(req), opts),
    checkBulk: (req: DeepPartial<CheckBulkRequest>, opts?: CallOpts) =>
      unary(p.checkBulk.bind(p), CheckBulkRequest.fromPartial(req), opts),
    expand: (req: DeepPartial<ExpandRequest>, opts?: CallOpts) =>
      unary(p.expand.bind(p), ExpandRequest.fromPartial(req), opts),
    listObjects: (req: DeepPartial<ListObjectsRequest>, opts: CallOpts = {}) =>
      p.listObjects(
        ListObjectsRequest.fromPartial(req),
        opts.metadata ?? new Metadata(),
        callOptions(opts),
      ),
    listSubjects: (req: DeepPartial<ListSubjectsRequest>, opts: CallOpts = {}) =>
      p.listSubjects(
        ListSubjectsRequest.fromPartial(req),
        opts.metadata ?? new Metadata(),
        callOptions(opts),
      ),
    write: (req: DeepPartial<WriteRequest>, opts?: CallOpts) =>
      unary(r.write.bind(r), WriteRequest.fromPartial(req), opts),
    delete: (req: DeepPartial<DeleteRequest>, opts?: CallOpts) =>
      unary(r.delete.bind(r), DeleteRequest.fromPartial(req), opts),
    read: (req: DeepPartial<ReadRequest>, opts: CallOpts = {}) =>
      r.read(ReadRequest.fromPartial(req), opts.metadata ?? new Metadata(), callOptions(opts)),
    export: (req: DeepPartial<ExportRequest> = {}, opts: CallOpts = {}) =>
      r.export(ExportRequest.fromPartial(req), opts.metadata ?? new Metadata(), callOptions(opts)),
    watch: (req: DeepPartial<WatchRequest> = {}, opts: CallOpts = {}) =>
      r.watch(WatchRequest.fromPartial(req), opts.metadata ?? new Metadata(), callOptions(opts)),
    import: (messages: DeepPartial<ImportRequest>[], opts: CallOpts = {}) =>
      new Promise<{ importedAt?: { token: string }; importedCount: number }>((resolve, reject) => {
        const call = r.import(opts.metadata ?? new Metadata(), callOptions(opts), (err, res) =>
          err === null ? resolve(res) : reject(err),
        );
        for (const m of messages) {
          call.write({
            relationships: (m.relationships ?? []).map(
              (rel) =>
                WriteRequest.fromPartial({ updates: [{ relationship: rel }] }).updates[0]!
                  .relationship!,
            ),
          });
        }
        call.end();
      }),
    writeSchema: (req: DeepPartial<WriteSchemaRequest>, opts?: CallOpts) =>
      unary(s.writeSchema.bind(s), WriteSchemaRequest.fromPartial(req), opts),
    readSchema: (req: DeepPartial<ReadSchemaRequest> = {}, opts?: CallOpts) =>
      unary(s.readSchema.bind(s), ReadSchemaRequest.fromPartial(req), opts),
    validateSchema: (req: DeepPartial<ValidateSchemaRequest>, opts?: CallOpts) =>
      unary(s.validateSchema.bind(s), ValidateSchemaRequest.fromPartial(req), opts),
    diffSchema: (req: DeepPartial<DiffSchemaRequest>, opts?: CallOpts) =>
      unary(s.diffSchema.bind(s), DiffSchemaRequest.fromPartial(req), opts),
    createTenant: (req: DeepPartial<CreateTenantRequest>, opts?: CallOpts) =>
      unary(a.createTenant.bind(a), CreateTenantRequest.fromPartial(req), opts),
    listTenants: (opts?: CallOpts) =>
      unary(a.listTenants.bind(a), ListTenantsRequest.fromPartial({}), opts),
    createApiKey: (req: DeepPartial<CreateApiKeyRequest>, opts?: CallOpts) =>
      unary(a.createApiKey.bind(a), CreateApiKeyRequest.fromPartial(req), opts),
    listApiKeys: (req: DeepPartial<ListApiKeysRequest>, opts?: CallOpts) =>
      unary(a.listApiKeys.bind(a), ListApiKeysRequest.fromPartial(req), opts),
    revokeApiKey: (req: DeepPartial<RevokeApiKeyRequest>, opts?: CallOpts) =>
      unary(a.revokeApiKey.bind(a), RevokeApiKeyRequest.fromPartial(req), opts),
  };
}

export interface ApiFixtureOptions {
  /** Written to the default tenant before the server starts; none when `null`. */
  readonly schema?: string | null;
  readonly tuples?: readonly string[];
  readonly limits?: ServerOptions["limits"];
  readonly metricsListen?: string;
  /** Also serve HTTP/JSON here (`127.0.0.1:0` picks a port; see `server.httpAddress`). */
  readonly httpListen?: string;
  readonly logger?: Logger;
  readonly engineOptions?: Partial<EngineOptions>;
  /** Serve with caller authentication (insecure-dev otherwise). */
  readonly auth?: ServerAuthOptions;
  readonly audit?: AuditLog;
  /** Builds the engine (a test may wrap or slow it down). */
  readonly makeEngine?: (store: Datastore, options: EngineOptions) => Engine;
}

export const DEFAULT_TENANT = "default";

export async function startApiFixture(options: ApiFixtureOptions = {}): Promise<ApiFixture> {
  const test: TestStore = await openTestStore("sqlite");
  const engineOptions: EngineOptions = {
    zookieSecret: "api-test-zookie-secret-0123456789",
    ...options.engineOptions,
  };
  const engine =
    options.makeEngine?.(test.store, engineOptions) ?? new Engine(test.store, engineOptions);
  await test.store.createTenant(DEFAULT_TENANT);
  if (options.schema !== null)
    await engine.writeSchema(DEFAULT_TENANT, options.schema ?? TEST_SCHEMA);
  if (options.tuples !== undefined && options.tuples.length > 0) {
    await engine.writeRelationships(
      DEFAULT_TENANT,
      options.tuples.map((t) => ({ op: "TOUCH" as const, relationship: parseRelationship(t) })),
    );
  }
  const server = await startServer({
    engine,
    listen: "127.0.0.1:0",
    insecureDev: options.auth === undefined,
    ...(options.auth !== undefined ? { auth: options.auth } : {}),
    ...(options.audit !== undefined ? { audit: options.audit } : {}),
    defaultTenant: DEFAULT_TENANT,
    logger: options.logger ?? pino({ level: "silent" }),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.metricsListen !== undefined ? { metricsListen: options.metricsListen } : {}),
    ...(options.httpListen !== undefined ? { httpListen: options.httpListen } : {}),
  });
  const creds = credentials.createInsecure();
  const clients = {
    permissions: new PermissionServiceClient(server.address, creds),
    relationships: new RelationshipServiceClient(server.address, creds),
    schema: new SchemaServiceClient(server.address, creds),
    admin: new AdminServiceClient(server.address, creds),
  };
  const calls = promisedCalls(clients);
  let closed = false;
  return {
    server,
    engine,
    store: test.store,
    address: server.address,
    clients,
    ...calls,
    async touch(...tuples: string[]) {
      const res = await calls.write({
        updates: tuples.map((t) => ({ operation: 2, relationship: relationshipMessage(t) })),
      });
      return res.writtenAt!.token;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const c of Object.values(clients)) c.close();
      await server.close({ graceMs: 1000 });
      await engine.close();
      await test.close();
    },
  };
}

/** A tuple string as a wire `Relationship` (partial form, for `fromPartial`). */
export function relationshipMessage(text: string) {
  const r = parseRelationship(text);
  return {
    resource: { objectType: r.resource.type, objectId: r.resource.id },
    relation: r.relation,
    subject: {
      object: { objectType: r.subject.type, objectId: r.subject.id },
      optionalRelation: r.subject.relation ?? "",
    },
    ...(r.caveat !== undefined
      ? { optionalCaveat: { caveatName: r.caveat.name, context: r.caveat.context ?? {} } }
      : {}),
    ...(r.expiration !== undefined ? { optionalExpiresAt: r.expiration } : {}),
  };
}

export function obj(text: string) {
  const [type, id] = text.split(":") as [string, string];
  return { objectType: type, objectId: id };
}

export function subj(text: string) {
  const [object, relation] = text.split("#") as [string, string | undefined];
  return { object: obj(object), optionalRelation: relation ?? "" };
}

export type LogLine = Readonly<Record<string, unknown>>;

/**
 * A logger whose lines a test can read and wait for: the pipeline writes one "request" line
 * per call once it has counted it, so waiting for that line is waiting for the server to be
 * done with the call.
 */
export function capturedLog(level: pino.Level = "info") {
  const lines: LogLine[] = [];
  const waiters = new Set<{ probe: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  const logger = pino(
    { level },
    {
      write(chunk: string) {
        const line = JSON.parse(chunk) as LogLine;
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.probe(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      },
    },
  );
  return {
    logger,
    lines,
    /** The first line, logged already or later, that `probe` accepts. */
    line(probe: (l: LogLine) => boolean): Promise<LogLine> {
      const found = lines.find(probe);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.add({ probe, resolve }));
    },
    /** The "request" line of the first call of `method` (`Service/Method`). */
    request(method: string): Promise<LogLine> {
      return this.line((l) => l.msg === "request" && l.method === method);
    },
  };
}

/**
 * Polls `probe` until it returns true, failing after `timeoutMs`. A last resort, for
 * conditions no event announces; the bound is generous because a loaded machine is slow.
 */
export async function eventually(
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
