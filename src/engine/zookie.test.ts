import { createHmac } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ZookieCodec } from "./zookie.js";

const codec = new ZookieCodec("a secret of sixteen bytes or more");

describe("zookies", () => {
  test("round-trip the revision for the issuing tenant", () => {
    for (const rev of [0, 1, 42, 2 ** 40]) {
      expect(codec.decode("acme", codec.encode("acme", rev))).toBe(rev);
    }
  });

  test("are refused for another tenant", () => {
    const z = codec.encode("acme", 7);
    expect(() => codec.decode("globex", z)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  test("are refused when the revision is edited", () => {
    const z = codec.encode("acme", 7);
    const forged = z.replace(/^z1\.7\./, "z1.8.");
    expect(forged).not.toBe(z);
    expect(() => codec.decode("acme", forged)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  test("are refused when issued under another secret", () => {
    const other = new ZookieCodec("another secret, also long enough");
    expect(() => codec.decode("acme", other.encode("acme", 7))).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  test.each(["", "garbage", "z1..x", "z2.7.AAAA", "z1.7", "z1.7.!!!", "z1.zzzzzzzzzzzz.AAAA"])(
    "refuse the malformed zookie %j",
    (z) => {
      expect(() => codec.decode("acme", z)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    },
  );

  test("are the tokens node:crypto's HMAC made, so zookies issued before still decode", () => {
    const secret = "a secret of sixteen bytes or more";
    for (const [tenant, rev] of [
      ["acme", 0],
      ["acme", 7],
      ["tenant/ünïcode", 2 ** 40],
    ] as const) {
      const mac = createHmac("sha256", secret)
        .update(`${tenant}\u0000${rev}`)
        .digest()
        .subarray(0, 16)
        .toString("base64url");
      expect(codec.encode(tenant, rev)).toBe(`z1.${rev.toString(36)}.${mac}`);
      const bytes = new Uint8Array(Buffer.from(secret));
      expect(new ZookieCodec(bytes).encode(tenant, rev)).toBe(codec.encode(tenant, rev));
    }
  });

  test("refuse a short secret at construction", () => {
    expect(() => new ZookieCodec("short")).toThrow(TypeError);
  });
});
