/**
 * The CEL environment every caveat compiles and runs in: @bufbuild/cel's standard library plus
 * what SpiceDB adds to it (`pkg/caveats/types`): the `ipaddress` type with `in_cidr(string)`,
 * `map.isSubtreeOf(map)`, and timestamp accessors evaluated in UTC unless a time zone is given
 * (SpiceDB sets `cel.DefaultUTCTimeZone(true)`).
 *
 * The functions whose work grows with their input charge the running evaluation's cost meter
 * (`caveat-limits.ts`), and two functions only the metering rewrite calls (`caveat-cost.ts`)
 * charge comprehensions and append to `map`/`filter` results in place.
 */
import {
  type CelEnv,
  type CelFunc,
  type CelList,
  type CelMap,
  CelScalar,
  type CelType,
  type CelValue,
  celEnv,
  celFunc,
  celList,
  celMethod,
  isCelError,
  isCelList,
  isCelMap,
  listType,
  mapType,
  objectType,
} from "@bufbuild/cel";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { RE2JS } from "@bufbuild/re2";
import {
  APPEND_FUNCTION,
  CONTINUE_FUNCTION,
  callCost,
  matchCost,
  meteredName,
  RANGE_FUNCTION,
  SIZE_DEPENDENT_FUNCTIONS,
} from "./caveat-cost.js";
import {
  ipAddressCelType,
  ipAddressOf,
  ipAddressRegistry,
  parseIpPrefix,
  prefixContains,
} from "./caveat-ip-address.js";
import { chargeCaveatCost, checkCaveatBudget, MAX_PATTERN_LENGTH } from "./caveat-limits.js";

const { BOOL, DYN, INT, STRING } = CelScalar;
const TIMESTAMP = objectType(TimestampSchema);
const STRING_MAP = mapType(STRING, DYN);
const LIST = listType(DYN);

/** The standard library alone, for reusing its equality and `matches` inside our functions. */
const standard = celEnv();
const standardEquals = standard.funcs.find("_==_");

function celEquals(a: CelValue, b: CelValue): boolean {
  return standardEquals?.call(0, undefined, [a, b]) === true;
}

/**
 * `ip.in_cidr(cidr)`: whether the address lies in the CIDR block, as `netip.Prefix.Contains`
 * decides. A malformed CIDR is an evaluation error, as in SpiceDB.
 */
const inCidr = celMethod("in_cidr", ipAddressCelType, [STRING], BOOL, function (cidr) {
  const prefix = parseIpPrefix(cidr);
  if (prefix === undefined) throw new Error(`invalid CIDR string: \`${cidr}\``);
  return prefixContains(prefix, ipAddressOf(this.message));
});

/**
 * `expected.isSubtreeOf(provided)`: every key of `expected` is in `provided` with an equal
 * value, nested maps compared the same way recursively. Leaves compare with CEL equality
 * (SpiceDB compares Go values, where lists cannot be compared at all).
 */
const isSubtreeOf = celMethod("isSubtreeOf", STRING_MAP, [STRING_MAP], BOOL, function (other) {
  return isSubtree(this, other);
});

function isSubtree(expected: CelMap, provided: CelMap): boolean {
  chargeCaveatCost(callCost("isSubtreeOf", [expected.size]));
  for (const [key, value] of expected) {
    const found = provided.get(key);
    if (found === undefined) return false;
    if (isCelMap(value)) {
      if (!isCelMap(found) || !isSubtree(value, found)) return false;
    } else if (!celEquals(value, found)) {
      return false;
    }
  }
  return true;
}

// ---- metering ---------------------------------------------------------------------------

/** What a value weighs in `callCost`: elements of a list or map, length of a string or bytes. */
function sizeOf(value: CelValue): number {
  if (typeof value === "string") return value.length;
  if (value instanceof Uint8Array) return value.length;
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 1;
}

