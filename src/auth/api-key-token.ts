/**
 * The API-key token, `trls_<id>_<secret>`: a 16-character id (lowercase letters and digits,
 * the store's key) and a 32-byte random secret in base64url. Only the SHA-256 of the secret is
 * stored: the secret carries 256 bits of entropy, so a slow password hash would add cost and
 * no safety. Hashes are compared in constant time.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

const PREFIX = "trls_";
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 16;
const SECRET_BYTES = 32;
const TOKEN = /^trls_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

export interface MintedKey {
  readonly id: string;
  /** The whole token, shown once to whoever created the key. */
  readonly token: string;
  readonly secretHash: string;
}

export interface ParsedToken {
  readonly id: string;
  readonly secret: string;
}

export function mintApiKey(): MintedKey {
  let id = "";
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { id, token: `${PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** True when the token has our prefix: the caller meant an API key (even a malformed one). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(PREFIX);
}

/** The id and secret of a well-formed token; undefined otherwise. */
export function parseApiKey(token: string): ParsedToken | undefined {
  const match = TOKEN.exec(token);
  return match === null ? undefined : { id: match[1]!, secret: match[2]! };
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Compares the secret's hash with a stored one in time independent of where they differ. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(storedHash, "hex");
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** A stored hash no secret matches: unknown ids cost the same comparison as known ones. */
export const NO_MATCH_HASH = "0".repeat(64);
