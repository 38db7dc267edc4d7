import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { utf8Length } from "./utf8-length.js";

describe("utf8Length", () => {
  test("counts as Buffer.byteLength does, lone surrogates included", () => {
    for (const text of ["", "abc", "é", "€", "😀", "\ud800", "\udc00x", "a\ud83d"]) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"));
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"));
      }),
    );
  });
});
