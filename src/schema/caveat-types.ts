/**
 * The caveat parameter type system — int, uint, bool, string, double, bytes, duration,
 * timestamp, list<T>, map<T>, ipaddress, any — and the conversion of JSON context values (a
 * tuple's stored context or a request's context) into the CEL values of those types.
 *
 * Conversions follow SpiceDB's `pkg/caveats/types` (basic.go, ipaddress.go) so that a context
 * means the same in both systems: numbers may arrive as JSON numbers or numeric strings (the
 * way to send 64-bit integers through JSON), bytes as standard base64, durations as Go duration
 * strings ("1h30m"), timestamps as RFC 3339 strings, addresses as strings. Where SpiceDB
 * silently clamps an out-of-range integer we refuse it instead.
 */
import { type CelInput, celList, celMap } from "@bufbuild/cel";
import { create } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { invalidArgument, type SchemaDiagnostic } from "../core/errors.js";
import type { CaveatTypeNode } from "./ast.js";
import { ipAddressValue, parseIpAddress } from "./caveat-ip-address.js";

/** Parameter types without type arguments. */
export type CaveatScalarKind =
  | "any"
  | "bool"
  | "bytes"
  | "double"
  | "duration"
  | "int"
  | "ipaddress"
  | "string"
  | "timestamp"
  | "uint";

export type CaveatType =
  | { readonly kind: CaveatScalarKind }
  | { readonly kind: "list"; readonly element: CaveatType }
  /** Keys are always strings; `value` is the type argument. */
  | { readonly kind: "map"; readonly value: CaveatType };

const SCALAR_KINDS: readonly CaveatScalarKind[] = [
  "any",
  "bool",
  "bytes",
  "double",
  "duration",
  "int",
  "ipaddress",
  "string",
  "timestamp",
  "uint",
];

const scalars = new Map<string, CaveatType>(SCALAR_KINDS.map((kind) => [kind, { kind }]));

/** The shared instance of a scalar type. */
export function caveatScalar(kind: CaveatScalarKind): CaveatType {
  return scalars.get(kind)!;
}

export function caveatListOf(element: CaveatType): CaveatType {
  return { kind: "list", element };
}

export function caveatMapOf(value: CaveatType): CaveatType {
  return { kind: "map", value };
}

/** Schema-language spelling: `list<map<int>>`. Equal types print equally. */
export function formatCaveatType(type: CaveatType): string {
  switch (type.kind) {
    case "list":
      return `list<${formatCaveatType(type.element)}>`;
    case "map":
      return `map<${formatCaveatType(type.value)}>`;
    default:
      return type.kind;
  }
}

export interface CaveatTypeResult {
  /** Present when there are no diagnostics. */
  readonly type?: CaveatType;
  readonly diagnostics: readonly SchemaDiagnostic[];
}

const GENERIC_ARITY: ReadonlyMap<string, number> = new Map([
  ["list", 1],
  ["map", 1],
]);

const KNOWN_TYPES = [...SCALAR_KINDS, "list<T>", "map<T>"].sort().join(", ");

/**
 * Resolves a written parameter type, reporting unknown names and wrong numbers of type
 * arguments (`list` and `map` take exactly one, every other type none) at the offending node.
 */
export function resolveCaveatType(node: CaveatTypeNode): CaveatTypeResult {
  const diagnostics: SchemaDiagnostic[] = [];
  const type = resolve(node, diagnostics);
  return diagnostics.length > 0 || type === undefined ? { diagnostics } : { type, diagnostics };
}

function resolve(node: CaveatTypeNode, diagnostics: SchemaDiagnostic[]): CaveatType | undefined {
  const args = node.args.map((arg) => resolve(arg, diagnostics));
  const arity = GENERIC_ARITY.get(node.name);
  const scalar = scalars.get(node.name);
  if (arity === undefined && scalar === undefined) {
    diagnostics.push({
      message: `unknown caveat parameter type '${node.name}': expected one of ${KNOWN_TYPES}`,
      position: node.span.start,
    });
    return undefined;
  }
  const expected = arity ?? 0;
  if (node.args.length !== expected) {
    diagnostics.push({
      message:
        expected === 0
          ? `type '${node.name}' takes no type arguments, found ${node.args.length}`
          : `type '${node.name}' takes exactly ${expected} type argument, found ${node.args.length}`,
      position: node.span.start,
    });
    return undefined;
  }
  if (scalar !== undefined) return scalar;
  const [arg] = args;
  if (arg === undefined) return undefined;
  return node.name === "list" ? caveatListOf(arg) : caveatMapOf(arg);
}

