// Running the server: tenants, API keys in insecure-dev mode, health, reflection, metrics,
// logs and how unexpected failures reach a caller.

import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TrellisError } from "../../src/core/errors.js";
import { Engine, type CheckRequest as EngineCheck } from "../../src/engine/engine.js";
import {
  type ApiFixture,
  eventually,
  expectCode,
  obj,
  relationshipMessage as rel,
  startApiFixture,
  subj,
} from "./api-fixture.js";
import { healthClient, listServices, memoryLogger } from "./raw-clients.js";

describe("tenants and API keys", () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApiFixture();
  });
  afterAll(() => api.close());

  test("creates tenants and lists them sorted; a duplicate is ALREADY_EXISTS", async () => {
    expect(await api.createTenant({ tenant: "zeta" })).toEqual({ tenant: "zeta" });
    await api.createTenant({ tenant: "alpha-1" });
    expect((await api.listTenants()).tenants).toEqual(["alpha-1", "default", "zeta"]);
    await expectCode(api.createTenant({ tenant: "zeta" }), status.ALREADY_EXISTS);
  });

  test("a malformed tenant id is INVALID_ARGUMENT", async () => {
    for (const tenant of ["", "Upper", "has space", "x".repeat(65)]) {
      await expectCode(api.createTenant({ tenant }), status.INVALID_ARGUMENT);
    }
  });

  test("API-key RPCs work in insecure-dev mode, for the tenant the metadata names", async () => {
    await api.createTenant({ tenant: "keys-b" });
    const created = await api.createApiKey({ tenant: "keys-b", scopes: ["check", "read"] });
    expect(created.token).toMatch(/^trls_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.key).toMatchObject({ tenant: "keys-b", scopes: ["check", "read"] });
    const listed = await api.listApiKeys({ tenant: "keys-b" });
    expect(listed.keys.map((k) => k.keyId)).toEqual([created.key!.keyId]);
    const revoked = await api.revokeApiKey({ keyId: created.key!.keyId });
    expect(revoked.key!.optionalRevokedAt).toBeInstanceOf(Date);
    await expectCode(api.revokeApiKey({ keyId: "abc" }), status.INVALID_ARGUMENT);
    await expectCode(api.revokeApiKey({ keyId: "zzzzzzzzzzzzzzzz" }), status.NOT_FOUND);
    await expectCode(
      api.createApiKey({ tenant: "keys-b", scopes: ["everything"] }),
      status.INVALID_ARGUMENT,
    );
    await expectCode(api.createApiKey({ tenant: "nope", scopes: ["check"] }), status.NOT_FOUND);
  });
});

describe("health and reflection", () => {
  test("health is SERVING, then NOT_SERVING once the store is closed", async () => {
    const api = await startApiFixture({
      limits: { healthProbeIntervalMs: 50, healthProbeTimeoutMs: 200 },
    });
    const health = healthClient(api.address);
    try {
      expect(await health.check("")).toBe("SERVING");
      expect(await health.check("trellis.v1.PermissionService")).toBe("SERVING");
      await api.store.close();
      await eventually(async () => (await health.check("")) === "NOT_SERVING");
      expect(await health.check("trellis.v1.RelationshipService")).toBe("NOT_SERVING");
      // A call that needs the store now fails UNAVAILABLE, with no driver detail.
      const err = await expectCode(api.listTenants(), status.UNAVAILABLE);
      expect(err.details).not.toMatch(/sqlite/i);
    } finally {
      health.client.close();
      await api.close();
    }
  });

  test("reflection lists the services", async () => {
    const api = await startApiFixture();
    try {
      const names = await listServices(api.address);
      expect(names).toEqual(
        expect.arrayContaining([
          "trellis.v1.PermissionService",
          "trellis.v1.RelationshipService",
          "trellis.v1.SchemaService",
          "trellis.v1.AdminService",
          "grpc.health.v1.Health",
        ]),
      );
    } finally {
      await api.close();
    }
  });
});

