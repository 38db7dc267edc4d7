/**
 * `TrellisClient` end to end: the shared scenarios against a real server (`startServer`,
 * insecure-dev, on a loopback port) over a real SQLite store, then what only a network client
 * does — tenants by metadata, retries, deadlines, cancellation, tokens — against the real
 * server, a closed port, or a scripted server that fails on purpose.
 */
import { createServer } from "node:net";
import { status } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startServer } from "../../src/api/server.js";
import { Engine } from "../../src/engine/engine.js";
import { isLoopbackAddress } from "../../src/sdk/client-options.js";
import { type RetryEvent, TrellisClient, TrellisError } from "../../src/sdk/index.js";
import { openTestStore } from "../support/test-stores.js";
import { collect, describeTrellisApi, expectCode, SCENARIO_SCHEMA } from "./api-scenarios.js";
import { type ScriptedServer, startScriptedServer } from "./scripted-server.js";

const TENANT = "default";

/** A real server over a fresh SQLite store; `close` stops and removes everything. */
async function startRealServer() {
  const test = await openTestStore("sqlite");
  const engine = new Engine(test.store, { zookieSecret: "client-test-zookie-secret-012345" });
  const server = await startServer({
    engine,
    listen: "127.0.0.1:0",
    insecureDev: true,
    defaultTenant: TENANT,
    logger: pino({ level: "silent" }),
  });
  return {
    address: server.address,
    engine,
    close: async () => {
      await server.close({ graceMs: 500 });
      await engine.close();
      await test.close();
    },
  };
}

/**
 * A loopback address where no gRPC server answers: every connection is closed as soon as it
 * opens. The port stays held until `close`, so no other test's server can take it meanwhile
 * (a port merely freed could be handed to the next listener on the machine).
 */
