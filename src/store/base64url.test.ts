import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url } from "./base64url.js";

describe("base64url", () => {
  it("encodes exactly as Node's Buffer does, so cursors made before stay valid", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => {
        expect(encodeBase64Url(text)).toBe(Buffer.from(text, "utf8").toString("base64url"));
      }),
    );
  });

  it("decodes what it encodes, and what Buffer encodes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => {
        expect(decodeBase64Url(encodeBase64Url(text))).toBe(text);
        expect(decodeBase64Url(Buffer.from(text, "utf8").toString("base64"))).toBe(text);
      }),
    );
  });

  it("encodes a token longer than one chunk of bytes", () => {
    const text = "ż".repeat(20_000);
    expect(encodeBase64Url(text)).toBe(Buffer.from(text, "utf8").toString("base64url"));
    expect(decodeBase64Url(encodeBase64Url(text))).toBe(text);
  });

  it("throws for text that is not base64", () => {
    for (const token of ["%%", "a", "ab$d", "é"]) {
      expect(() => decodeBase64Url(token), token).toThrow();
    }
  });
});
