// Deadlines, message limits, start-up refusals and shutdown.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import pino from "pino";
import { describe, expect, test } from "vitest";
import { startServer } from "../../src/api/server.js";
import { Engine, type CheckRequest as EngineCheck } from "../../src/engine/engine.js";
import { AdminServiceClient } from "../../src/gen/trellis/v1/admin_service.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import type { WatchResponse } from "../../src/gen/trellis/v1/relationship_service.js";
import { openTestStore } from "../support/test-stores.js";
import {
  type ApiFixture,
  collect,
  eventually,
  expectCode,
  obj,
  startApiFixture,
  subj,
  unary,
} from "./api-fixture.js";

/** An engine whose checks of `document:slow*` take `ms` before answering. */
function slowChecks(ms: number) {
  return (store: Engine["store"], options: ConstructorParameters<typeof Engine>[1]) =>
    new (class extends Engine {
      override async check(tenant: string, req: EngineCheck) {
        if (req.resource.id.startsWith("slow")) await new Promise((r) => setTimeout(r, ms));
        return super.check(tenant, req);
      }
    })(store, options);
}

const checkSlow = { resource: obj("document:slow"), permission: "view", subject: subj("user:a") };
const checkFast = { resource: obj("document:fast"), permission: "view", subject: subj("user:a") };

async function openStreams(api: ApiFixture): Promise<number> {
  const body = await (await fetch(`http://${api.server.metricsAddress}/metrics`)).text();
  return body
    .split("\n")
    .filter((l) => l.startsWith("trellis_grpc_open_streams{"))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

describe("deadlines", () => {
  test("a call past its deadline gets DEADLINE_EXCEEDED and the server keeps serving", async () => {
    const api = await startApiFixture({
      makeEngine: slowChecks(1500),
      metricsListen: "127.0.0.1:0",
    });
    try {
      // Generous margins: a request reaching a busy server after its deadline is refused by
      // grpc-js before any handler runs, and would not count below.
      await expectCode(api.check(checkSlow, { deadlineMs: 400 }), status.DEADLINE_EXCEEDED);
      // A generous deadline: only the slow call may count as DEADLINE_EXCEEDED below.
      const res = await api.check(checkFast, { deadlineMs: 20_000 });
      expect(res.permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
      // A stream with a deadline stops when it passes, and the server forgets it.
      const watch = api.watch({}, { deadlineMs: 200 });
      await expectCode(collect<WatchResponse>(watch), status.DEADLINE_EXCEEDED);
      await eventually(async () => (await openStreams(api)) === 0);
      const body = await (await fetch(`http://${api.server.metricsAddress}/metrics`)).text();
      expect(body).toContain(
        'trellis_grpc_requests_total{method="PermissionService/Check",code="DEADLINE_EXCEEDED"} 1',
      );
    } finally {
      await api.close();
    }
  });

  test("a call without a deadline gets the server's default deadline", async () => {
    const api = await startApiFixture({
      makeEngine: slowChecks(3000),
      limits: { defaultDeadlineMs: 100 },
    });
    try {
      const started = Date.now();
      await expectCode(api.check(checkSlow), status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(2000);
      expect((await api.check(checkFast)).permissionship).toBe(
        Permissionship.PERMISSIONSHIP_NO_PERMISSION,
      );
    } finally {
      await api.close();
    }
  });
});

describe("message limits", () => {
  test("a request larger than the receive limit is RESOURCE_EXHAUSTED", async () => {
    const api = await startApiFixture({ limits: { maxReceiveMessageBytes: 1024 } });
    try {
      await expectCode(
        api.check({ ...checkFast, context: { big: "x".repeat(4096) } }),
        status.RESOURCE_EXHAUSTED,
      );
      expect((await api.check(checkFast)).permissionship).toBe(
        Permissionship.PERMISSIONSHIP_NO_PERMISSION,
      );
    } finally {
      await api.close();
    }
  });
});

describe("start-up", () => {
  test("refuses insecure-dev on a non-loopback address, insecure-dev with auth, and bad limits", async () => {
    const t = await openTestStore("sqlite");
    const engine = new Engine(t.store, { zookieSecret: "lifecycle-secret-0123456789" });
    const base = {
      engine,
      listen: "127.0.0.1:0",
      insecureDev: true,
      defaultTenant: "default",
      logger: pino({ level: "silent" }),
    };
    try {
      await expect(startServer({ ...base, auth: {} })).rejects.toThrow(/exclude/);
      await expect(startServer({ ...base, listen: "0.0.0.0:0" })).rejects.toThrow(/loopback/);
      await expect(startServer({ ...base, listen: "[::]:0" })).rejects.toThrow(/loopback/);
      await expect(startServer({ ...base, listen: "nohost" })).rejects.toThrow(TypeError);
      await expect(startServer({ ...base, limits: { maxUpdatesPerWrite: 0 } })).rejects.toThrow(
        /maxUpdatesPerWrite/,
      );
      await expect(startServer({ ...base, defaultTenant: "bad tenant" })).rejects.toThrow(
        /defaultTenant/,
      );
      // The default tenant is created when missing.
      const server = await startServer({ ...base, defaultTenant: "fresh" });
      expect(await t.store.listTenants()).toContain("fresh");
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      await server.close();
    } finally {
      await engine.close();
      await t.close();
    }
  });
});

describe("shutdown", () => {
  test("ends open streams with UNAVAILABLE, lets in-flight unary calls finish, then refuses calls", async () => {
    const api = await startApiFixture({ makeEngine: slowChecks(300) });
    const watch = api.watch();
    const watchEnded = collect<WatchResponse>(watch).then(
      () => status.OK,
      (err: { code: number }) => err.code,
    );
    // Let the watch and the slow check reach the server.
    await new Promise((r) => setTimeout(r, 100));
    const inFlight = api.check(checkSlow);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await api.server.close({ graceMs: 3000 });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await watchEnded).toBe(status.UNAVAILABLE);
    expect((await inFlight).permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
    await expectCode(api.check(checkFast, { deadlineMs: 1000 }), status.UNAVAILABLE);
    await api.close();
  });

  test("cuts calls still running after the grace period", async () => {
    const api = await startApiFixture({ makeEngine: slowChecks(5000) });
    const inFlight = api.check(checkSlow).then(
      () => status.OK,
      (err: { code: number }) => err.code,
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await api.server.close({ graceMs: 200 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await inFlight).not.toBe(status.OK);
    await api.close();
  });
});

describe("TLS", () => {
  test("serves TLS with the given certificate and key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-tls-"));
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
    const engine = new Engine(t.store, { zookieSecret: "lifecycle-secret-0123456789" });
    const server = await startServer({
      engine,
      listen: "127.0.0.1:0",
      insecureDev: true,
      defaultTenant: "default",
      logger: pino({ level: "silent" }),
      tls: { cert, key },
    });
    const secure = new AdminServiceClient(server.address, credentials.createSsl(Buffer.from(cert)));
    const plain = new AdminServiceClient(server.address, credentials.createInsecure());
    try {
      const res = await unary(secure.listTenants.bind(secure), {}, { deadlineMs: 5000 });
      expect(res.tenants).toEqual(["default"]);
      await expectCode(
        unary(plain.listTenants.bind(plain), {}, { deadlineMs: 2000 }),
        status.UNAVAILABLE,
      );
    } finally {
      secure.close();
      plain.close();
      await server.close();
      await engine.close();
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
