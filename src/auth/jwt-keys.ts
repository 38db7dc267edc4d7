/**
 * Where the keys that verify JWTs come from, and how fresh they are: an HMAC secret (fixed), a
 * key file (PEM public key or certificate, JWK, JWKS), or a JWKS URL. Each source says which
 * algorithms fit its keys (the default allowlist: RSA → RS and PS, RSA-PSS → PS, EC → the ES of
 * its curve, Ed25519 → EdDSA, a secret → HS) and carries a `version` that changes whenever its
 * keys do, so that a verification remembered under one version is not trusted under another.
 *
 * Rotation bounds:
 * - a key file given by path is re-read when the file system reports a change in its
 *   directory (`fs.watch`), and in any case by the first verification after `checkIntervalMs`
 *   (default 5 s) since it was last read; a file that does not parse keeps the previous keys
 *   (and is reported) until it does;
 * - a JWKS URL is fetched again once `maxAgeMs` (default 5 min) has passed since the last
 *   fetch, and at once (at most every `cooldownMs`, default 30 s) for a token whose key id it
 *   does not hold.
 */

import { createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { type FSWatcher, watch as watchDirectory } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import {
  createLocalJWKSet,
  importSPKI,
  importX509,
  type JWK,
  type JWTVerifyGetKey,
  errors as joseErrors,
} from "jose";
import type { Clock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";

export const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
export const ASYMMETRIC_ALGORITHMS = [
  ...RSA_ALGORITHMS,
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;
export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

const EC_ALGORITHM: Readonly<Record<string, string>> = {
  "P-256": "ES256",
  prime256v1: "ES256",
  "P-384": "ES384",
  secp384r1: "ES384",
  "P-521": "ES512",
  secp521r1: "ES512",
};

/** What a source tells about the keys in use. */
export interface JwtKeys {
  /** What jose verifies with. */
  readonly getKey: JWTVerifyGetKey | Uint8Array;
  /** The algorithms that fit these keys: the default allowlist. */
  readonly algorithms: readonly string[];
}

export interface JwtKeySource {
  /** The keys in use now. */
  current(): JwtKeys;
  /** Changes whenever the keys do. */
  readonly version: number;
  /**
   * Whether the keys may be used without looking again: false once a re-read or re-fetch is
   * due, and then `refresh` brings them up to date.
   */
  isFresh(now: number): boolean;
  refresh(now: number): Promise<void>;
  /** Stops watching. */
  close(): void;
}

/** Told when a watched key file or a fetched key set changes, or fails to load. */
export interface JwtKeyEvents {
  readonly onKeysChanged?: (version: number) => void;
  readonly onKeysFailed?: (error: Error) => void;
}

/** An HMAC secret: HS256/384/512; it never changes. */
export function secretKeySource(secret: Uint8Array): JwtKeySource {
  const keys: JwtKeys = { getKey: secret, algorithms: HMAC_ALGORITHMS };
  return {
    current: () => keys,
    version: 0,
    isFresh: () => true,
    refresh: async () => {},
    close: () => {},
  };
}

/**
 * Keys parsed from key-file text: a PEM public key or certificate, a JWK or a JWKS. TypeError
 * (naming what is wrong) for anything else, a private or symmetric key included.
 */
export function parseKeyFile(text: string): JwtKeys {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN")) {
    const isCertificate = trimmed.includes("BEGIN CERTIFICATE");
    if (!isCertificate && !trimmed.includes("BEGIN PUBLIC KEY")) {
      throw new TypeError(
        "the JWT key file must hold a PUBLIC KEY or a CERTIFICATE (never a private key)",
      );
    }
    let key: KeyObject;
    try {
      key = isCertificate ? new X509Certificate(trimmed).publicKey : createPublicKey(trimmed);
    } catch (err) {
      throw new TypeError(`the JWT key file's PEM does not parse: ${(err as Error).message}`);
    }
    const algorithms = pemAlgorithms(key);
    const byAlg = new Map<string, ReturnType<typeof importSPKI>>();
    const getKey: JWTVerifyGetKey = (header) => {
      // The allowlist keeps other algorithms out; this keeps them out of the import, too.
      if (!algorithms.includes(header.alg)) {
        return Promise.reject(new joseErrors.JOSEAlgNotAllowed("the key does not fit this alg"));
      }
      let imported = byAlg.get(header.alg);
      if (imported === undefined) {
        imported = isCertificate
          ? importX509(trimmed, header.alg)
          : importSPKI(trimmed, header.alg);
        byAlg.set(header.alg, imported);
      }
      return imported;
    };
    return { getKey, algorithms };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new TypeError("the JWT key file is neither PEM nor JSON (JWK or JWKS)");
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new TypeError("the JWT key file must hold a JWK or a JWKS object");
  }
  const keys = Array.isArray((parsed as { keys?: unknown }).keys)
    ? (parsed as { keys: JWK[] }).keys
    : [parsed as JWK];
  if (keys.length === 0) throw new TypeError("the JWT key file holds an empty key set");
  const algorithms = new Set<string>();
  for (const jwk of keys) {
    if (jwk === null || typeof jwk !== "object") {
      throw new TypeError("the JWT key file's key set holds something that is not a JWK");
    }
    if ("d" in jwk || jwk.kty === "oct") {
      throw new TypeError(
        "the JWT key file must hold public keys only (a JWK with a private or symmetric part was found)",
      );
    }
    for (const alg of jwkAlgorithms(jwk)) algorithms.add(alg);
  }
  return {
    getKey: createLocalJWKSet({ keys }),
    algorithms: ASYMMETRIC_ALGORITHMS.filter((a) => algorithms.has(a)),
  };
}

function pemAlgorithms(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return [...RSA_ALGORITHMS];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const alg = EC_ALGORITHM[key.asymmetricKeyDetails?.namedCurve ?? ""];
      if (alg !== undefined) return [alg];
      throw new TypeError(
        `the JWT key's curve ${key.asymmetricKeyDetails?.namedCurve} is not supported (P-256, P-384, P-521)`,
      );
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new TypeError(
        `JWT keys of type ${key.asymmetricKeyType} are not supported (RSA, EC, Ed25519)`,
      );
  }
}

function jwkAlgorithms(jwk: JWK): string[] {
  let fitting: string[];
  if (jwk.kty === "RSA") fitting = [...RSA_ALGORITHMS];
  else if (jwk.kty === "EC" && EC_ALGORITHM[jwk.crv ?? ""] !== undefined) {
    fitting = [EC_ALGORITHM[jwk.crv!]!];
  } else if (jwk.kty === "OKP" && jwk.crv === "Ed25519") fitting = ["EdDSA", "Ed25519"];
  else {
    throw new TypeError(
      `JWKs of kty ${jwk.kty}${jwk.crv !== undefined ? ` (crv ${jwk.crv})` : ""} are not supported (RSA, EC P-256/384/521, OKP Ed25519)`,
    );
  }
  if (jwk.alg === undefined) return fitting;
  if (!fitting.includes(jwk.alg)) {
    throw new TypeError(`a JWK of kty ${jwk.kty} cannot have alg ${jwk.alg}`);
  }
  return [jwk.alg];
}

/** Key-file text given as such: parsed once, never changes. */
export function fixedKeySource(text: string): JwtKeySource {
  const keys = parseKeyFile(text);
  return {
    current: () => keys,
    version: 0,
    isFresh: () => true,
    refresh: async () => {},
    close: () => {},
  };
}

export interface KeyFileOptions {
  readonly clock: Clock;
  /** The longest a change to the file can go unnoticed by verifications. Default 5000 ms. */
  readonly checkIntervalMs?: number;
  readonly events?: JwtKeyEvents;
}

/** A key file by path: read at once (a TypeError when it does not load), then kept current. */
export class KeyFileSource implements JwtKeySource {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #events: JwtKeyEvents;
  #text: string;
  #keys: JwtKeys;
  #version = 0;
  #checkedAt: number;
  /** The file system reported a change not read yet. */
  #stale = false;
  #reading: Promise<void> | undefined;
  #watcher: FSWatcher | undefined;

  private constructor(path: string, text: string, keys: JwtKeys, options: KeyFileOptions) {
    this.#path = path;
    this.#clock = options.clock;
    this.#intervalMs = options.checkIntervalMs ?? 5000;
    this.#events = options.events ?? {};
    this.#text = text;
    this.#keys = keys;
    this.#checkedAt = this.#clock.now();
    try {
      // The directory, not the file: an editor or a config mount replaces the file (a rename,
      // a symlink swap), which a watch of the old file would miss.
      const name = basename(path);
      this.#watcher = watchDirectory(dirname(path), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name && !changed.startsWith("..")) return;
        this.#stale = true;
        void this.refresh(this.#clock.now());
      });
      this.#watcher.on("error", () => this.#watcher?.close());
    } catch {
      // No watch on this file system: the periodic re-read still bounds the delay.
      this.#watcher = undefined;
    }
  }

  static async open(path: string, options: KeyFileOptions): Promise<KeyFileSource> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new TypeError(
        `cannot read the JWT key file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    return new KeyFileSource(path, text, parseKeyFile(text), options);
  }

  current(): JwtKeys {
    return this.#keys;
  }

  get version(): number {
    return this.#version;
  }

  isFresh(now: number): boolean {
    return !this.#stale && now - this.#checkedAt < this.#intervalMs;
  }

  refresh(now: number): Promise<void> {
    this.#reading ??= this.#read(now).finally(() => {
      this.#reading = undefined;
      // A change reported while the file was being read: read it again.
      if (this.#stale) void this.refresh(this.#clock.now());
    });
    return this.#reading;
  }

  async #read(now: number): Promise<void> {
    this.#stale = false;
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (err) {
      this.#checkedAt = now;
      this.#events.onKeysFailed?.(err as Error);
      return;
    }
    this.#checkedAt = now;
    if (text === this.#text) return;
    try {
      this.#keys = parseKeyFile(text);
    } catch (err) {
      // Half-written, or wrong: keep the previous keys until the file parses again.
      this.#events.onKeysFailed?.(err as Error);
      return;
    }
    this.#text = text;
    this.#version++;
    this.#events.onKeysChanged?.(this.#version);
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

export interface RemoteJwksOptions {
  readonly clock: Clock;
  /** How long a fetched key set is used before it is fetched again. Default 300 000 ms. */
  readonly maxAgeMs?: number;
  /** Least time between two fetches for unknown key ids. Default 30 000 ms. */
  readonly cooldownMs?: number;
  /** How long one fetch may take. Default 5000 ms. */
  readonly timeoutMs?: number;
  readonly events?: JwtKeyEvents;
}

/** The most a JWKS document may weigh. */
const MAX_JWKS_BYTES = 1024 * 1024;

/** A JWKS URL, fetched on first use and kept current (see the file comment). */
export class RemoteJwksSource implements JwtKeySource {
  readonly #url: URL;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #events: JwtKeyEvents;
  #local: JWTVerifyGetKey | undefined;
  #text = "";
  #version = 0;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #fetching: Promise<void> | undefined;
  readonly #keys: JwtKeys;

  constructor(url: URL, options: RemoteJwksOptions) {
    this.#url = url;
    this.#clock = options.clock;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#events = options.events ?? {};
    this.#keys = {
      getKey: (header, token) => this.#getKey(header, token),
      algorithms: ASYMMETRIC_ALGORITHMS,
    };
  }

  current(): JwtKeys {
    return this.#keys;
  }

  get version(): number {
    return this.#version;
  }

  isFresh(now: number): boolean {
    return this.#local !== undefined && now - this.#fetchedAt < this.#maxAgeMs;
  }

  refresh(now: number): Promise<void> {
    if (this.isFresh(now)) return Promise.resolve();
    return this.#fetch();
  }

  close(): void {}

  async #getKey(
    ...args: Parameters<JWTVerifyGetKey>
  ): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    await this.refresh(this.#clock.now());
    try {
      return await this.#local!(...args);
    } catch (err) {
      if (
        err instanceof joseErrors.JWKSNoMatchingKey &&
        this.#clock.now() - this.#fetchedAt >= this.#cooldownMs
      ) {
        await this.#fetch();
        return this.#local!(...args);
      }
      throw err;
    }
  }

  #fetch(): Promise<void> {
    this.#fetching ??= this.#load().finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      const response = await fetch(this.#url, {
        headers: { accept: "application/json, application/jwk-set+json" },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error(`larger than ${MAX_JWKS_BYTES} bytes`);
      if (text !== this.#text) {
        const local = createLocalJWKSet(JSON.parse(text));
        this.#local = local;
        this.#text = text;
        this.#version++;
        this.#events.onKeysChanged?.(this.#version);
      }
      this.#fetchedAt = this.#clock.now();
    } catch (err) {
      this.#events.onKeysFailed?.(err as Error);
      // The issuer's keys cannot be had: the caller may retry, it is not its credential's fault.
      throw new TrellisError("UNAVAILABLE", "the JWT key set could not be fetched", {
        cause: err,
      });
    }
  }
}
