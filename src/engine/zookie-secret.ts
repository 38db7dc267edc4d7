/**
 * The zookie secret kept beside a SQLite file, so that zookies outlive the process and an
 * embedded instance and `trellis serve` on the same file accept each other's zookies.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const ZOOKIE_SECRET_FILE = "zookie.secret";

/** The file path of a `sqlite:` datastore URL; undefined for other stores and `:memory:`. */
export function sqliteFilePath(datastore: string): string | undefined {
  if (!datastore.startsWith("sqlite:")) return undefined;
  const path = datastore.slice("sqlite:".length).replace(/^\/\//, "");
  return path === ":memory:" ? undefined : path;
}

/**
 * The secret kept beside the SQLite file of `datastore`, created (mode 0600) when missing;
 * undefined when the datastore is not a SQLite file. `created` says whether this call made it.
 * A kept secret shorter than 16 bytes is a TypeError naming the file.
 */
export function keptZookieSecret(
  datastore: string,
): { secret: string; file: string; created: boolean } | undefined {
  const path = sqliteFilePath(datastore);
  if (path === undefined) return undefined;
  const file = join(dirname(path), ZOOKIE_SECRET_FILE);
  try {
    return { secret: readSecret(file), file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = randomBytes(32).toString("base64url");
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      return { secret: readSecret(file), file, created: false };
    }
    throw err;
  }
  return { secret, file, created: true };
}

function readSecret(file: string): string {
  const kept = readFileSync(file, "utf8").trim();
  if (Buffer.byteLength(kept) < 16) {
    throw new TypeError(`${file} holds a zookie secret shorter than 16 bytes; fix or remove it`);
  }
  return kept;
}
