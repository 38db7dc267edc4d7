// Deadlines, message limits, start-up refusals and shutdown.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientReadableStream, credentials, status } from "@grpc/grpc-js";
import pino from "pino";
import { describe, expect, test } from "vitest";
import { cancellationCode } from "../../src/api/request-pipeline.js";
import { startServer } from "../../src/api/server.js";
import { Engine, type CheckRequest as EngineCheck } from "../../src/engine/engine.js";
import { AdminServiceClient } from "../../src/gen/trellis/v1/admin_service.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import type { WatchResponse } from "../../src/gen/trellis/v1/relationship_service.js";
import { Gate } from "../support/gate.js";
import { openTestStore } from "../support/test-stores.js";
import {
  type ApiFixture,
  capturedLog,
  collect,
  expectCode,
  obj,
  startApiFixture,
  subj,
  unary,
} from "./api-fixture.js";

/**
 * An engine whose checks of `document:slow*` say that they have started, then wait until the
 * test releases them: a call the test knows is in flight, for as long as the test wants.
 */
function heldChecks() {
  const started = new Gate();
  const release = new Gate();
  const makeEngine = (store: Engine["store"], options: ConstructorParameters<typeof Engine>[1]) =>
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

const checkSlow = { resource: obj("document:slow"), permission: "view", subject: subj("user:a") };
const checkFast = { resource: obj("document:fast"), permission: "view", subject: subj("user:a") };

async function metricsText(api: ApiFixture): Promise<string> {
  return (await fetch(`http://${api.server.metricsAddress}/metrics`)).text();
}

async function openStreams(api: ApiFixture): Promise<number> {
  return (await metricsText(api))
    .split("\n")
    .filter((l) => l.startsWith("trellis_grpc_open_streams{"))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

/** The first message of a server stream. */
function firstMessage<T>(stream: ClientReadableStream<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    stream.once("data", resolve);
    stream.once("error", reject);
  });
}

describe("deadlines", () => {
  test("a call past its deadline gets DEADLINE_EXCEEDED, is counted so, and the server keeps serving", async () => {
    const held = heldChecks();
    const log = capturedLog();
    const api = await startApiFixture({
      makeEngine: held.makeEngine,
      metricsListen: "127.0.0.1:0",
      logger: log.logger,
    });
    try {
      // The check never answers by itself: only its deadline can end it. The client gives up
      // at its deadline, which the server hears before its own estimate of it passes; it
      // still counts the call as DEADLINE_EXCEEDED, not as a client that left.
      await expectCode(api.check(checkSlow, { deadlineMs: 2000 }), status.DEADLINE_EXCEEDED);
      expect(held.started.isOpen).toBe(true);
      expect((await log.request("PermissionService/Check")).code).toBe("DEADLINE_EXCEEDED");
      const res = await api.check(checkFast, { deadlineMs: 20_000 });
      expect(res.permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
      // A stream with a deadline stops when it passes, and the server forgets it.
      const watch = api.watch({}, { deadlineMs: 1000 });
      await expectCode(collect<WatchResponse>(watch), status.DEADLINE_EXCEEDED);
      expect((await log.request("RelationshipService/Watch")).code).toBe("DEADLINE_EXCEEDED");
      expect(await openStreams(api)).toBe(0);
      const body = await metricsText(api);
      expect(body).toContain(
        'trellis_grpc_requests_total{method="PermissionService/Check",code="DEADLINE_EXCEEDED"} 1',
      );
      expect(body).toContain(
        'trellis_grpc_requests_total{method="PermissionService/Check",code="OK"} 1',
      );
      expect(body).not.toContain('code="CANCELLED"');
    } finally {
      held.release.open();
      await api.close();
    }
  });

  test("a call without a deadline gets the server's default deadline", async () => {
    const held = heldChecks();
    const api = await startApiFixture({
      makeEngine: held.makeEngine,
      limits: { defaultDeadlineMs: 100 },
    });
    try {
      // The check is held until the end of the test: only the default deadline can end it.
      await expectCode(api.check(checkSlow), status.DEADLINE_EXCEEDED);
      expect(held.started.isOpen).toBe(true);
      // With a deadline of its own, a call is not bound by the default one.
      expect((await api.check(checkFast, { deadlineMs: 20_000 })).permissionship).toBe(
        Permissionship.PERMISSIONSHIP_NO_PERMISSION,
      );
    } finally {
      held.release.open();
      await api.close();
    }
  });

  test.each([
    // [ms before our deadline estimate, client's window, code]
    [0, 2000, "DEADLINE_EXCEEDED"],
    [-5, 2000, "DEADLINE_EXCEEDED"],
    [250, 2000, "DEADLINE_EXCEEDED"],
    [251, 2000, "CANCELLED"],
    [1500, 2000, "CANCELLED"],
    [25, 100, "DEADLINE_EXCEEDED"],
    [26, 100, "CANCELLED"],
    // Without a client deadline, only the deadline itself counts (the default is ours).
    [1, 0, "CANCELLED"],
    [0, 0, "DEADLINE_EXCEEDED"],
  ] as const)(
    "a client cancellation %i ms before the deadline of a %i ms call counts as %s",
    (early, windowMs, code) => {
      const deadline = 1_000_000;
      expect(cancellationCode(deadline - early, deadline, windowMs)).toBe(code);
    },
  );

  test("a client cancellation of a call without any deadline is CANCELLED", () => {
    expect(cancellationCode(Date.now(), Number.POSITIVE_INFINITY, 0)).toBe("CANCELLED");
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
    const held = heldChecks();
    const api = await startApiFixture({ makeEngine: held.makeEngine });
    const events: string[] = [];
    try {
      // The watch is open on the server once it has streamed a change made after its start.
      const start = await api.touch("document:w0#viewer@user:w");
      const watch = api.watch({ optionalStartCursor: { token: start } });
      const first = firstMessage(watch);
      await api.touch("document:w1#viewer@user:w");
      await first;
      const watchEnded = collect<WatchResponse>(watch).then(
        () => status.OK,
        (err: { code: number }) => err.code,
      );
      const inFlight = api.check(checkSlow).then((res) => {
        events.push("check answered");
        return res;
      });
      await held.started.opened;
      // A grace period no test waits out: the close must end when the held check does.
      const closed = api.server.close({ graceMs: 600_000 }).then(() => events.push("closed"));
      expect(await watchEnded).toBe(status.UNAVAILABLE);
      events.push("watch ended");
      held.release.open();
      expect((await inFlight).permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
      await closed;
      expect(events).toEqual(["watch ended", "check answered", "closed"]);
      await expectCode(api.check(checkFast, { deadlineMs: 20_000 }), status.UNAVAILABLE);
    } finally {
      held.release.open();
      await api.close();
    }
  });

  test("cuts calls still running after the grace period", async () => {
    const held = heldChecks();
    const log = capturedLog("warn");
    const api = await startApiFixture({ makeEngine: held.makeEngine, logger: log.logger });
    try {
      const inFlight = api.check(checkSlow).then(
        () => status.OK,
        (err: { code: number }) => err.code,
      );
      await held.started.opened;
      // The check is held until after the close: only the end of the grace period can end it.
      await api.server.close({ graceMs: 200 });
      expect(await inFlight).not.toBe(status.OK);
      expect(log.lines.map((l) => l.msg)).toContain(
        "calls still open after the grace period: closing them",
      );
    } finally {
      held.release.open();
      await api.close();
    }
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
