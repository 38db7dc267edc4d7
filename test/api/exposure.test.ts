// What a server exposes, and where: insecure-dev mode judges the listen host by what it
// resolves to (a hosts file may map `localhost` anywhere), the unauthenticated metrics listener
// is loopback unless asked otherwise and loud when it is not, and `serve` exposes SQLite's
// `synchronous=FULL`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { startServer } from "../../src/api/server.js";
import { resolveServeConfig, runServe } from "../../src/cli/serve-command.js";
import { Engine } from "../../src/engine/engine.js";
import { openDatastore } from "../../src/store/open.js";
import { openTestStore, type TestStore } from "../support/test-stores.js";
import { capturedLog, DEFAULT_TENANT } from "./api-fixture.js";

// The resolver the server consults; a test maps a name to addresses of its choosing, as an
// /etc/hosts line would.
const hosts = vi.hoisted(() => new Map<string, string[]>());
vi.mock("node:dns/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:dns/promises")>();
  const lookup = (async (host: string, options?: unknown) => {
    const mapped = hosts.get(host);
    if (mapped === undefined)
      return (actual.lookup as (h: string, o?: unknown) => unknown)(host, options);
    return mapped.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  }) as typeof actual.lookup;
  return { ...actual, default: { ...actual, lookup }, lookup };
});
// The datastore the serve command opens, with the options it opens it with.
vi.mock("../../src/store/open.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/store/open.js")>();
  return { ...actual, openDatastore: vi.fn(actual.openDatastore) };
});

const dir = mkdtempSync(join(tmpdir(), "trellis-exposure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestStore | undefined;
let engine: Engine | undefined;
afterEach(async () => {
  hosts.clear();
  await engine?.close();
  await t?.close();
  engine = undefined;
  t = undefined;
});

async function newEngine(): Promise<Engine> {
  t = await openTestStore("sqlite");
  await t.store.createTenant(DEFAULT_TENANT);
  engine = new Engine(t.store, { zookieSecret: "exposure-test-zookie-secret-0123" });
  return engine;
}

describe("--insecure-dev", () => {
  test("refuses a listen name that resolves to a non-loopback address, localhost included", async () => {
    const engine = await newEngine();
    hosts.set("localhost", ["10.99.0.1"]);
    await expect(
      startServer({
        engine,
        listen: "localhost:0",
        insecureDev: true,
        defaultTenant: DEFAULT_TENANT,
        logger: pino({ level: "silent" }),
      }),
    ).rejects.toThrow(TypeError);
    hosts.set("localhost", ["127.0.0.1", "10.99.0.1"]);
    await expect(
      startServer({
        engine,
        listen: "localhost:0",
        insecureDev: true,
        defaultTenant: DEFAULT_TENANT,
        logger: pino({ level: "silent" }),
      }),
    ).rejects.toThrow(TypeError);
  });

  test("serves on a name that resolves to loopback addresses only", async () => {
    const engine = await newEngine();
    const server = await startServer({
      engine,
      listen: "localhost:0",
      insecureDev: true,
      defaultTenant: DEFAULT_TENANT,
      logger: pino({ level: "silent" }),
    });
    await server.close({ graceMs: 100 });
  });
});

describe("--metrics-listen", () => {
  test("a bare port binds loopback, quietly; a non-loopback host is a loud warning", async () => {
    const engine = await newEngine();
    const quiet = capturedLog("warn");
    const loopback = await startServer({
      engine,
      listen: "127.0.0.1:0",
      insecureDev: true,
      defaultTenant: DEFAULT_TENANT,
      logger: quiet.logger,
      metricsListen: "0",
    });
    try {
      expect(loopback.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(quiet.lines.filter((l) => l.event === "metrics_exposed")).toEqual([]);
    } finally {
      await loopback.close({ graceMs: 100 });
    }
    const loud = capturedLog("warn");
    const exposed = await startServer({
      engine,
      listen: "127.0.0.1:0",
      insecureDev: true,
      defaultTenant: DEFAULT_TENANT,
      logger: loud.logger,
      metricsListen: "0.0.0.0:0",
    });
    try {
      expect(loud.lines.filter((l) => l.event === "metrics_exposed")).toEqual([
        expect.objectContaining({ level: 40 }),
      ]);
    } finally {
      await exposed.close({ graceMs: 100 });
    }
  });
});

describe("--datastore", () => {
  test("takes sqlite:, postgres:// and memory:, and nothing else", () => {
    for (const datastore of ["sqlite:./x.db", "postgresql://u@h/db", "memory:"]) {
      expect(resolveServeConfig({ datastore }, {}).datastore).toBe(datastore);
    }
    for (const datastore of ["memory:extra", "mysql://h/db", "./x.db"]) {
      expect(() => resolveServeConfig({ datastore }, {})).toThrow(/--datastore must be/);
    }
  });
});

describe("--sqlite-synchronous", () => {
  test("is checked, and opens the SQLite store with it", async () => {
    const datastore = `sqlite:${join(dir, "sync", "t.db")}`;
    expect(resolveServeConfig({ datastore }, {}).sqliteSynchronous).toBe("NORMAL");
    expect(resolveServeConfig({ datastore, sqliteSynchronous: "full" }, {}).sqliteSynchronous).toBe(
      "FULL",
    );
    expect(
      resolveServeConfig({ datastore }, { TRELLIS_SQLITE_SYNCHRONOUS: "FULL" }).sqliteSynchronous,
    ).toBe("FULL");
    expect(() => resolveServeConfig({ datastore, sqliteSynchronous: "off" }, {})).toThrow(
      /--sqlite-synchronous/,
    );
    expect(() =>
      resolveServeConfig({ datastore: "postgres://x@h/db", sqliteSynchronous: "full" }, {}),
    ).toThrow(/--sqlite-synchronous/);

    const stop = new AbortController();
    let printed!: () => void;
    const banner = new Promise<void>((resolve) => {
      printed = resolve;
    });
    const done = runServe(
      { insecureDev: true, datastore, listen: "127.0.0.1:0", sqliteSynchronous: "full" },
      { out: (text) => text.includes("Stop with") && printed(), err: () => {} },
      stop.signal,
      {},
      pino({ level: "silent" }),
    );
    await Promise.race([banner, done]);
    stop.abort();
    expect(await done).toBe(0);
    expect(vi.mocked(openDatastore)).toHaveBeenCalledWith(datastore, { synchronous: "FULL" });
  });
});
