// OpenTelemetry tracing over a real server: a request's span continues the caller's W3C trace,
// with the engine's span below it and the store's below that; names, tenants, codes and counts
// on them, and nothing of the request's tuples, caveat context or credentials.
import { Metadata, status } from "@grpc/grpc-js";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import { parseRelationship } from "../../src/core/relationship.js";
import { tracing } from "../../src/core/tracing.js";
import { Engine } from "../../src/engine/engine.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import { startTracing, type TracingHandle } from "../../src/telemetry/index.js";
import { openTestStore, STORE_KINDS } from "../support/test-stores.js";
import {
  type ApiFixture,
  type CallOpts,
  collect,
  DEFAULT_TENANT,
  expectCode,
  obj,
  startApiFixture,
  subj,
} from "./api-fixture.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const consistency = { requirement: { $case: "fullyConsistent", fullyConsistent: true } } as const;

/** Strings of the requests below that must appear on no span. */
const SECRET_DAY = "tuesday-7d1f";
const PRIVATE = ["secret-plan-3c9a", "user-ann-52e1", SECRET_DAY];

const exporter = new InMemorySpanExporter();
let handle: TracingHandle;
let api: ApiFixture;
let token: string;

beforeAll(async () => {
  handle = startTracing({ exporter });
  api = await startApiFixture({
    // Every read from the store, so that a Check makes store spans.
    engineOptions: { indexTenants: false },
    auth: { maxFailuresPerMinute: 1000 },
    httpListen: "127.0.0.1:0",
    tuples: [
      `document:${PRIVATE[0]}#viewer@user:${PRIVATE[1]}[on_day:{"allowed":"${SECRET_DAY}"}]`,
      "document:readme#viewer@user:alice",
      "document:notes#viewer@user:alice",
    ],
  });
  const minted = mintApiKey();
  await api.store.createApiKey({
    id: minted.id,
    tenant: DEFAULT_TENANT,
    secretHash: minted.secretHash,
    scopes: ["check", "read"],
    description: "",
    createdAt: new Date(),
  });
  token = minted.token;
});

afterAll(async () => {
  await api?.close();
  await handle?.shutdown();
});

function withToken(headers: Record<string, string> = {}): CallOpts {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
  return { metadata };
}

/** The spans ended so far, once every one is exported; the exporter is emptied. */
async function finishedSpans(): Promise<ReadableSpan[]> {
  await handle.flush();
  const spans = exporter.getFinishedSpans();
  exporter.reset();
  return spans;
}

