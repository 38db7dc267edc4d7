/**
 * base64url (RFC 4648 §5, unpadded) of a string's UTF-8 bytes, for the opaque tokens of the
 * store (page cursors). Built on `TextEncoder` and `btoa`/`atob`, which Node and browsers both
 * have, so every engine — the in-memory one in a browser included — makes the same tokens.
 */

const encoder = new TextEncoder();
/** Not fatal: an invalid byte sequence decodes to U+FFFD, and the caller's checks refuse it. */
const decoder = new TextDecoder();

/** `btoa` and `atob` take at most this many bytes per `String.fromCharCode` call. */
const CHUNK = 0x2000;

export function encodeBase64Url(text: string): string {
  const bytes = encoder.encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The string whose UTF-8 bytes `token` encodes. Accepts padding and the `+/` alphabet too;
 * throws (a `DOMException` or `TypeError`) for anything that is not base64 at all.
 */
export function decodeBase64Url(token: string): string {
  const base64 = token.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64.length % 4 === 0 ? base64 : base64 + "=".repeat(4 - (base64.length % 4));
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return decoder.decode(bytes);
}
