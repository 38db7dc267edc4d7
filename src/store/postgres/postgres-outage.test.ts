/**
 * PostgreSQL going away and coming back, seen through a TCP proxy in front of the test server:
 * every call fails with UNAVAILABLE (never INTERNAL, never a hang) while the proxy is down or
 * silent, and the same datastore answers again once it is back, without being reopened.
 */
import { once } from "node:events";
import net from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { collect, create, expectCode, rel } from "../conformance/tuple-fixtures.js";
import type { Datastore, OpenDatastoreOptions } from "../index.js";
import { openDatastore } from "../open.js";
import { PG_TEST_URL, PostgresTestSchemas } from "./postgres-test-schemas.testkit.js";

/**
 * Forwards 127.0.0.1:<port> to the test server. `close` stops listening and destroys every
 * open connection (the server is gone); `listen` again on the same port brings it back.
 * `silence` keeps accepting connections but forwards nothing in either direction (the server
 * is unreachable without refusing: a partition).
 */
class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #silent = false;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  async listen(): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    if (this.#silent) return;
    const upstream = net.connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => this.#sockets.delete(socket));
  }

  /** From now on nothing passes: open connections and new ones stay silent. */
  silence(): void {
    this.#silent = true;
    for (const socket of this.#sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  /** Stops listening and destroys every connection; resolves once the port is free. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#silent = false;
    for (const socket of this.#sockets) socket.destroy();
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}

/** One call of every method of the datastore, each expected to fail during an outage. */
function everyCall(store: Datastore, clock: ManualClock): Record<string, () => Promise<unknown>> {
  return {
    createTenant: () => store.createTenant("other"),
    listTenants: () => store.listTenants(),
    createApiKey: () =>
      store.createApiKey({
        id: "k000000000000002",
        tenant: "acme",
        secretHash: "b".repeat(64),
        scopes: ["check"],
        description: "outage",
        createdAt: new Date(clock.now()),
      }),
    getApiKey: () => store.getApiKey("k000000000000001"),
    listApiKeys: () => store.listApiKeys("acme"),
    revokeApiKey: () => store.revokeApiKey("k000000000000001", new Date(clock.now())),
    headRevision: () => store.headRevision("acme"),
    // A window this instance has not looked up yet, so the answer needs the server.
    optimizedRevision: () => {
      clock.advance(60_000);
      return store.optimizedRevision("acme", 5000);
    },
    readByResource: () =>
      store.readByResource("acme", 1, { type: "doc", id: "a", relation: "viewer" }),
    readBySubject: () =>
      store.readBySubject("acme", 1, {
        resourceType: "doc",
        relation: "viewer",
        subject: { type: "user", id: "alice" },
      }),
    readByFilter: () => store.readByFilter("acme", 1, { resourceType: "doc" }, { limit: 10 }),
    export: () => collect(store.export("acme", 1)),
    write: () => store.write("acme", [create("doc:b#viewer@user:bob")]),
    deleteByFilter: () => store.deleteByFilter("acme", { resourceType: "doc", resourceId: "zz" }),
    bulkImport: () => store.bulkImport("acme", [rel("doc:c#viewer@user:carol")]),
    writeSchema: () => store.writeSchema("acme", "definition user {}"),
    readSchema: () => store.readSchema("acme", 1),
    changesSince: () => store.changesSince("acme", 0, 10),
    waitForChanges: () => store.waitForChanges("acme", 1_000_000_000, { timeoutMs: 60_000 }),
    gc: () => store.gc(0),
    sharedSecret: () => store.sharedSecret("zookie", () => "fresh"),
  };
}

describe.skipIf(!PG_TEST_URL)("postgres outage", () => {
  const schemas = new PostgresTestSchemas(PG_TEST_URL!);
  afterAll(() => schemas.dropAll());
  const target = new URL(PG_TEST_URL ?? "postgresql://localhost");

  async function throughProxy(options: OpenDatastoreOptions = {}) {
    const proxy = new TcpProxy({
      host: target.hostname,
      port: Number(target.port || 5432),
    });
    await proxy.listen();
    const url = new URL(PG_TEST_URL!);
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    const clock = new ManualClock();
    const store = await openDatastore(url.toString(), {
      clock,
      postgresSchema: schemas.next(),
      poolSize: 3,
      ...options,
    });
    await store.createTenant("acme");
    await store.write("acme", [create("doc:a#viewer@user:alice")]);
    await store.createApiKey({
      id: "k000000000000001",
      tenant: "acme",
      secretHash: "a".repeat(64),
      scopes: ["check"],
      description: "before",
      createdAt: new Date(clock.now()),
    });
    // Every pooled connection in use at once, so that the outage finds them all open.
    await Promise.all([1, 2, 3].map(() => store.headRevision("acme")));
    return { proxy, store, clock };
  }

  it("answers UNAVAILABLE from every method while the server is down, then recovers by itself", async () => {
    const { proxy, store, clock } = await throughProxy();
    try {
      await proxy.close();
      const calls = everyCall(store, clock);
      for (const [name, call] of Object.entries(calls)) {
        const err = await expectCode(call(), "UNAVAILABLE");
        expect(err.message, name).not.toMatch(/ECONNREFUSED|terminated|127\.0\.0\.1|postgres:/i);
        expect(err.cause, name).toBeDefined();
      }

      await proxy.listen();
      expect(await store.headRevision("acme")).toBe(1);
      for (const [name, call] of Object.entries(calls)) {
        if (name === "waitForChanges") continue;
        await call().catch((err: unknown) => {
          throw new Error(`${name} still fails after the server came back`, { cause: err });
        });
      }
      expect(await store.waitForChanges("acme", 1)).toBeGreaterThan(1);
      expect(await store.sharedSecret("zookie", () => "other")).toBe("fresh");
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it("gives up on a server that stops answering with UNAVAILABLE, then recovers", async () => {
    const { proxy, store } = await throughProxy({ connectTimeoutMs: 300, queryTimeoutMs: 300 });
    try {
      proxy.silence();
      // Pooled connections: the statement gets no answer in time.
      await expectCode(store.headRevision("acme"), "UNAVAILABLE");
      await expectCode(store.write("acme", [create("doc:b#viewer@user:bob")]), "UNAVAILABLE");
      // New connections: the server never completes the handshake.
      for (let i = 0; i < 4; i++) {
        await expectCode(store.readSchema("acme", 1), "UNAVAILABLE");
      }
      await proxy.close();
      await proxy.listen();
      expect(await store.write("acme", [create("doc:b#viewer@user:bob")])).toBe(2);
      expect(await store.headRevision("acme")).toBe(2);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it("fails a statement the server runs past its time limit with DEADLINE_EXCEEDED", async () => {
    const schema = schemas.next();
    const store = await openDatastore(PG_TEST_URL!, {
      postgresSchema: schema,
      queryTimeoutMs: 200,
    });
    const admin = new pg.Client({ connectionString: PG_TEST_URL });
    await admin.connect();
    try {
      await store.createTenant("acme");
      // Another session holds the tenant's row: the write waits for it past its limit.
      await admin.query("BEGIN");
      await admin.query(`SELECT 1 FROM "${schema}".tenants WHERE id = 'acme' FOR UPDATE`);
      await expectCode(
        store.write("acme", [create("doc:a#viewer@user:alice")]),
        "DEADLINE_EXCEEDED",
      );
      await admin.query("ROLLBACK");
      expect(await store.write("acme", [create("doc:a#viewer@user:alice")])).toBe(1);
    } finally {
      await admin.end();
      await store.close();
    }
  });
});