function parentOf(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan | undefined {
  const id = span.parentSpanContext?.spanId;
  return spans.find((s) => s.spanContext().spanId === id);
}

function ancestors(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const names: string[] = [];
  for (let p = parentOf(span, spans); p !== undefined; p = parentOf(p, spans)) names.push(p.name);
  return names;
}

function only(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
}

describe("with tracing on", () => {
  test("a Check continues the caller's trace: request, engine and store spans", async () => {
    const res = await api.check(
      {
        consistency,
        resource: obj("document:readme"),
        permission: "view",
        subject: subj("user:alice"),
      },
      withToken({
        traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
        tracestate: "vendor=opaque",
      }),
    );
    expect(res.permissionship).toBe(Permissionship.PERMISSIONSHIP_HAS_PERMISSION);
    const spans = await finishedSpans();

    const request = only(spans, "trellis.v1.PermissionService/Check");
    expect(request.spanContext().traceId).toBe(TRACE_ID);
    expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(request.parentSpanContext?.isRemote).toBe(true);
    expect(request.spanContext().traceState?.get("vendor")).toBe("opaque");
    expect(request.attributes).toMatchObject({
      "trellis.method": "PermissionService/Check",
      "rpc.service": "trellis.v1.PermissionService",
      "rpc.method": "Check",
      "trellis.tenant": DEFAULT_TENANT,
      "trellis.code": "OK",
      "rpc.grpc.status_code": status.OK,
    });
    expect(request.attributes["trellis.request_id"]).toEqual(expect.any(String));

    const engine = only(spans, "engine.check");
    expect(parentOf(engine, spans)).toBe(request);
    expect(engine.attributes).toMatchObject({
      "trellis.tenant": DEFAULT_TENANT,
      "trellis.permissionship": "ALLOWED",
      "trellis.source": "store",
    });
    expect(engine.attributes["trellis.revision"]).toEqual(expect.any(Number));

    const rounds = spans.filter((s) => s.name === "engine.round");
    expect(rounds.length).toBeGreaterThan(0);
    for (const round of rounds) {
      expect(parentOf(round, spans)).toBe(engine);
      expect(round.attributes["trellis.reads"]).toBeGreaterThan(0);
    }
    const reads = spans.filter((s) => s.name === "store.readByResource");
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) {
      expect(ancestors(read, spans)).toEqual([
        "engine.round",
        "engine.check",
        "trellis.v1.PermissionService/Check",
      ]);
      expect(read.attributes).toMatchObject({
        "db.system.name": "sqlite",
        "db.operation.name": "readByResource",
      });
      expect(read.attributes["db.response.returned_rows"]).toEqual(expect.any(Number));
    }
    // Every span of the call is in the caller's trace; none started a trace of its own.
    for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE_ID);
  });

  test("spans carry no tuple contents, caveat context or credentials", async () => {
    const res = await api.check(
      {
        consistency,
        resource: obj(`document:${PRIVATE[0]}`),
        permission: "view",
        subject: subj(`user:${PRIVATE[1]}`),
        context: { day: SECRET_DAY },
      },
      withToken(),
    );
    expect(res.permissionship).toBe(Permissionship.PERMISSIONSHIP_HAS_PERMISSION);
    // A refused credential and a failed request too: their messages quote input.
    const bad = new Metadata();
    bad.set("authorization", `Bearer ${token}x`);
    await expectCode(
      api.check(
        { resource: obj(`document:${PRIVATE[0]}`), permission: "view", subject: subj("user:x") },
        { metadata: bad },
      ),
      status.UNAUTHENTICATED,
    );
    await expectCode(
      api.check(
        {
          resource: obj(`nosuchtype:${PRIVATE[0]}`),
          permission: "view",
          subject: subj(`user:${PRIVATE[1]}`),
        },
        withToken(),
      ),
      status.FAILED_PRECONDITION,
    );
    const spans = await finishedSpans();
    expect(spans.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        "trellis.v1.PermissionService/Check",
        "engine.check",
        "store.readByResource",
      ]),
    );
    const text = JSON.stringify(
      spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        status: s.status,
        events: s.events,
        links: s.links,
        resource: s.resource.attributes,
      })),
    );
    for (const secret of [...PRIVATE, token, token.slice(0, 24)]) {
      expect(text).not.toContain(secret);
    }
  });

  test("a caller's mistake is an answer on the request span, a failure on the engine span", async () => {
    await expectCode(
      api.check(
        { resource: obj("document:readme"), permission: "nosuch", subject: subj("user:alice") },
        withToken(),
      ),
      status.FAILED_PRECONDITION,
    );
    const spans = await finishedSpans();
    const request = only(spans, "trellis.v1.PermissionService/Check");
    expect(request.status.code).toBe(0); // UNSET: not the server's fault
    expect(request.attributes).toMatchObject({
      "trellis.code": "FAILED_PRECONDITION",
      "rpc.grpc.status_code": status.FAILED_PRECONDITION,
    });
    const engine = only(spans, "engine.check");
    expect(engine.status).toEqual({ code: 2, message: "FAILED_PRECONDITION" });
  });

  test("a request without trace context starts a trace; a stream's engine span counts its items", async () => {
    const pages = await collect(
      api.listObjects(
        { resourceType: "document", permission: "view", subject: subj("user:alice") },
        withToken(),
      ),
    );
    expect(pages.map((p) => p.objectId).sort()).toEqual(["notes", "readme"]);
    const spans = await finishedSpans();
    const request = only(spans, "trellis.v1.PermissionService/ListObjects");
    expect(request.parentSpanContext).toBeUndefined();
    expect(request.spanContext().traceId).not.toBe(TRACE_ID);
    const engine = only(spans, "engine.listObjects");
    expect(parentOf(engine, spans)).toBe(request);
    expect(engine.attributes["trellis.items"]).toBe(2);
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(request.spanContext().traceId);
    }
  });
});

