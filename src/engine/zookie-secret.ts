/**
 * The secret that signs zookies, kept in the store: created once, by whichever process opens
 * the store first, and read by every other one, so that replicas started the same way on one
 * store accept each other's zookies, and zookies outlive restarts. A configured secret
 * (`--zookie-secret`) overrides it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SecretStore } from "../store/secret-store.js";

/** The name of the zookie secret among the store's shared secrets. */
export const ZOOKIE_SECRET_NAME = "zookie";

/** Where earlier versions kept the secret of a SQLite file: beside it. */
const LEGACY_SECRET_FILE = "zookie.secret";

/**
 * The store's zookie secret, created on first use. For a SQLite datastore that still has a
 * `zookie.secret` file beside it (written by earlier versions), the file's secret becomes the
 * store's, so zookies handed out before keep working.
 */
export function storedZookieSecret(store: SecretStore, datastore?: string): Promise<string> {
  return store.sharedSecret(
    ZOOKIE_SECRET_NAME,
    () => legacySecret(datastore) ?? randomBytes(32).toString("base64url"),
  );
}

function legacySecret(datastore: string | undefined): string | undefined {
  if (datastore === undefined || !datastore.startsWith("sqlite:")) return undefined;
  const path = datastore.slice("sqlite:".length).replace(/^\/\//, "");
  if (path === ":memory:") return undefined;
  try {
    const kept = readFileSync(join(dirname(path), LEGACY_SECRET_FILE), "utf8").trim();
    return Buffer.byteLength(kept) >= 16 ? kept : undefined;
  } catch {
    return undefined;
  }
}
