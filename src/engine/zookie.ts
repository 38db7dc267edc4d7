/**
 * Zookies: opaque consistency tokens naming a tenant's revision. They are tamper-evident (an
 * HMAC-SHA256 under a server secret), so a forged zookie, a zookie from another tenant or from
 * a server with another secret is refused with INVALID_ARGUMENT rather than trusted.
 *
 * Form: `z1.<revision in base 36>.<mac, base64url, 16 bytes>`; the tenant is bound by the MAC,
 * not carried, so a zookie reveals nothing about which tenant issued it.
 *
 * The MAC is computed by `@noble/hashes` rather than `node:crypto`, so that the same engine
 * runs in a browser (the playground): encoding and decoding are synchronous, which WebCrypto's
 * promise-only `subtle.sign` is not. The key is absorbed once, at construction.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { invalidArgument } from "../core/errors.js";
import type { Revision, TenantId, Zookie } from "../core/revision.js";

const PREFIX = "z1";
const MAC_BYTES = 16;

const encoder = new TextEncoder();

/** Unpadded base64url (RFC 4648 §5) of a few bytes. */
function base64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Whether two strings are equal, in time that depends only on their lengths. */
function equalInConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export class ZookieCodec {
  /** HMAC-SHA256 with the secret absorbed; each MAC starts from a clone of it. */
  readonly #keyed: ReturnType<typeof hmac.create>;

  /** `secret`: at least 16 bytes; every replica serving a tenant must share it. */
  constructor(secret: string | Uint8Array) {
    const bytes = typeof secret === "string" ? encoder.encode(secret) : Uint8Array.from(secret);
    if (bytes.length < 16) throw new TypeError("zookie secret must be at least 16 bytes");
    this.#keyed = hmac.create(sha256, bytes);
  }

  /** The MAC of a tenant's revision, base64url, as a zookie carries it. */
  #mac(tenant: TenantId, revision: Revision): string {
    const digest = this.#keyed
      .clone()
      .update(encoder.encode(`${tenant}\u0000${revision}`))
      .digest();
    return base64Url(digest.subarray(0, MAC_BYTES));
  }

  encode(tenant: TenantId, revision: Revision): Zookie {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new TypeError(`revision must be a non-negative integer, got ${revision}`);
    }
    return `${PREFIX}.${revision.toString(36)}.${this.#mac(tenant, revision)}` as Zookie;
  }

  /** The revision a zookie names; INVALID_ARGUMENT when it is malformed, forged or foreign. */
  decode(tenant: TenantId, zookie: string, field = "consistency"): Revision {
    const parts = zookie.split(".");
    if (parts.length !== 3 || parts[0] !== PREFIX || !/^[0-9a-z]{1,11}$/.test(parts[1]!)) {
      throw invalidArgument("malformed zookie", field);
    }
    const revision = Number.parseInt(parts[1]!, 36);
    if (
      !Number.isSafeInteger(revision) ||
      !equalInConstantTime(parts[2]!, this.#mac(tenant, revision))
    ) {
      throw invalidArgument("zookie was not issued for this tenant by this service", field);
    }
    return revision;
  }
}