// ---- context values ---------------------------------------------------------------------

/**
 * Converts a JSON value from a caveat context into the CEL value of the parameter's type.
 * Throws INVALID_ARGUMENT naming the parameter when the value does not fit.
 *
 * Runtime representation: int and uint are CEL `int` (bigint) — SpiceDB declares `uint`
 * parameters as CEL `int`, so `n == 1` type-checks in both systems — double a number, bytes a
 * Uint8Array, duration and timestamp the protobuf well-known messages, ipaddress the address
 * message, list a CEL list, map a CEL map with string keys, any the JSON value as CEL sees
 * JSON (numbers are doubles).
 */
export function convertCaveatValue(type: CaveatType, value: unknown, parameter: string): CelInput {
  const converted = convert(type, value);
  if (converted instanceof Rejection) {
    throw invalidArgument(
      `caveat parameter '${parameter}' of type ${formatCaveatType(type)}: ${converted.message}`,
    );
  }
  return converted;
}

/** A conversion failure, returned rather than thrown so nested values can add their path. */
class Rejection {
  constructor(readonly message: string) {}
}

function convert(type: CaveatType, value: unknown): CelInput | Rejection {
  switch (type.kind) {
    case "any":
      return jsonToCel(value);
    case "bool":
      return typeof value === "boolean" ? value : expected("a boolean", value);
    case "string":
      return typeof value === "string" ? value : expected("a string", value);
    case "int":
      return toInt64(value, false);
    case "uint":
      return toInt64(value, true);
    case "double":
      return toDouble(value);
    case "bytes":
      return toBytes(value);
    case "duration":
      return typeof value === "string"
        ? (parseGoDuration(value) ?? new Rejection(`invalid duration string ${show(value)}`))
        : expected('a duration string such as "1h30m"', value);
    case "timestamp":
      return typeof value === "string"
        ? (parseRfc3339(value) ?? new Rejection(`invalid RFC 3339 timestamp ${show(value)}`))
        : expected("an RFC 3339 timestamp string", value);
    case "ipaddress": {
      if (typeof value !== "string") return expected("an IP address string", value);
      const address = parseIpAddress(value);
      return address === undefined
        ? new Rejection(`invalid IP address ${show(value)}`)
        : ipAddressValue(address);
    }
    case "list": {
      if (!Array.isArray(value)) return expected("a list", value);
      const items: CelInput[] = [];
      for (let i = 0; i < value.length; i++) {
        const item = convert(type.element, value[i]);
        if (item instanceof Rejection) return new Rejection(`item ${i}: ${item.message}`);
        items.push(item);
      }
      return celList(items);
    }
    case "map": {
      if (!isPlainObject(value)) return expected("a map (JSON object)", value);
      const entries = new Map<string, CelInput>();
      for (const [key, raw] of Object.entries(value)) {
        if (raw === undefined) continue;
        const item = convert(type.value, raw);
        if (item instanceof Rejection) return new Rejection(`key ${show(key)}: ${item.message}`);
        entries.set(key, item);
      }
      return celMap(entries);
    }
  }
}

