// Datastores named on the command line: every command that takes one but `serve`, `init` and
// `tenants create` opens it only when it is there, and otherwise says so in one line naming the
// absolute path (SQLite) or the database (PostgreSQL), exit 3, creating nothing. A path that
// cannot hold a file is one line too, never a stack trace, `serve` included.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import pino from "pino";
import { afterAll, describe, expect, test } from "vitest";
import { runServe } from "../../src/cli/serve-command.js";
import { temporaryDirectory, trellis } from "../support/cli-harness.js";
import { PG_URL } from "../support/test-stores.js";

const root = join(import.meta.dirname, "..", "..");
const tmp = temporaryDirectory("trellis-cli-datastore-");
afterAll(() => tmp.remove());

/** Every command that reads or changes a datastore it must not create. */
const READERS: readonly (readonly string[])[] = [
  ["keys", "create", "--tenant", "acme", "--scopes", "check"],
  ["keys", "list", "--tenant", "acme"],
  ["keys", "revoke", "0123456789abcdef"],
  ["tenants", "list"],
];

function expectOneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe("a SQLite datastore that is not there", () => {
  test.each(READERS)("%s %s: exit 3, the absolute path named, nothing created", async (...args) => {
    const cwd = join(tmp.path, `cwd-${randomBytes(4).toString("hex")}`);
    mkdirSync(cwd);
    // The default, relative to the working directory.
    const byDefault = await trellis(args, { cwd });
    expect(byDefault.code).toBe(3);
    expectOneLine(byDefault.stderr);
    expect(byDefault.stderr).toContain(join(cwd, "data", "trellis.db"));
    expect(existsSync(join(cwd, "data"))).toBe(false);
    // A relative path given, and one from TRELLIS_DATASTORE.
    const given = await trellis([...args, "--datastore", "sqlite:elsewhere/t.db"], { cwd });
    expect(given.code).toBe(3);
    expect(given.stderr).toContain(join(cwd, "elsewhere", "t.db"));
    const fromEnv = await trellis(args, { cwd, env: { TRELLIS_DATASTORE: "sqlite:env.db" } });
    expect(fromEnv.code).toBe(3);
    expect(fromEnv.stderr).toContain(join(cwd, "env.db"));
    expect(existsSync(join(cwd, "elsewhere"))).toBe(false);
    expect(existsSync(join(cwd, "env.db"))).toBe(false);
    // A path under a file.
    const impossible = await trellis([...args, "--datastore", "sqlite:/etc/hostname/x.db"]);
    expect(impossible.code).toBe(3);
    expectOneLine(impossible.stderr);
    expect(impossible.stderr).toContain("/etc/hostname/x.db");
    // A file that is not a datastore is left alone.
    const text = join(cwd, "notes.txt");
    writeFileSync(text, "not a database");
    const notStore = await trellis([...args, "--datastore", `sqlite:${text}`]);
    expect(notStore.code).toBe(3);
    expectOneLine(notStore.stderr);
  });

  test("tenants create makes the datastore, after which the others open it", async () => {
    const cwd = join(tmp.path, "created");
    mkdirSync(cwd);
    const created = await trellis(["tenants", "create", "acme"], { cwd });
    expect(created.code, created.stderr).toBe(0);
    expect(existsSync(join(cwd, "data", "trellis.db"))).toBe(true);
    const key = await trellis(
      ["keys", "create", "--tenant", "acme", "--scopes", "check", "--quiet"],
      {
        cwd,
      },
    );
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout).toMatch(/^trls_/);
    expect((await trellis(["--json", "tenants", "list"], { cwd })).lines()).toEqual([
      { tenant: "acme" },
    ]);
    expect((await trellis(["tenants", "create", "acme"], { cwd })).code).toBe(3);
    const impossible = await trellis([
      "tenants",
      "create",
      "x",
      "--datastore",
      "sqlite:/etc/hostname/x.db",
    ]);
    expect(impossible.code).toBe(3);
    expectOneLine(impossible.stderr);
  });

  test("an unknown scheme and sqlite::memory: are usage errors", async () => {
    expect((await trellis(["tenants", "list", "--datastore", "mysql://h/db"])).code).toBe(2);
    expect((await trellis(["tenants", "list", "--datastore", "sqlite::memory:"])).code).toBe(2);
  });

  test("--endpoint and --datastore together are a usage error", async () => {
    const r = await trellis([
      "tenants",
      "list",
      "--endpoint",
      "127.0.0.1:1",
      "--datastore",
      "sqlite:x.db",
    ]);
    expect(r.code).toBe(2);
  });

  test("serve with a path that cannot hold a file fails in one line, without a stack trace", async () => {
    const run = promisify(execFile);
    const failed = await run(
      process.execPath,
      [
        join(root, "bin", "trellis"),
        "serve",
        "--insecure-dev",
        "--listen",
        "127.0.0.1:0",
        "--datastore",
        "sqlite:/etc/hostname/x.db",
      ],
      { cwd: tmp.path, env: { PATH: process.env.PATH ?? "" } },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("/etc/hostname/x.db");
    expect(failed.stderr).not.toMatch(/\s+at \S+ \(/);
    expect(failed.stderr).not.toContain('"stack"');
  });
});

describe.runIf(PG_URL !== undefined)("a PostgreSQL datastore that is not there", () => {
  const admin = () => new pg.Client({ connectionString: PG_URL });
  const databaseUrl = (name: string) => {
    const url = new URL(PG_URL!);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const tables = async (name: string): Promise<number> => {
    const client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
    try {
      const r = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
      );
      return Number(r.rows[0]!.n);
    } finally {
      await client.end();
    }
  };

  test("in an empty database: exit 3 and no tables made; tenants create makes them", async () => {
    const name = `trellis_cli_${randomBytes(5).toString("hex")}`;
    const client = admin();
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    try {
      for (const args of READERS) {
        const r = await trellis([...args, "--datastore", databaseUrl(name)]);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(3);
        expectOneLine(r.stderr);
        expect(r.stderr).toContain(name);
      }
      expect(await tables(name)).toBe(0);
      const created = await trellis([
        "tenants",
        "create",
        "acme",
        "--datastore",
        databaseUrl(name),
      ]);
      expect(created.code, created.stderr).toBe(0);
      const listed = await trellis(["--json", "tenants", "list", "--datastore", databaseUrl(name)]);
      expect(listed.lines()).toEqual([{ tenant: "acme" }]);
    } finally {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    }
  });

  test("serve on a database that does not exist: one line with the reason, no stack logged", async () => {
    let logged = "";
    const logger = pino(
      { level: "info" },
      {
        write: (line: string) => {
          logged += line;
        },
      },
    );
    let stderr = "";
    const code = await runServe(
      {
        insecureDev: true,
        listen: "127.0.0.1:0",
        datastore: databaseUrl("trellis_cli_no_such_database"),
      },
      { out: () => {}, err: (t) => (stderr += t) },
      new AbortController().signal,
      {},
      logger,
    );
    expect(code).toBe(3);
    expectOneLine(stderr);
    expect(stderr).toContain("trellis_cli_no_such_database");
    expect(logged).not.toContain("stack");
  });

  test("a database that does not exist is exit 3 in one line", async () => {
    for (const args of READERS) {
      const r = await trellis([
        ...args,
        "--datastore",
        databaseUrl("trellis_cli_no_such_database"),
      ]);
      expect(r.code).toBe(3);
      expectOneLine(r.stderr);
    }
  });
});