/** Twins of the size-dependent standard functions that charge `callCost` first. */
const meteredStandardFunctions: CelFunc[] = SIZE_DEPENDENT_FUNCTIONS.flatMap((name) =>
  [...(standard.funcs.find(name) ?? [])].map((overload) => {
    const twin = meteredName(name);
    const impl = function (this: CelValue | undefined, ...args: CelValue[]) {
      const sizes = args.map(sizeOf);
      if (this !== undefined) sizes.unshift(sizeOf(this));
      // Membership in a map is a lookup, not a scan.
      if (name === "@in" && isCelMap(args[1])) sizes[1] = 1;
      chargeCaveatCost(callCost(name, sizes));
      const result = overload.call(0, this, args);
      if (result === undefined) throw new Error(`no matching overload for '${name}'`);
      if (isCelError(result)) throw new Error(result.message);
      return result;
    };
    return overload.target === undefined
      ? celFunc(twin, overload.arguments as CelType[], overload.result, impl as never)
      : celMethod(
          twin,
          overload.target,
          overload.arguments as CelType[],
          overload.result,
          impl as never,
        );
  }),
);

/** `@trellis_range(range, weight)`: charges `size(range) * weight`, then yields the range. */
const chargeRange = celFunc(RANGE_FUNCTION, [DYN, INT], DYN, (range, weight) => {
  chargeCaveatCost(sizeOf(range) * Number(weight));
  return range;
});

/**
 * `@trellis_continue(condition)`: a comprehension's loop condition (never an error: CEL's
 * conditions map errors to true), refused once the budget has run out, which ends the loop.
 */
const continueWhileBudget = celFunc(CONTINUE_FUNCTION, [BOOL], BOOL, (condition) => {
  checkCaveatBudget();
  return condition;
});

/**
 * The accumulators this function made: only those grow in place. An accumulator starts as the
 * shared empty list and is visible to nothing but its own comprehension's step and result, so
 * appending to it cannot change a value anything else holds.
 */
const accumulators = new WeakMap<CelList, CelValue[]>();

/** `@trellis_append(accumulator, e)`: `accumulator + [e]` in constant time. */
const appendInPlace = celFunc(APPEND_FUNCTION, [LIST, DYN], LIST, (list, element) => {
  const items = accumulators.get(list);
  if (items !== undefined) {
    items.push(element);
    return list;
  }
  const fresh = [...list, element];
  const grown = celList(fresh);
  accumulators.set(grown, fresh);
  return grown;
});

// ---- regular expressions ----------------------------------------------------------------

const MAX_CACHED_PATTERNS = 256;
const patterns = new Map<string, RE2JS | Error>();

/**
 * A pattern compiled once and kept (patterns can come from request context, so the cache is
 * bounded and the length limited); compiling is charged by the pattern's length.
 */
