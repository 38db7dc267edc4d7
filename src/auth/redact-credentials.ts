/**
 * Removes whatever looks like a credential from text written to a log by code that is not ours
 * (grpc-js logs a metadata entry it cannot parse with its whole value, and at debug level the
 * metadata of every call). What it removes, most specific first:
 * - everything after an `authorization` key, to the end of the line (any value, any shape);
 * - `Bearer` and the word after it;
 * - API keys: `trls_` and everything up to the next whitespace;
 * - JWT-shaped strings: three dot-separated base64url parts, the first starting `eyJ` (`{"`),
 *   or any such parts of 16 characters or more.
 * It errs towards removing too much: the text is a diagnostic, a credential in it is a leak.
 */

const REDACTED = "[REDACTED]";

const RULES: readonly (readonly [RegExp, string])[] = [
  [/(authorization["']?\s*[:=]).*$/gim, `$1 ${REDACTED}`],
  [/\bbearer(?:[\s\u00a0]+|\b)\S*/gi, `Bearer ${REDACTED}`],
  [/trls_\S*/g, `trls_${REDACTED}`],
  [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?/g, REDACTED],
  [/[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

/** The text without anything credential-like (see the file comment). */
export function redactCredentials(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}
