// The HTTP/JSON face over a real server on loopback ports: every kind of call, credentials and
// scopes, error statuses, the body limit, NDJSON streams and their errors, cancellation when
// the client goes away, deadlines, shutdown, and SpiceDB's gateway routes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { status } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SPICEDB_GATEWAY_ROUTES } from "../../src/api/authzed/gateway-routes.js";
import {
  GATEWAY_HTTP_STATUS,
  httpStatusOf,
  TRELLIS_HTTP_STATUS,
  TRELLIS_JSON_ROUTES,
} from "../../src/api/http/index.js";
import { startServer } from "../../src/api/server.js";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import type { AuditLog, WriteEvent } from "../../src/auth/index.js";
import { parseRelationship } from "../../src/core/relationship.js";
import { Engine, type CheckRequest as EngineCheck } from "../../src/engine/engine.js";
import type { Datastore } from "../../src/store/datastore.js";
import { Gate } from "../support/gate.js";
import { openTestStore } from "../support/test-stores.js";
import {
  type ApiFixture,
  capturedLog,
  DEFAULT_TENANT,
  eventually,
  obj,
  startApiFixture,
  subj,
} from "./api-fixture.js";

// ---- helpers ---------------------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): Record<string, unknown>;
}

async function post(
  address: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`http://${address}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** The NDJSON lines of a streamed answer, parsed. */
function lines(answer: Answer): Record<string, unknown>[] {
  return answer.text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/**
 * A streaming request over node:http, so a test can read line by line and hang up at will. The
 * answer's headers come with its first line (or its error), so nothing here waits for them.
 */
function openStream(address: string, path: string, body: unknown) {
  let responded: (res: IncomingMessage) => void = () => {};
  const response = new Promise<IncomingMessage>((resolve) => {
    responded = resolve;
  });
  const req = httpRequest(
    {
      ...hostAndPort(address),
      path,
      method: "POST",
      headers: { "content-type": "application/json" },
    },
    responded,
  );
  req.on("error", () => {});
  req.end(JSON.stringify(body));
  const iterator = response.then((res) => createInterface({ input: res })[Symbol.asyncIterator]());
  return {
    response,
    /** The next line, parsed; undefined at the end of the body. */
    async next(): Promise<Record<string, unknown> | undefined> {
      const line = await (await iterator).next();
      return line.done === true ? undefined : (JSON.parse(line.value) as Record<string, unknown>);
    },
    /** Hangs up: the connection is closed under the request. */
    hangUp(): void {
      req.destroy();
    },
  };
}

/** Sends `head` (request line and headers, CRLF-separated) and `body`; the status code. */
function rawRequest(address: string, head: string, body: string): Promise<number> {
  const { host, port } = hostAndPort(address);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () =>
      socket.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    );
    socket.once("data", (data) => {
      resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data.toString("latin1"))?.[1]));
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

const check = (resource: string, permission: string, subject: string) => ({
  resource: obj(resource),
  permission,
  subject: subj(subject),
});

function relationshipJson(text: string) {
  const r = parseRelationship(text);
  return {
    resource: { objectType: r.resource.type, objectId: r.resource.id },
    relation: r.relation,
    subject: { object: { objectType: r.subject.type, objectId: r.subject.id } },
  };
}

const touch = (...tuples: string[]) => ({
  updates: tuples.map((t) => ({ operation: "OPERATION_TOUCH", relationship: relationshipJson(t) })),
});

async function metric(api: ApiFixture, name: string): Promise<number> {
  const text = await (await fetch(`http://${api.server.metricsAddress}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

const CHECK = "/trellis.v1.PermissionService/Check";
const WRITE = "/trellis.v1.RelationshipService/Write";
const WATCH = "/trellis.v1.RelationshipService/Watch";
const LIST_OBJECTS = "/trellis.v1.PermissionService/ListObjects";

// ---- insecure-dev: calls, errors, streams ----------------------------------------------------

describe("HTTP/JSON, insecure-dev", () => {
  let api: ApiFixture;
  let http: string;
  const log = capturedLog();

  beforeAll(async () => {
    api = await startApiFixture({
      httpListen: "127.0.0.1:0",
      metricsListen: "127.0.0.1:0",
      logger: log.logger,
      limits: { maxReceiveMessageBytes: 64 * 1024 },
      tuples: [
        "document:readme#viewer@user:alice",
        "document:guide#viewer@group:eng#member",
        "group:eng#member@user:alice",
        "group:eng#member@user:bob",
      ],
    });
    http = api.server.httpAddress!;
  });
  afterAll(() => api.close());

  test("a unary call answers its response message in proto3 JSON", async () => {
    const allowed = await post(http, CHECK, check("document:readme", "view", "user:alice"));
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("content-type")).toBe("application/json");
    expect(allowed.json()).toMatchObject({
      permissionship: "PERMISSIONSHIP_HAS_PERMISSION",
      checkedAt: { token: expect.any(String) },
    });
    // Field names as in the .proto are read too, and enums by number.
    const denied = await post(http, CHECK, {
      resource: { object_type: "document", object_id: "readme" },
      permission: "view",
      subject: { object: { object_type: "user", object_id: "mallory" } },
      consistency: { fully_consistent: true },
    });
    expect(denied.json().permissionship).toBe("PERMISSIONSHIP_NO_PERMISSION");
  });

  test("an empty body is the empty message", async () => {
    const res = await fetch(`http://${http}/trellis.v1.SchemaService/ReadSchema`, {
      method: "POST",
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { schemaText: string }).schemaText).toContain("definition user");
  });

  test("a server stream is NDJSON, one {result} a line", async () => {
    const answer = await post(http, LIST_OBJECTS, {
      resourceType: "document",
      permission: "view",
      subject: subj("user:alice"),
      consistency: { fullyConsistent: true },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/x-ndjson");
    const ids = lines(answer).map((l) => (l.result as { objectId: string }).objectId);
    expect(ids).toEqual(["guide", "readme"]);
  });

  test("an empty stream is 200 with an empty body", async () => {
    const answer = await post(http, LIST_OBJECTS, {
      resourceType: "document",
      permission: "view",
      subject: subj("user:nobody"),
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("");
  });

  test("a client stream reads NDJSON messages (Import), each its own batch", async () => {
    const body = [
      { relationships: [relationshipJson("document:imp1#viewer@user:carol")] },
      {
        relationships: [
          relationshipJson("document:imp2#viewer@user:carol"),
          relationshipJson("document:imp3#viewer@user:carol"),
        ],
      },
    ]
      .map((m) => JSON.stringify(m))
      .join("\n");
    const answer = await post(http, "/trellis.v1.RelationshipService/Import", body, {
      "content-type": "application/x-ndjson",
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json()).toMatchObject({
      importedCount: 3,
      importedAt: { token: expect.any(String) },
    });
    const seen = await post(http, CHECK, {
      ...check("document:imp3", "view", "user:carol"),
      consistency: { atLeastAsFresh: answer.json().importedAt },
    });
    expect(seen.json().permissionship).toBe("PERMISSIONSHIP_HAS_PERMISSION");
  });

  test("a bad message in a client stream is 400, naming what did not parse", async () => {
    const answer = await post(
      http,
      "/trellis.v1.RelationshipService/Import",
      `${JSON.stringify({ relationships: [relationshipJson("document:imp9#viewer@user:carol")] })}\n{"relationships": [}\n`,
    );
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("errors are HTTP statuses with the gRPC code name and message", async () => {
    const malformed = await post(http, CHECK, "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json()).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("not valid JSON"),
    });
    expect(malformed.headers.get("trellis-request-id")).toMatch(/.+/);

    const badName = await post(http, CHECK, check("document:readme", "Bad-Name!", "user:alice"));
    expect(badName.status).toBe(400);
    expect(badName.json().message).toContain("permission");

    // An unknown type: the request is well formed, the schema refuses it.
    const unknownType = await post(http, CHECK, check("nosuchtype:x", "view", "user:alice"));
    expect(unknownType.status).toBe(412);
    expect(unknownType.json().code).toBe("FAILED_PRECONDITION");

    const exists = await post(http, "/trellis.v1.AdminService/CreateTenant", {
      tenant: DEFAULT_TENANT,
    });
    expect(exists.status).toBe(409);
    expect(exists.json().code).toBe("ALREADY_EXISTS");

    const noKey = await post(http, "/trellis.v1.AdminService/RevokeApiKey", {
      keyId: mintApiKey().id,
    });
    expect(noKey.status).toBe(404);
    expect(noKey.json().code).toBe("NOT_FOUND");
  });

  test("an unknown path is 404 and another method than POST 405", async () => {
    const missing = await post(http, "/trellis.v1.PermissionService/Nope", {});
    expect(missing.status).toBe(404);
    expect(missing.json().code).toBe("NOT_FOUND");
    const get = await fetch(`http://${http}${CHECK}`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  test("serves every trellis.v1 RPC and every SpiceDB gateway route", async () => {
    for (const route of [...TRELLIS_JSON_ROUTES, ...SPICEDB_GATEWAY_ROUTES]) {
      const res = await fetch(`http://${http}${route.httpPath}`, { method: "PUT" });
      await res.arrayBuffer();
      expect(res.status, route.httpPath).toBe(405);
    }
    expect(TRELLIS_JSON_ROUTES).toHaveLength(20);
    expect(SPICEDB_GATEWAY_ROUTES.map((r) => r.httpPath)).toEqual(
      expect.arrayContaining([
        "/v1/permissions/check",
        "/v1/permissions/checkbulk",
        "/v1/permissions/expand",
        "/v1/permissions/resources",
        "/v1/permissions/subjects",
        "/v1/relationships/read",
        "/v1/relationships/write",
        "/v1/relationships/delete",
        "/v1/relationships/importbulk",
        "/v1/relationships/exportbulk",
        "/v1/schema/read",
        "/v1/schema/write",
        "/v1/watch",
        "/v1/experimental/relationships/bulkimport",
        "/v1/experimental/relationships/bulkexport",
      ]),
    );
  });

  test("a body over the receive limit is 413 RESOURCE_EXHAUSTED, before any handler", async () => {
    const big = { ...check("document:readme", "view", "user:alice"), padding: "x".repeat(70_000) };
    const answer = await post(http, CHECK, big);
    expect(answer.status).toBe(413);
    expect(answer.json()).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    // The same without a declared length (a chunked body).
    const chunked = await fetch(`http://${http}${CHECK}`, {
      method: "POST",
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    await chunked.arrayBuffer();
    // One message of a stream over the limit ends the call the same way.
    const message = JSON.stringify({
      relationships: Array.from({ length: 600 }, (_, i) =>
        relationshipJson(`document:big${i}#viewer@user:carol`),
      ),
    });
    expect(message.length).toBeGreaterThan(64 * 1024);
    const stream = await post(http, "/trellis.v1.RelationshipService/Import", message);
    expect(stream.status).toBe(413);
    expect(stream.json().code).toBe("RESOURCE_EXHAUSTED");
    // And the server still answers.
    expect((await post(http, CHECK, check("document:readme", "view", "user:alice"))).status).toBe(
      200,
    );
  });

  test("trellis-tenant picks the tenant, as its metadata does over gRPC", async () => {
    await post(http, "/trellis.v1.AdminService/CreateTenant", { tenant: "other" });
    const answer = await post(
      http,
      "/trellis.v1.SchemaService/ReadSchema",
      {},
      {
        "trellis-tenant": "other",
      },
    );
    expect(answer.status).toBe(404);
    expect(answer.json().code).toBe("NOT_FOUND");
  });

  test("a grpc-timeout that passes answers 504 and ends the call on the server", async () => {
    const done = log.request("RelationshipService/Watch");
    const answer = await post(http, WATCH, {}, { "grpc-timeout": "200m" });
    expect(answer.status).toBe(504);
    expect(answer.json()).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect((await done).code).toBe("DEADLINE_EXCEEDED");
    expect(await metric(api, "trellis_grpc_open_streams")).toBe(0);
  });

  test("a malformed grpc-timeout is 400", async () => {
    const answer = await post(http, CHECK, check("document:readme", "view", "user:alice"), {
      "grpc-timeout": "soon",
    });
    expect(answer.status).toBe(400);
  });

  test("a stream whose client hangs up is cancelled on the server", async () => {
    const start = (await post(http, WRITE, touch("document:w0#viewer@user:dave"))).json();
    const stream = await openStream(http, WATCH, {
      optionalStartCursor: start.writtenAt,
    });
    await post(http, WRITE, touch("document:w1#viewer@user:dave"));
    const first = await stream.next();
    expect(first?.result).toMatchObject({ updates: [expect.anything()] });
    expect(await metric(api, "trellis_grpc_open_streams")).toBe(1);
    const ended = log.line(
      (l) =>
        l.msg === "request" && l.method === "RelationshipService/Watch" && l.code === "CANCELLED",
    );
    stream.hangUp();
    await ended;
    expect(await metric(api, "trellis_grpc_open_streams")).toBe(0);
  });

  test("a stream the client does not read waits for it (back-pressure)", async () => {
    await api.store.bulkImport(
      DEFAULT_TENANT,
      Array.from({ length: 60_000 }, (_, i) =>
        parseRelationship(`document:bp${String(i).padStart(6, "0")}#viewer@user:reader${i % 97}`),
      ),
      { batchSize: 10_000 },
    );
    const before = await metric(api, "trellis_grpc_stream_backpressure_waits_total");
    const stream = await openStream(http, "/trellis.v1.RelationshipService/Export", {
      consistency: { fullyConsistent: true },
    });
    const res = await stream.response;
    res.pause();
    await eventually(
      async () => (await metric(api, "trellis_grpc_stream_backpressure_waits_total")) > before,
    );
    // Reading on, the client gets every relationship, then the end.
    res.resume();
    let count = 0;
    for (let line = await stream.next(); line !== undefined; line = await stream.next()) {
      count += (line.result as { relationships: unknown[] }).relationships.length;
    }
    expect(count).toBeGreaterThanOrEqual(60_000);
  });
});

// ---- the server's default deadline, and shutdown ---------------------------------------------

/** An engine whose checks of `document:slow*` wait until the test releases them. */
function heldChecks() {
  const started = new Gate();
  const release = new Gate();
  const makeEngine = (store: Datastore, options: ConstructorParameters<typeof Engine>[1]) =>
    new (class extends Engine {
      override async check(tenant: string, req: EngineCheck) {
        if (req.resource.id.startsWith("slow")) {
          started.open();
          await release.opened;
        }
        return super.check(tenant, req);
      }
    })(store, options);
  return { started, release, makeEngine };
}

describe("HTTP/JSON deadlines and shutdown", () => {
  test("a call without grpc-timeout gets the server's default deadline", async () => {
    const held = heldChecks();
    const api = await startApiFixture({
      httpListen: "127.0.0.1:0",
      makeEngine: held.makeEngine,
      limits: { defaultDeadlineMs: 300 },
    });
    try {
      const answer = await post(
        api.server.httpAddress!,
        CHECK,
        check("document:slow", "view", "user:a"),
      );
      expect(answer.status).toBe(504);
      expect(answer.json()).toMatchObject({
        code: "DEADLINE_EXCEEDED",
        message: expect.stringContaining("default deadline"),
      });
    } finally {
      held.release.open();
      await api.close();
    }
  });

  test("a unary call whose client hangs up is cancelled on the server", async () => {
    const held = heldChecks();
    const log = capturedLog();
    const api = await startApiFixture({
      httpListen: "127.0.0.1:0",
      makeEngine: held.makeEngine,
      logger: log.logger,
    });
    try {
      const stream = openStream(
        api.server.httpAddress!,
        CHECK,
        check("document:slow", "view", "user:a"),
      );
      await held.started.opened;
      const ended = log.request("PermissionService/Check");
      stream.hangUp();
      expect((await ended).code).toBe("CANCELLED");
    } finally {
      held.release.open();
      await api.close();
    }
  });

  test("serves HTTPS with the gRPC port's certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-https-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(join(dir, "cert.pem"), "utf8");
      const key = readFileSync(join(dir, "key.pem"), "utf8");
      const t = await openTestStore("sqlite");
      const engine = new Engine(t.store, { zookieSecret: "https-test-secret-0123456789" });
      const server = await startServer({
        engine,
        listen: "127.0.0.1:0",
        httpListen: "127.0.0.1:0",
        insecureDev: true,
        defaultTenant: "default",
        logger: pino({ level: "silent" }),
        tls: { cert, key },
      });
      try {
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest(
            {
              ...hostAndPort(server.httpAddress!),
              path: "/trellis.v1.AdminService/ListTenants",
              method: "POST",
              ca: cert,
            },
            (res) => {
              let body = "";
              res.on("data", (chunk) => {
                body += chunk;
              });
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            },
          );
          req.on("error", reject);
          req.end("{}");
        });
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body)).toEqual({ tenants: ["default"] });
      } finally {
        await server.close();
        await engine.close();
        await t.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("insecure-dev refuses a non-loopback HTTP address; with auth, one without TLS is warned about", async () => {
    const t = await openTestStore("sqlite");
    const engine = new Engine(t.store, { zookieSecret: "exposure-secret-0123456789" });
    try {
      await expect(
        startServer({
          engine,
          listen: "127.0.0.1:0",
          httpListen: "0.0.0.0:0",
          insecureDev: true,
          defaultTenant: "default",
          logger: pino({ level: "silent" }),
        }),
      ).rejects.toThrow(/httpListen/);
      const log = capturedLog("warn");
      const server = await startServer({
        engine,
        listen: "127.0.0.1:0",
        httpListen: "0.0.0.0:0",
        insecureDev: false,
        defaultTenant: "default",
        logger: log.logger,
      });
      await server.close({ graceMs: 100 });
      expect(log.lines.filter((l) => l.event === "http_without_tls")).toEqual([
        expect.objectContaining({ level: 40, http: server.httpAddress }),
      ]);
    } finally {
      await engine.close();
      await t.close();
    }
  });

  test("shutdown lets a call in flight finish, and ends an open stream with an error line", async () => {
    const held = heldChecks();
    const api = await startApiFixture({ httpListen: "127.0.0.1:0", makeEngine: held.makeEngine });
    const http = api.server.httpAddress!;
    try {
      const start = (await post(http, WRITE, touch("document:s0#viewer@user:erin"))).json();
      const stream = await openStream(http, WATCH, { optionalStartCursor: start.writtenAt });
      await post(http, WRITE, touch("document:s1#viewer@user:erin"));
      expect((await stream.next())?.result).toBeDefined();
      const inFlight = post(http, CHECK, check("document:slow", "view", "user:erin"));
      await held.started.opened;
      const closed = api.server.close({ graceMs: 60_000 });
      // The open stream ends at once, with a last line saying why.
      expect(await stream.next()).toEqual({
        error: { code: "UNAVAILABLE", message: "the server is shutting down" },
      });
      expect(await stream.next()).toBeUndefined();
      // The unary call in flight is answered once released, and then the server is closed.
      held.release.open();
      expect((await inFlight).status).toBe(200);
      await closed;
    } finally {
      held.release.open();
      await api.close();
    }
  });
});

// ---- credentials, scopes, audit --------------------------------------------------------------

class MemoryAudit implements AuditLog {
  readonly writes: WriteEvent[] = [];
  authFailure(): void {}
  authThrottled(): void {}
  write(event: WriteEvent): void {
    this.writes.push(event);
  }
}

async function storedKey(store: Datastore, scopes: string[]): Promise<string> {
  const minted = mintApiKey();
  await store.createApiKey({
    id: minted.id,
    tenant: DEFAULT_TENANT,
    secretHash: minted.secretHash,
    scopes,
    description: "",
    createdAt: new Date(),
  });
  return minted.token;
}

describe("HTTP/JSON with caller authentication", () => {
  let api: ApiFixture;
  let http: string;
  const audit = new MemoryAudit();
  let checker: string;
  let writer: string;

  beforeAll(async () => {
    api = await startApiFixture({
      httpListen: "127.0.0.1:0",
      auth: { maxFailuresPerMinute: 8 },
      audit,
      tuples: ["document:readme#viewer@user:alice"],
    });
    http = api.server.httpAddress!;
    checker = await storedKey(api.store, ["check"]);
    writer = await storedKey(api.store, ["write"]);
  });
  afterAll(() => api.close());

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  test("a valid credential with the scope is served", async () => {
    const answer = await post(
      http,
      CHECK,
      check("document:readme", "view", "user:alice"),
      bearer(checker),
    );
    expect(answer.status).toBe(200);
    expect(answer.json().permissionship).toBe("PERMISSIONSHIP_HAS_PERMISSION");
  });

  test("no credential is 401 UNAUTHENTICATED, with a Bearer challenge", async () => {
    const answer = await post(http, CHECK, check("document:readme", "view", "user:alice"));
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toBe("Bearer");
    expect(answer.json().code).toBe("UNAUTHENTICATED");
    // A stream too: refused before its first line, with the status.
    const stream = await post(http, LIST_OBJECTS, {
      resourceType: "document",
      permission: "view",
      subject: subj("user:alice"),
    });
    expect(stream.status).toBe(401);
  });

  test("a credential without the method's scope is 403 PERMISSION_DENIED", async () => {
    const answer = await post(http, WRITE, touch("document:x#viewer@user:bob"), bearer(checker));
    expect(answer.status).toBe(403);
    expect(answer.json()).toMatchObject({
      code: "PERMISSION_DENIED",
      message: expect.stringContaining("write scope"),
    });
  });

  test("a bad message from a stranger is still only 401", async () => {
    const answer = await post(http, CHECK, "{not json");
    expect(answer.status).toBe(401);
  });

  test("two authorization headers are refused, even both valid", async () => {
    const body = JSON.stringify(check("document:readme", "view", "user:alice"));
    const head = (authorizations: number) =>
      [
        `POST ${CHECK} HTTP/1.1`,
        `host: ${http}`,
        "connection: close",
        ...Array.from({ length: authorizations }, () => `authorization: Bearer ${checker}`),
      ].join("\r\n");
    expect(await rawRequest(http, head(1), body)).toBe(200);
    expect(await rawRequest(http, head(2), body)).toBe(401);
  });

  test("writes are audited as over gRPC, with the HTTP peer", async () => {
    const answer = await post(
      http,
      WRITE,
      touch("document:audited#viewer@user:bob"),
      bearer(writer),
    );
    expect(answer.status).toBe(200);
    const event = audit.writes.findLast((w) => w.method === "RelationshipService/Write");
    expect(event).toMatchObject({
      code: "OK",
      tenant: DEFAULT_TENANT,
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
  });

  test("failing credentials past the limit are 429 RESOURCE_EXHAUSTED", async () => {
    // Earlier tests here failed some already; at most 8 fail within the minute.
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      statuses.push((await post(http, CHECK, {}, bearer("trls_nosuchkey_secret"))).status);
    }
    expect(statuses[0]).toBe(401);
    expect(statuses.at(-1)).toBe(429);
    const throttled = await post(http, CHECK, {}, bearer("trls_nosuchkey_secret"));
    expect(throttled.json().code).toBe("RESOURCE_EXHAUSTED");
    // A valid credential from the same address is still served.
    const ok = await post(
      http,
      CHECK,
      check("document:readme", "view", "user:alice"),
      bearer(checker),
    );
    expect(ok.status).toBe(200);
  });
});

// ---- SpiceDB's gateway routes ----------------------------------------------------------------

describe("SpiceDB's HTTP gateway routes", () => {
  let api: ApiFixture;
  let http: string;

  beforeAll(async () => {
    api = await startApiFixture({
      httpListen: "127.0.0.1:0",
      tuples: ["document:readme#viewer@user:alice", "document:guide#viewer@user:alice"],
    });
    http = api.server.httpAddress!;
  });
  afterAll(() => api.close());

  const spicedbCheck = (resource: string, subject: string) => ({
    resource: obj(resource),
    permission: "view",
    subject: subj(subject),
    consistency: { fullyConsistent: true },
  });

  test("CheckPermission answers as SpiceDB's gateway does, every field written", async () => {
    const answer = await post(
      http,
      "/v1/permissions/check",
      spicedbCheck("document:readme", "user:alice"),
    );
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({
      checkedAt: { token: expect.any(String) },
      permissionship: "PERMISSIONSHIP_HAS_PERMISSION",
      partialCaveatInfo: null,
    });
  });

  test("unknown request fields are ignored, as grpc-gateway does", async () => {
    const answer = await post(http, "/v1/permissions/check", {
      ...spicedbCheck("document:readme", "user:alice"),
      somethingNew: true,
    });
    expect(answer.status).toBe(200);
  });

  test("write, then LookupResources as NDJSON", async () => {
    const written = await post(http, "/v1/relationships/write", {
      updates: [
        {
          operation: "OPERATION_TOUCH",
          relationship: {
            resource: obj("document:notes"),
            relation: "viewer",
            subject: subj("user:alice"),
          },
        },
      ],
    });
    expect(written.status, written.text).toBe(200);
    const answer = await post(http, "/v1/permissions/resources", {
      resourceObjectType: "document",
      permission: "view",
      subject: subj("user:alice"),
      consistency: { atLeastAsFresh: written.json().writtenAt },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/x-ndjson");
    expect(
      lines(answer).map((l) => (l.result as { resourceObjectId: string }).resourceObjectId),
    ).toEqual(["guide", "notes", "readme"]);
  });

  test("ImportBulkRelationships reads NDJSON, ReadRelationships streams it", async () => {
    const line = (id: string) =>
      JSON.stringify({
        relationships: [
          { resource: obj(`document:${id}`), relation: "viewer", subject: subj("user:zoe") },
        ],
      });
    const imported = await post(
      http,
      "/v1/relationships/importbulk",
      `${line("bulk1")}\n${line("bulk2")}\n`,
    );
    expect(imported.status, imported.text).toBe(200);
    expect(imported.json()).toEqual({ numLoaded: "2" });
    const read = await post(http, "/v1/relationships/read", {
      relationshipFilter: { resourceType: "document", optionalResourceIdPrefix: "bulk" },
      consistency: { fullyConsistent: true },
    });
    expect(read.status).toBe(200);
    expect(
      lines(read).map(
        (l) =>
          (l.result as { relationship: { resource: { objectId: string } } }).relationship.resource
            .objectId,
      ),
    ).toEqual(["bulk1", "bulk2"]);
  });

  test("errors are google.rpc.Status JSON with grpc-gateway's statuses", async () => {
    const answer = await post(
      http,
      "/v1/permissions/check",
      spicedbCheck("nosuchtype:x", "user:alice"),
    );
    // FAILED_PRECONDITION, which SpiceDB's gateway answers with 400, not 412.
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: status.FAILED_PRECONDITION, details: [] });
    const bad = await post(http, "/v1/permissions/check", { permission: 5 });
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe(status.INVALID_ARGUMENT);
  });
});

// ---- the mapping itself ----------------------------------------------------------------------

describe("HTTP statuses of gRPC codes", () => {
  test("trellis.v1 routes", () => {
    const expected: Record<string, number> = {
      INVALID_ARGUMENT: 400,
      UNAUTHENTICATED: 401,
      PERMISSION_DENIED: 403,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      ABORTED: 409,
      FAILED_PRECONDITION: 412,
      RESOURCE_EXHAUSTED: 429,
      UNAVAILABLE: 503,
      DEADLINE_EXCEEDED: 504,
      INTERNAL: 500,
      UNKNOWN: 500,
      UNIMPLEMENTED: 501,
    };
    for (const [name, code] of Object.entries(expected)) {
      expect(httpStatusOf("trellis", status[name as keyof typeof status]), name).toBe(code);
    }
  });

  test("SpiceDB's routes differ only where grpc-gateway does", () => {
    const differing = Object.keys(TRELLIS_HTTP_STATUS).filter(
      (code) =>
        TRELLIS_HTTP_STATUS[Number(code) as status] !== GATEWAY_HTTP_STATUS[Number(code) as status],
    );
    expect(differing.map((c) => status[Number(c)])).toEqual(["FAILED_PRECONDITION"]);
    expect(httpStatusOf("gateway", status.FAILED_PRECONDITION)).toBe(400);
  });
});