function expected(what: string, value: unknown): Rejection {
  return new Rejection(`expected ${what}, found ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `the string ${show(value)}`;
    case "number":
    case "bigint":
      return `the number ${String(value)}`;
    case "boolean":
      return `the boolean ${value}`;
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function show(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 66 ? `${json.slice(0, 62)}..."` : json;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** JSON as CEL sees it through protobuf's Struct: numbers are doubles, objects string maps. */
function jsonToCel(value: unknown): CelInput | Rejection {
  switch (typeof value) {
    case "boolean":
    case "string":
      return value;
    case "number":
      return Number.isFinite(value) ? value : new Rejection(`${value} is not a JSON number`);
    case "bigint":
      return value >= INT64_MIN && value <= INT64_MAX
        ? value
        : new Rejection(`${value} is out of the 64-bit integer range`);
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const items: CelInput[] = [];
        for (let i = 0; i < value.length; i++) {
          const item = jsonToCel(value[i]);
          if (item instanceof Rejection) return new Rejection(`item ${i}: ${item.message}`);
          items.push(item);
        }
        return celList(items);
      }
      if (!isPlainObject(value)) return new Rejection("expected a JSON value, found an object");
      const entries = new Map<string, CelInput>();
      for (const [key, raw] of Object.entries(value)) {
        if (raw === undefined) continue;
        const item = jsonToCel(raw);
        if (item instanceof Rejection) return new Rejection(`key ${show(key)}: ${item.message}`);
        entries.set(key, item);
      }
      return celMap(entries);
    }
    default:
      return new Rejection(`expected a JSON value, found ${typeof value}`);
  }
}

// ---- numbers ----------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Base-10 float syntax as Go's `big.ParseFloat(s, 10, …)` reads it (no underscores, no hex). */
const DECIMAL = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const INFINITY = /^[+-]?[Ii]nf$/;

/**
 * int and uint: a JSON number or numeric string whose exact value is an integer in range
 * ("42", "4.2e1" and 42.0 are 42; "1.5" and 1.5 are refused). uint is declared as CEL int
 * (see above), so its range is 0 to 2^63-1.
 */
function toInt64(value: unknown, unsigned: boolean): bigint | Rejection {
  let n: bigint | undefined;
  const what = unsigned ? "a non-negative integer" : "an integer";
  if (typeof value === "bigint") {
    n = value;
  } else if (typeof value === "number") {
    if (!Number.isInteger(value)) return expected(what, value);
    // 2^63 is representable as a double but not as an int64.
    if (value >= 2 ** 63 || value < -(2 ** 63)) return outOfRange(String(value), unsigned);
    n = BigInt(value);
  } else if (typeof value === "string") {
    const parsed = exactDecimalInteger(value);
    if (parsed === "not-a-number") return expected(`${what} or a numeric string`, value);
    if (parsed === "fractional") return expected(what, value);
    n = parsed;
  } else {
    return expected(what, value);
  }
  if (unsigned ? n < 0n || n > INT64_MAX : n < INT64_MIN || n > INT64_MAX) {
    return outOfRange(String(value), unsigned);
  }
  return n;
}

function outOfRange(text: string, unsigned: boolean): Rejection {
  return new Rejection(
    unsigned
      ? `${text} is out of range (0 to ${INT64_MAX})`
      : `${text} is out of range (${INT64_MIN} to ${INT64_MAX})`,
  );
}

/** The exact integer a decimal string denotes, or why it denotes none. */
function exactDecimalInteger(text: string): bigint | "not-a-number" | "fractional" {
  const m = DECIMAL.exec(text);
  if (m === null) return INFINITY.test(text) ? "fractional" : "not-a-number";
  const [, sign, whole, fraction, onlyFraction, exponentText] = m;
  const fractionDigits = fraction ?? onlyFraction ?? "";
  const digits = ((whole ?? "") + fractionDigits).replace(/^0+/, "");
  if (digits === "") return 0n;
  if (exponentText !== undefined && exponentText.replace(/^[+-]?0*/, "").length > 6) {
    // Such exponents make the value either 0 < |x| < 1 or far beyond 64 bits.
    return exponentText.startsWith("-")
      ? "fractional"
      : sign === "-"
        ? INT64_MIN - 1n
        : INT64_MAX + 1n;
  }
  const exponent = Number(exponentText ?? "0") - fractionDigits.length;
  let magnitude: bigint;
  if (exponent >= 0) {
    if (digits.length + exponent > 40) return sign === "-" ? INT64_MIN - 1n : INT64_MAX + 1n;
    magnitude = BigInt(digits) * 10n ** BigInt(exponent);
  } else {
    const scale = -exponent;
    if (scale >= digits.length) return "fractional";
    const kept = digits.slice(0, digits.length - scale);
    if (!/^0*$/.test(digits.slice(digits.length - scale))) return "fractional";
    if (kept.length > 40) return sign === "-" ? INT64_MIN - 1n : INT64_MAX + 1n;
    magnitude = BigInt(kept);
  }
  return sign === "-" ? -magnitude : magnitude;
}

