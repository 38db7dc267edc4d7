/**
 * Input quoted in error messages, bounded: a message echoes at most `MAX_QUOTED_CHARS` of
 * whatever a caller sent, so that a 100 kB name cannot make a 100 kB status message (gRPC
 * sends it as a trailer, and peers refuse trailers past their header-list limit).
 */

/** Characters of one input value an error message may quote. */
export const MAX_QUOTED_CHARS = 64;

/** The value in double quotes (JSON escapes), cut to `max` characters with `...` when longer. */
export function quoteInput(value: unknown, max = MAX_QUOTED_CHARS): string {
  const text = typeof value === "string" ? value : String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, Math.max(0, max - 3))}...` : text);
}

/** Characters of a whole error message sent to a caller; longer ones are cut. */
export const MAX_MESSAGE_CHARS = 1024;

/** The message cut to `max` characters (with a note that it was), whatever built it. */
export function boundMessage(message: string, max = MAX_MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  const note = ` ... (${message.length - max} more characters)`;
  return `${message.slice(0, Math.max(0, max - note.length))}${note}`;
}
