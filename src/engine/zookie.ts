/**
 * Zookies: opaque consistency tokens naming a tenant's revision. They are tamper-evident (an
 * HMAC-SHA256 under a server secret), so a forged zookie, a zookie from another tenant or from
 * a server with another secret is refused with INVALID_ARGUMENT rather than trusted.
 *
 * Form: `z1.<revision in base 36>.<mac, base64url, 16 bytes>`; the tenant is bound by the MAC,
 * not carried, so a zookie reveals nothing about which tenant issued it.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "../core/errors.js";
import type { Revision, TenantId, Zookie } from "../core/revision.js";

const PREFIX = "z1";
const MAC_BYTES = 16;

export class ZookieCodec {
  readonly #secret: Buffer;

  /** `secret`: at least 16 bytes; every replica serving a tenant must share it. */
  constructor(secret: string | Uint8Array) {
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
    if (bytes.length < 16) throw new TypeError("zookie secret must be at least 16 bytes");
    this.#secret = bytes;
  }

  #mac(tenant: TenantId, revision: Revision): Buffer {
    return createHmac("sha256", this.#secret)
      .update(`${tenant}\u0000${revision}`)
      .digest()
      .subarray(0, MAC_BYTES);
  }

  encode(tenant: TenantId, revision: Revision): Zookie {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new TypeError(`revision must be a non-negative integer, got ${revision}`);
    }
    const mac = this.#mac(tenant, revision).toString("base64url");
    return `${PREFIX}.${revision.toString(36)}.${mac}` as Zookie;
  }

  /** The revision a zookie names; INVALID_ARGUMENT when it is malformed, forged or foreign. */
  decode(tenant: TenantId, zookie: string, field = "consistency"): Revision {
    const parts = zookie.split(".");
    if (parts.length !== 3 || parts[0] !== PREFIX || !/^[0-9a-z]{1,11}$/.test(parts[1]!)) {
      throw invalidArgument("malformed zookie", field);
    }
    const revision = Number.parseInt(parts[1]!, 36);
    const given = Buffer.from(parts[2]!, "base64url");
    const expected = this.#mac(tenant, revision);
    if (
      !Number.isSafeInteger(revision) ||
      given.length !== expected.length ||
      !timingSafeEqual(given, expected)
    ) {
      throw invalidArgument("zookie was not issued for this tenant by this service", field);
    }
    return revision;
  }
}
