/**
 * Caveat context values as JavaScript callers hold them, in the JSON form the server reads
 * (SpiceDB's): a `Date` becomes an RFC 3339 timestamp string, a `{ seconds, nanos? }` object a
 * Go duration string (`"90s"`, `"1.5s"`), a `bigint` a decimal string (the JSON way to send a
 * 64-bit integer), a `Uint8Array` standard base64 (`bytes`). Everything else is already JSON
 * and passes unchanged. The client and the embedded `Trellis` both convert here, so a context
 * means the same in-process and over the network.
 *
 * Numbers stay numbers: without the schema a number cannot be told from an `int` or a
 * `double`, so a duration is never given as a bare number (write `{ seconds: ms / 1000 }`).
 */
import { invalidArgument } from "../core/errors.js";
import type { CaveatContext } from "../core/relationship.js";

const NANOS_PER_SECOND = 1_000_000_000n;
const INT64_MAX = 2n ** 63n - 1n;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `{ seconds }` or `{ seconds, nanos }` with integer fields, and no other key. */
function isDurationObject(
  value: Record<string, unknown>,
): value is { seconds: number | bigint; nanos?: number } {
  const keys = Object.keys(value);
  if (!keys.includes("seconds") || keys.some((k) => k !== "seconds" && k !== "nanos")) {
    return false;
  }
  const { seconds, nanos } = value;
  const secondsOk =
    typeof seconds === "bigint" || (typeof seconds === "number" && Number.isSafeInteger(seconds));
  const nanosOk = nanos === undefined || (typeof nanos === "number" && Number.isInteger(nanos));
  return secondsOk && nanosOk;
}

/** A duration as Go's `time.ParseDuration` reads it: `"90s"`, `"-1.5s"`, `"0.000000001s"`. */
export function formatGoDuration(seconds: number | bigint, nanos = 0, field = "duration"): string {
  if (Math.abs(nanos) >= 1e9) {
    throw invalidArgument(`${field}.nanos must be within ±999999999, got ${nanos}`, field);
  }
  const total = BigInt(seconds) * NANOS_PER_SECOND + BigInt(nanos);
  if (total > INT64_MAX || total < -INT64_MAX) {
    throw invalidArgument(`${field} is out of range (about ±292 years)`, field);
  }
  const sign = total < 0n ? "-" : "";
  const abs = total < 0n ? -total : total;
  const whole = abs / NANOS_PER_SECOND;
  const fraction = (abs % NANOS_PER_SECOND).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}s`;
}

function toWire(value: unknown, field: string): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw invalidArgument("invalid Date", field);
        return value.toISOString();
      }
      if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
      if (Array.isArray(value)) return value.map((v, i) => toWire(v, `${field}[${i}]`));
      if (!isPlainObject(value)) return value;
      if (isDurationObject(value)) return formatGoDuration(value.seconds, value.nanos, field);
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) out[key] = toWire(v, `${field}.${key}`);
      return out;
    }
    default:
      return value;
  }
}

/**
 * A caveat context in the wire's JSON form (see the file comment). Returns the same object
 * when nothing needed converting, so plain JSON contexts are not copied.
 */
export function caveatContextToWire(context: CaveatContext, field = "context"): CaveatContext {
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    const wire = toWire(value, `${field}.${key}`);
    if (wire !== value) changed = true;
    out[key] = wire;
  }
  return changed ? out : context;
}