async function deadAddress(): Promise<{ address: string; close(): Promise<void> }> {
  const listener = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

const FAST_RETRIES = { maxRetries: 3, initialDelayMs: 10, maxDelayMs: 40 } as const;

describeTrellisApi("TrellisClient against a real server", async () => {
  const server = await startRealServer();
  const api = new TrellisClient({ address: server.address, deadlineMs: 10_000 });
  return {
    api,
    close: async () => {
      await api.close();
      await server.close();
    },
  };
});

describe("TrellisClient against a real server, on its own", () => {
  let server: Awaited<ReturnType<typeof startRealServer>>;

  beforeAll(async () => {
    server = await startRealServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  test("acts on the tenant it names in its metadata", async () => {
    await server.engine.store.createTenant("globex");
    const globex = new TrellisClient({ address: server.address, tenant: "globex" });
    const byDefault = new TrellisClient({ address: server.address });
    try {
      await globex.writeSchema(SCENARIO_SCHEMA);
      await globex.writeRelationships(["document:1#owner@user:ada"]);
      const fresh = { consistency: { atLeastAsFresh: globex.lastZookie! } };
      expect((await globex.check("document:1", "edit", "user:ada", fresh)).permissionship).toBe(
        "ALLOWED",
      );
      await expectCode(byDefault.readSchema(), "NOT_FOUND");
      const unknown = new TrellisClient({ address: server.address, tenant: "initech" });
      await expectCode(unknown.readSchema(), "NOT_FOUND");
      await unknown.close();
    } finally {
      await globex.close();
      await byDefault.close();
    }
  });

  test("does not retry an answer that is not UNAVAILABLE", async () => {
    const retries: RetryEvent[] = [];
    const client = new TrellisClient({
      address: server.address,
      retries: FAST_RETRIES,
      onRetry: (e) => retries.push(e),
    });
    try {
      await expectCode(client.readSchema(), "NOT_FOUND");
      await expectCode(client.check("nope:1", "view", "user:a"), "FAILED_PRECONDITION");
      expect(retries).toEqual([]);
    } finally {
      await client.close();
    }
  });

  test("cancels its open calls when closed, streams included", async () => {
    await server.engine.store.createTenant("watcher");
    const client = new TrellisClient({ address: server.address, tenant: "watcher" });
    const { zookie } = await client.writeSchema(SCENARIO_SCHEMA);
    const watch = client.watch({ after: zookie });
    // The watch is open on the server once it has streamed a write made after its start.
    const first = watch.next();
    await client.writeRelationships(["document:1#viewer@user:ada"]);
    expect((await first).done).toBe(false);
    const next = watch.next();
    await client.close();
    await expectCode(next, "CANCELLED");
  });

  test("fails with UNAVAILABLE once closed", async () => {
    const client = new TrellisClient({ address: server.address });
    await client.close();
    await client.close();
    await expectCode(client.readSchema(), "UNAVAILABLE");
    await expectCode(collect(client.listObjects("document", "view", "user:a")), "UNAVAILABLE");
  });
});

describe("TrellisClient retries", () => {
  let dead: Awaited<ReturnType<typeof deadAddress>>;

  beforeAll(async () => {
    dead = await deadAddress();
  });

  afterAll(async () => {
    await dead?.close();
  });

  test("fails with UNAVAILABLE where no server answers after the configured retries, not before", async () => {
    const retries: RetryEvent[] = [];
    const client = new TrellisClient({
      address: dead.address,
      deadlineMs: 20_000,
      retries: FAST_RETRIES,
      onRetry: (e) => retries.push(e),
    });
    try {
      const started = Date.now();
      const err = await expectCode(client.check("document:1", "view", "user:a"), "UNAVAILABLE");
      expect(err.cause).toMatchObject({ code: status.UNAVAILABLE });
      expect(retries.map((r) => r.retry)).toEqual([1, 2, 3]);
      expect(retries.every((r) => r.method === "PermissionService/Check")).toBe(true);
      expect(retries.every((r) => r.error.code === "UNAVAILABLE")).toBe(true);
      // Each wait is at least half its ceiling: 5 + 10 + 20 ms.
      expect(Date.now() - started).toBeGreaterThanOrEqual(35);
      for (const [i, r] of retries.entries()) {
        const ceiling = Math.min(FAST_RETRIES.maxDelayMs, FAST_RETRIES.initialDelayMs * 2 ** i);
        expect(r.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
        expect(r.delayMs).toBeLessThanOrEqual(ceiling);
      }
    } finally {
      await client.close();
    }
  });

  test("gives up early rather than wait past the deadline", async () => {
    const retries: RetryEvent[] = [];
    // Waits are drawn from [ceiling / 2, ceiling]: the first is at least 500 ms, so the second
    // (at least 1000 ms) would end past the deadline, and a second try, if the first wait
    // allows one, still has 500 ms, less the first try's time, to fail on its own.
    const client = new TrellisClient({
      address: dead.address,
      deadlineMs: 1500,
      retries: { maxRetries: 10, initialDelayMs: 1000, maxDelayMs: 10_000 },
      onRetry: (e) => retries.push(e),
    });
    try {
      await expectCode(client.check("document:1", "view", "user:a"), "UNAVAILABLE");
      expect(retries.length).toBeLessThanOrEqual(1);
    } finally {
      await client.close();
    }
  });

  test("retries nothing when retries are turned off", async () => {
    const retries: RetryEvent[] = [];
    const client = new TrellisClient({
      address: dead.address,
      retries: 0,
      onRetry: (e) => retries.push(e),
    });
    try {
      await expectCode(client.check("document:1", "view", "user:a"), "UNAVAILABLE");
      expect(retries).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe("TrellisClient against a scripted server", () => {
  let scripted: ScriptedServer;

  beforeAll(async () => {
    scripted = await startScriptedServer();
  });

  afterAll(async () => {
    await scripted?.close();
  });

  beforeEach(() => {
    scripted.reset();
  });

  function client(options: Partial<ConstructorParameters<typeof TrellisClient>[0]> = {}) {
    return new TrellisClient({ address: scripted.address, retries: FAST_RETRIES, ...options });
  }

  test("recovers when the server answers after failing with UNAVAILABLE", async () => {
    const c = client();
    try {
      const before = scripted.calls.check;
      scripted.script.check.push(status.UNAVAILABLE, status.UNAVAILABLE);
      const answer = await c.check("document:1", "view", "user:a");
      expect(answer).toEqual({ permissionship: "ALLOWED", zookie: "z-scripted" });
      expect(scripted.calls.check - before).toBe(3);
    } finally {
      await c.close();
    }
  });

  test("tries once plus the configured retries when the server stays UNAVAILABLE", async () => {
    const c = client();
    try {
      const before = scripted.calls.check;
      scripted.script.check.push(...Array(5).fill(status.UNAVAILABLE));
      await expectCode(c.check("document:1", "view", "user:a"), "UNAVAILABLE");
      expect(scripted.calls.check - before).toBe(1 + FAST_RETRIES.maxRetries);
      scripted.script.check.length = 0;
    } finally {
      await c.close();
    }
  });

  test.each([
    [status.INVALID_ARGUMENT, "INVALID_ARGUMENT"],
    [status.FAILED_PRECONDITION, "FAILED_PRECONDITION"],
    [status.PERMISSION_DENIED, "PERMISSION_DENIED"],
    [status.UNAUTHENTICATED, "UNAUTHENTICATED"],
    [status.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"],
    [status.INTERNAL, "INTERNAL"],
    [status.UNKNOWN, "INTERNAL"],
  ])("maps status %i to %s and tries it once", async (code, name) => {
    const c = client();
    try {
      const before = scripted.calls.check;
      scripted.script.check.push(code);
      const err = await expectCode(c.check("document:1", "view", "user:a"), name);
      expect(err).toBeInstanceOf(TrellisError);
      expect(scripted.calls.check - before).toBe(1);
    } finally {
      await c.close();
    }
  });

  test("does not retry a write whose repetition could change its outcome", async () => {
    const c = client();
    try {
      let before = scripted.calls.write;
      scripted.script.write.push(status.UNAVAILABLE);
      await expectCode(
        c.writeRelationships([{ op: "CREATE", relationship: "document:1#viewer@user:a" }]),
        "UNAVAILABLE",
      );
      expect(scripted.calls.write - before).toBe(1);

      before = scripted.calls.write;
      scripted.script.write.push(status.UNAVAILABLE);
      await expectCode(
        c.writeRelationships(["document:1#viewer@user:a"], {
          preconditions: [{ op: "MUST_NOT_MATCH", filter: { resourceType: "document" } }],
        }),
        "UNAVAILABLE",
      );
      expect(scripted.calls.write - before).toBe(1);

      before = scripted.calls.write;
      scripted.script.write.push(status.UNAVAILABLE);
      const touched = await c.writeRelationships(["document:1#viewer@user:a"]);
      expect(touched.zookie).toBe("z-written");
      expect(c.lastZookie).toBe("z-written");
      expect(scripted.calls.write - before).toBe(2);
    } finally {
      await c.close();
    }
  });

  test("fails with DEADLINE_EXCEEDED when the server does not answer in time, without retrying", async () => {
    const c = client({ deadlineMs: 20_000 });
    try {
      // Connected first, so that the deadline only has to cover one call reaching the server.
      await c.check("document:1", "view", "user:a");
      const before = scripted.calls.check;
      scripted.script.check.push("hang");
      await expectCode(
        c.check("document:1", "view", "user:a", { deadlineMs: 1000 }),
        "DEADLINE_EXCEEDED",
      );
      expect(scripted.calls.check - before).toBe(1);
    } finally {
      await c.close();
    }
  });

  test("fails with CANCELLED when the caller's signal aborts", async () => {
    const c = client();
    try {
      scripted.script.check.push("hang");
      const abort = new AbortController();
      const arrived = scripted.arrival("check");
      const pending = c.check("document:1", "view", "user:a", { signal: abort.signal });
      // Aborted while the server holds the call.
      await arrived;
      abort.abort();
      await expectCode(pending, "CANCELLED");
      expect(scripted.script.check).toEqual([]);
    } finally {
      await c.close();
    }
  });

  test("cancels the call on the server when the consumer breaks out of a stream", async () => {
    const c = client();
    try {
      const seen: string[] = [];
      for await (const object of c.listObjects("document", "view", "user:a")) {
        seen.push(object);
        if (seen.length === 3) break;
      }
      expect(seen).toEqual(["document:obj0", "document:obj1", "document:obj2"]);
      // The stream never ends by itself: only the client's cancel can resolve this.
      await scripted.listObjectsCancelled;
    } finally {
      await c.close();
    }
  });

  test("sends its token as a bearer credential and its tenant as metadata", async () => {
    const c = client({ token: "trls_key_secret", tenant: "acme" });
    try {
      await c.check("document:1", "view", "user:a");
      expect(scripted.lastMetadata?.get("authorization")).toEqual(["Bearer trls_key_secret"]);
      expect(scripted.lastMetadata?.get("trellis-tenant")).toEqual(["acme"]);
    } finally {
      await c.close();
    }
  });
});

describe("TrellisClient options", () => {
  test.each([
    ["127.0.0.1:50051", true],
    ["127.9.9.9:1", true],
    ["localhost:50051", true],
    ["[::1]:50051", true],
    ["dns:///localhost:443", true],
    ["unix:/run/trellis.sock", true],
    ["authz.example.com:443", false],
    ["10.0.0.1:50051", false],
    ["dns:///authz.example.com", false],
  ])("treats %s as loopback: %s (plaintext by default only there)", (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  test.each([
    [{}],
    [{ address: "" }],
    [{ address: "127.0.0.1:1", deadlineMs: 0 }],
    [{ address: "127.0.0.1:1", retries: -1 }],
    [{ address: "127.0.0.1:1", retries: { initialDelayMs: 100, maxDelayMs: 10 } }],
    [{ address: "127.0.0.1:1", token: "" }],
    [{ address: "127.0.0.1:1", tls: { cert: "x" } }],
    [{ address: "127.0.0.1:1", colour: "red" }],
  ])("refuses %j with a TypeError", (options) => {
    expect(() => new TrellisClient(options as never)).toThrow(TypeError);
  });
});