function toDouble(value: unknown): number | Rejection {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    if (DECIMAL.test(value)) return Number(value);
    if (INFINITY.test(value)) return value.startsWith("-") ? -Infinity : Infinity;
    return expected("a number or a numeric string", value);
  }
  return expected("a number", value);
}

// ---- bytes ------------------------------------------------------------------------------

/** Standard base64 with padding; Go's decoder skips line breaks, so we do too. */
function toBytes(value: unknown): Uint8Array | Rejection {
  if (typeof value !== "string") return expected("a base64 string", value);
  const text = value.replace(/[\r\n]/g, "");
  if (
    text.length % 4 !== 0 ||
    !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)
  ) {
    return new Rejection(`invalid base64 string ${show(value)}`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- durations --------------------------------------------------------------------------

const NANOS_PER_SECOND = 1_000_000_000n;

/** Go's `time.ParseDuration` units, in nanoseconds ("µs" and "μs" are two code points). */
const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n],
  ["\u03bcs", 1_000n],
  ["ms", 1_000_000n],
  ["s", NANOS_PER_SECOND],
  ["m", 60n * NANOS_PER_SECOND],
  ["h", 3600n * NANOS_PER_SECOND],
]);

const DURATION_PART = /(\d*)(?:\.(\d*))?([^\d.]+)/y;

/**
 * Go's `time.ParseDuration`: an optional sign, then one or more `<decimal><unit>` parts
 * ("1h30m", "-1.5h", "300ms"), or a bare "0". The total must fit in int64 nanoseconds.
 */
export function parseGoDuration(text: string) {
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return create(DurationSchema, { seconds: 0n, nanos: 0 });
  if (rest === "") return undefined;
  let total = 0n;
  DURATION_PART.lastIndex = 0;
  let consumed = 0;
  while (consumed < rest.length) {
    DURATION_PART.lastIndex = consumed;
    const m = DURATION_PART.exec(rest);
    if (m === null) return undefined;
    const [part, whole = "", fraction, unitText = ""] = m;
    if (whole === "" && (fraction === undefined || fraction === "")) return undefined;
    const unit = DURATION_UNITS.get(unitText);
    if (unit === undefined) return undefined;
    total += BigInt(whole === "" ? "0" : whole) * unit;
    if (fraction !== undefined && fraction !== "") {
      total += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    }
    // Stop early: digit strings can be arbitrarily long.
    if (total > 2n ** 63n) return undefined;
    consumed += part.length;
  }
  if (negative) total = -total;
  if (total > INT64_MAX || total < INT64_MIN) return undefined;
  return create(DurationSchema, {
    seconds: total / NANOS_PER_SECOND,
    nanos: Number(total % NANOS_PER_SECOND),
  });
}

// ---- timestamps -------------------------------------------------------------------------

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** CEL's timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_TIMESTAMP_SECONDS = -62135596800n;
const MAX_TIMESTAMP_SECONDS = 253402300799n;

/**
 * Go's `time.Parse(time.RFC3339, …)`: `T` and `Z` upper case, fields range-checked (no leap
 * second, no 24:00), any number of fraction digits (kept to nanoseconds), offset to ±23:59.
 */
export function parseRfc3339(text: string) {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction, offsetSign, offsetHours, offsetMinutes] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (offsetSign !== undefined) {
    const oh = Number(offsetHours);
    const om = Number(offsetMinutes);
    if (oh > 23 || om > 59) return undefined;
    offset = (offsetSign === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const seconds = BigInt(date.getTime() / 1000 - offset);
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) return undefined;
  const nanos = fraction === undefined ? 0 : Number(fraction.slice(0, 9).padEnd(9, "0"));
  return create(TimestampSchema, { seconds, nanos });
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