function compiledPattern(pattern: string): RE2JS {
  let compiled = patterns.get(pattern);
  if (compiled === undefined) {
    if (pattern.length > MAX_PATTERN_LENGTH) {
      throw new Error(`regular expression longer than ${MAX_PATTERN_LENGTH} characters`);
    }
    chargeCaveatCost(pattern.length);
    try {
      compiled = RE2JS.compile(pattern);
    } catch (err) {
      compiled = new Error(
        `invalid regular expression: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (patterns.size >= MAX_CACHED_PATTERNS) patterns.clear();
    patterns.set(pattern, compiled);
  }
  if (compiled instanceof Error) throw compiled;
  return compiled;
}

/** Throws what a pattern written in a schema would fail with at run time; nothing when fine. */
export function checkPattern(pattern: string): void {
  compiledPattern(pattern);
}

function matches(text: string, pattern: string): boolean {
  chargeCaveatCost(matchCost(text.length, pattern.length));
  return compiledPattern(pattern).test(text);
}

/** `text.matches(re)`, and the global form `matches(text, re)` that cel-go has. */
const matchFunctions: CelFunc[] = [
  celMethod("matches", STRING, [STRING], BOOL, function (pattern) {
    return matches(this, pattern);
  }),
  celFunc("matches", [STRING, STRING], BOOL, matches),
];

// ---- timestamp accessors ----------------------------------------------------------------

/**
 * The civil fields of an instant in a time zone. @bufbuild/cel builds a *local* JavaScript
 * Date from the UTC fields, so in a server time zone with daylight saving a wall time that
 * falls in the spring gap moves by an hour and day-of-year can be off by one; computing on
 * UTC dates only avoids both.
 */
interface CivilTime {
  readonly year: number;
  /** 0-11. */
  readonly month: number;
  /** 1-31. */
  readonly day: number;
  /** 0 (Sunday) - 6. */
  readonly weekday: number;
  /** 0-365. */
  readonly yearDay: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
  readonly milliseconds: number;
}

const MS_PER_DAY = 86_400_000;

function civilTime(ts: Timestamp, zone: string | undefined): CivilTime {
  const instantMs = Number(ts.seconds) * 1000;
  const wallMs = zone === undefined ? instantMs : instantMs + zoneOffsetMs(instantMs, zone);
  const wall = new Date(wallMs);
  const yearStart = new Date(0);
  yearStart.setUTCFullYear(wall.getUTCFullYear(), 0, 1);
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth(),
    day: wall.getUTCDate(),
    weekday: wall.getUTCDay(),
    yearDay: Math.floor((wallMs - yearStart.getTime()) / MS_PER_DAY),
    hours: wall.getUTCHours(),
    minutes: wall.getUTCMinutes(),
    seconds: wall.getUTCSeconds(),
    milliseconds: Math.floor(ts.nanos / 1_000_000),
  };
}

/** cel-go reads a zone with a colon as a fixed offset `[+-]hh:mm`, anything else as a name. */
const FIXED_OFFSET = /^([+-]?)(\d{1,2}):(\d{2})$/;

function zoneOffsetMs(instantMs: number, zone: string): number {
  if (zone.includes(":")) {
    const m = FIXED_OFFSET.exec(zone);
    if (m === null) throw new Error(`invalid time zone offset '${zone}'`);
    const minutes = Number(m[2]) * 60 + Number(m[3]);
    return (m[1] === "-" ? -minutes : minutes) * 60_000;
  }
  const parts = zoneFormat(zone).formatToParts(new Date(instantMs));
  const field = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((p) => p.type === type)?.value ?? Number.NaN);
  const wall = new Date(0);
  wall.setUTCFullYear(field("year"), field("month") - 1, field("day"));
  wall.setUTCHours(field("hour"), field("minute"), field("second"), 0);
  const offset = wall.getTime() - Math.floor(instantMs / 1000) * 1000;
  if (Number.isNaN(offset)) throw new Error(`cannot convert to time zone '${zone}'`);
  return offset;
}

const MAX_CACHED_ZONES = 64;
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Zone names can come from request context, so the cache is bounded. */
function zoneFormat(zone: string): Intl.DateTimeFormat {
  let format = zoneFormats.get(zone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new Error(`unknown time zone '${zone}'`);
    }
    if (zoneFormats.size >= MAX_CACHED_ZONES) zoneFormats.clear();
    zoneFormats.set(zone, format);
  }
  return format;
}

const TIMESTAMP_ACCESSORS: ReadonlyArray<readonly [string, (t: CivilTime) => number]> = [
  ["getFullYear", (t) => t.year],
  ["getMonth", (t) => t.month],
  ["getDate", (t) => t.day],
  ["getDayOfMonth", (t) => t.day - 1],
  ["getDayOfWeek", (t) => t.weekday],
  ["getDayOfYear", (t) => t.yearDay],
  ["getHours", (t) => t.hours],
  ["getMinutes", (t) => t.minutes],
  ["getSeconds", (t) => t.seconds],
  ["getMilliseconds", (t) => t.milliseconds],
];

const timestampAccessors: CelFunc[] = TIMESTAMP_ACCESSORS.flatMap(([name, pick]) => [
  celMethod(name, TIMESTAMP, [], INT, function () {
    return BigInt(pick(civilTime(this.message as Timestamp, undefined)));
  }),
  celMethod(name, TIMESTAMP, [STRING], INT, function (zone) {
    return BigInt(pick(civilTime(this.message as Timestamp, zone)));
  }),
]);

/** Shared by every caveat: it holds functions and types only, never variables. */
export const caveatCelEnv: CelEnv = celEnv({
  registry: ipAddressRegistry,
  funcs: [
    ...meteredStandardFunctions,
    chargeRange,
    continueWhileBudget,
    appendInPlace,
    ...matchFunctions,
    inCidr,
    isSubtreeOf,
    ...timestampAccessors,
  ],
});