describe("metrics and logs", () => {
  const { logger, lines } = memoryLogger();
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApiFixture({
      logger,
      metricsListen: "127.0.0.1:0",
      tuples: ["document:m1#viewer@user:mia"],
      // An engine whose check fails like a driver would, for one resource id.
      makeEngine: (store, options) =>
        new (class extends Engine {
          override check(tenant: string, req: EngineCheck) {
            if (req.resource.id === "explode") {
              return Promise.reject(new Error("driver exploded at /var/lib/secret.db"));
            }
            if (req.resource.id === "unavailable") {
              return Promise.reject(
                new TrellisError("UNAVAILABLE", "postgres: connect ECONNREFUSED 10.1.2.3:5432", {
                  cause: new Error("ECONNREFUSED"),
                }),
              );
            }
            return super.check(tenant, req);
          }
        })(store, options),
    });
  });
  afterAll(() => api.close());

  test("/metrics reports requests by method and code, cache, index and store latency", async () => {
    await api.check({
      resource: obj("document:m1"),
      permission: "view",
      subject: subj("user:mia"),
    });
    await expectCode(
      api.check({ resource: obj("document:m1"), permission: "nope", subject: subj("user:mia") }),
      status.FAILED_PRECONDITION,
    );
    await api.listTenants();
    const res = await fetch(`http://${api.server.metricsAddress}/metrics`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain(
      'trellis_grpc_requests_total{method="PermissionService/Check",code="OK"} 1',
    );
    expect(body).toContain(
      'trellis_grpc_requests_total{method="PermissionService/Check",code="FAILED_PRECONDITION"} 1',
    );
    expect(body).toContain(
      'trellis_grpc_request_duration_seconds_bucket{le="0.001",method="PermissionService/Check"',
    );
    expect(body).toMatch(/trellis_check_cache_misses_total \d+/);
    expect(body).toMatch(/trellis_check_cache_hits_total \d+/);
    expect(body).toContain('trellis_index_live_tuples{tenant="default"} 1');
    expect(body).toContain(
      'trellis_store_call_duration_seconds_count{operation="listTenants",outcome="ok"}',
    );
    expect((await fetch(`http://${api.server.metricsAddress}/other`)).status).toBe(404);
  });

  test("one log line per request with method, code, duration, tenant and peer, and no tuple contents", async () => {
    lines.length = 0;
    await api.write({
      updates: [{ operation: 2, relationship: rel("document:secretplan#viewer@user:mia") }],
    });
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: "RelationshipService/Write",
      code: "OK",
      tenant: "default",
      caller: "insecure-dev",
    });
    expect(typeof requests[0]!.ms).toBe("number");
    expect(String(requests[0]!.peer)).toContain("127.0.0.1");
    expect(JSON.stringify(lines)).not.toContain("secretplan");
  });

  test("an unexpected error is INTERNAL with a request id; the detail stays in the server log", async () => {
    lines.length = 0;
    const err = await expectCode(
      api.check({
        resource: obj("document:explode"),
        permission: "view",
        subject: subj("user:mia"),
      }),
      status.INTERNAL,
    );
    expect(err.details).not.toContain("driver");
    const requestId = err.metadata.get("trellis-request-id")[0];
    expect(err.details).toContain(String(requestId));
    const logged = lines.find((l) => l.requestId === requestId && l.level === 50) as
      | { err: { stack: string } }
      | undefined;
    expect(logged?.err.stack).toContain("driver exploded");
  });

  test("a store failure is UNAVAILABLE with a generic message", async () => {
    const err = await expectCode(
      api.check({
        resource: obj("document:unavailable"),
        permission: "view",
        subject: subj("user:mia"),
      }),
      status.UNAVAILABLE,
    );
    expect(err.details).not.toContain("10.1.2.3");
  });
});