describe("over another face", () => {
  test("SpiceDB's HTTP route takes the trace context from the request's headers", async () => {
    const traceId = "5e1c0a2b9d8f47e6a3b2c1d0e9f8a7b6";
    const res = await fetch(`http://${api.server.httpAddress}/v1/permissions/check`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
        traceparent: `00-${traceId}-${CALLER_SPAN}-01`,
      },
      body: JSON.stringify({
        resource: obj("document:readme"),
        permission: "view",
        subject: subj("user:alice"),
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const spans = await finishedSpans();
    const request = only(spans, "authzed.api.v1.PermissionsService/CheckPermission");
    expect(request.spanContext().traceId).toBe(traceId);
    expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(request.attributes).toMatchObject({
      "rpc.service": "authzed.api.v1.PermissionsService",
      "rpc.method": "CheckPermission",
      "trellis.code": "OK",
    });
    expect(parentOf(only(spans, "engine.check"), spans)).toBe(request);
  });
});

describe("with the tenant indexed in memory", () => {
  test("the index's load and changelog following make no spans, and checks read the index", async () => {
    const indexed = await startApiFixture({ tuples: ["document:readme#viewer@user:alice"] });
    try {
      await finishedSpans();
      const check = () =>
        indexed.check({
          resource: obj("document:readme"),
          permission: "view",
          subject: subj("user:alice"),
        });
      await check();
      // The first check started the load in the background; wait for it to finish.
      await indexed.engine.mirror(DEFAULT_TENANT);
      await check();
      const spans = await finishedSpans();
      const requests = spans.filter((s) => s.name === "trellis.v1.PermissionService/Check");
      expect(requests).toHaveLength(2);
      const traces = new Set(requests.map((s) => s.spanContext().traceId));
      for (const span of spans) expect(traces.has(span.spanContext().traceId)).toBe(true);
      const engines = spans.filter((s) => s.name === "engine.check");
      expect(engines.map((s) => s.attributes["trellis.source"])).toContain("index");
      expect(tracing.enabled).toBe(true);
    } finally {
      await indexed.close();
    }
  });
});

describe.each(STORE_KINDS)("engine calls over %s, without a request", (kind) => {
  test("each call is a trace of its own, its store queries below it", async () => {
    const test = await openTestStore(kind);
    const engine = new Engine(test.store, {
      zookieSecret: "tracing-test-zookie-secret-0123",
      indexTenants: false,
      gc: false,
    });
    try {
      await test.store.createTenant("t");
      await engine.writeSchema("t", "definition user {}\ndefinition doc { relation viewer: user }");
      await engine.writeRelationships("t", [
        { op: "TOUCH", relationship: parseRelationship("doc:a#viewer@user:u") },
      ]);
      await finishedSpans();
      const bulk = await engine.checkBulk("t", [
        {
          resource: { type: "doc", id: "a" },
          permission: "viewer",
          subject: { type: "user", id: "u" },
        },
        {
          resource: { type: "doc", id: "b" },
          permission: "viewer",
          subject: { type: "user", id: "u" },
        },
      ]);
      expect(bulk.results).toHaveLength(2);
      const listed = await engine.listSubjects("t", {
        resource: { type: "doc", id: "a" },
        permission: "viewer",
        subjectType: "user",
      });
      expect(listed.subjects.map((s) => s.id)).toEqual(["u"]);
      const spans = await finishedSpans();
      const system = { sqlite: "sqlite", postgres: "postgresql", memory: "memory" }[kind];
      for (const name of ["engine.checkBulk", "engine.listSubjects"]) {
        const call = only(spans, name);
        expect(call.parentSpanContext).toBeUndefined();
        expect(call.attributes["trellis.tenant"]).toBe("t");
        const below = spans.filter(
          (s) => s.spanContext().traceId === call.spanContext().traceId && s !== call,
        );
        const stores = below.filter((s) => s.name.startsWith("store."));
        expect(stores.length).toBeGreaterThan(0);
        for (const span of stores) {
          expect(ancestors(span, spans)).toContain(name);
          expect(span.attributes["db.system.name"]).toBe(system);
        }
      }
      expect(only(spans, "engine.checkBulk").attributes["trellis.items"]).toBe(2);
      expect(only(spans, "engine.listSubjects").attributes["trellis.items"]).toBe(1);
    } finally {
      await engine.close();
      await test.close();
    }
  });
});
