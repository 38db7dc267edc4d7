/**
 * Datastores for commands that use one (`keys`, `tenants`): only `serve`, `init` and
 * `tenants create` may make a new one. Every other command opens a datastore only when it is
 * there — a SQLite file that exists, a PostgreSQL database that Trellis has migrated — and
 * otherwise fails with one line naming what it looked for (the absolute path of a file), so a
 * command run from the wrong directory never leaves an empty `./data/trellis.db` behind.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { TrellisError } from "../core/errors.js";
import type { Datastore } from "../store/datastore.js";
import { openDatastore } from "../store/open.js";
import { UsageError } from "./serve-command.js";

export const DATASTORE_DEFAULT = "sqlite:./data/trellis.db";

/** A SQLite URL's file, absolute from `cwd`; undefined for another scheme. */
export function sqlitePathOf(url: string, cwd: string): string | undefined {
  if (!url.startsWith("sqlite:")) return undefined;
  let path = url.slice("sqlite:".length);
  if (path.startsWith("//")) path = path.slice(2);
  if (path === "") throw new UsageError(`the datastore URL "${url}" names no file`);
  return path === ":memory:" ? path : resolve(cwd, path);
}

/** The URL without a password, to print. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  }
}

function checkScheme(url: string): void {
  if (
    !url.startsWith("sqlite:") &&
    !url.startsWith("postgres://") &&
    !url.startsWith("postgresql://")
  ) {
    throw new UsageError(
      `unsupported datastore URL "${url}": expected sqlite:PATH or postgres://user@host:5432/db`,
    );
  }
}

const SQLITE_HEADER = "SQLite format 3\u0000";

function checkSqliteFile(path: string): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new TrellisError("FAILED_PRECONDITION", `the datastore ${path} is not a file`);
    }
    size = stat.size;
  } catch (err) {
    if (err instanceof TrellisError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new TrellisError(
        "NOT_FOUND",
        `no datastore at ${path} (give --datastore, or create one with trellis serve or trellis tenants create)`,
      );
    }
    throw new TrellisError("FAILED_PRECONDITION", `cannot read the datastore ${path} (${code})`);
  }
  // An empty file, or one that is not SQLite, is not a datastore: opening it would make one.
  const header = Buffer.alloc(SQLITE_HEADER.length);
  if (size >= header.length) {
    const fd = openSync(path, "r");
    try {
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  }
  if (header.toString("latin1") !== SQLITE_HEADER) {
    throw new TrellisError("FAILED_PRECONDITION", `${path} is not a Trellis datastore`);
  }
}

/** Whether Trellis has migrated the PostgreSQL database (its `public` schema). */
async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  // A connection that fails later (the server going away) must not crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
    const result = await client.query<{ present: boolean }>(
      "SELECT to_regclass('public.trellis_migrations') IS NOT NULL AS present",
    );
    if (result.rows[0]?.present !== true) {
      throw new TrellisError(
        "NOT_FOUND",
        `no Trellis datastore in ${displayUrl(url)} (create one with trellis serve or trellis tenants create)`,
      );
    }
  } catch (err) {
    if (err instanceof TrellisError) throw err;
    // 3D000: the server answered, and has no such database.
    if ((err as { code?: unknown }).code === "3D000") {
      throw new TrellisError(
        "NOT_FOUND",
        `no datastore at ${displayUrl(url)}: ${(err as Error).message}`,
      );
    }
    throw new TrellisError(
      "UNAVAILABLE",
      `cannot reach the datastore ${displayUrl(url)}: ${(err as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Opens a datastore that exists; NOT_FOUND (one line, naming the absolute path) when it does
 * not, and nothing is created.
 */
export async function openExistingDatastore(url: string, cwd: string): Promise<Datastore> {
  checkScheme(url);
  const path = sqlitePathOf(url, cwd);
  if (path === ":memory:") {
    throw new UsageError("sqlite::memory: is empty in every command; give a file");
  }
  if (path !== undefined) {
    checkSqliteFile(path);
    return openDatastore(`sqlite:${path}`);
  }
  await checkPostgres(url);
  return openDatastore(url);
}

/**
 * Opens a datastore, creating it when missing (`tenants create`). A path that cannot hold a
 * file (`sqlite:/etc/hostname/x.db`) is one line naming it, not a stack trace.
 */
export async function openOrCreateDatastore(url: string, cwd: string): Promise<Datastore> {
  checkScheme(url);
  const path = sqlitePathOf(url, cwd);
  if (path === ":memory:") {
    throw new UsageError("sqlite::memory: is empty in every command; give a file");
  }
  try {
    return await openDatastore(path === undefined ? url : `sqlite:${path}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (path !== undefined && typeof code === "string" && !(err instanceof TrellisError)) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `cannot create the datastore ${path} (${code})`,
      );
    }
    throw err;
  }
}
