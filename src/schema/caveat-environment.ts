/**
 * The CEL environment every caveat compiles and runs in: @bufbuild/cel's standard library plus
 * what SpiceDB adds to it (`pkg/caveats/types`): the `ipaddress` type with `in_cidr(string)`,
 * `map.isSubtreeOf(map)`, and timestamp accessors evaluated in UTC unless a time zone is given
 * (SpiceDB sets `cel.DefaultUTCTimeZone(true)`).
 */
import {
  type CelEnv,
  type CelFunc,
  type CelMap,
  CelScalar,
  type CelValue,
  celEnv,
  celFunc,
  celMethod,
  isCelMap,
  mapType,
  objectType,
} from "@bufbuild/cel";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  ipAddressCelType,
  ipAddressOf,
  ipAddressRegistry,
  parseIpPrefix,
  prefixContains,
} from "./caveat-ip-address.js";

const { BOOL, DYN, INT, STRING } = CelScalar;
const TIMESTAMP = objectType(TimestampSchema);
const STRING_MAP = mapType(STRING, DYN);

/** The standard library alone, for reusing its equality and `matches` inside our functions. */
const standard = celEnv();
const standardEquals = standard.funcs.find("_==_");
const standardMatches = standard.funcs.find("matches");

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

/** The global form `matches(text, re)`, which cel-go has and @bufbuild/cel lacks. */
const globalMatches = celFunc("matches", [STRING, STRING], BOOL, (text, pattern) => {
  const result = standardMatches?.call(0, text, [pattern]);
  if (typeof result !== "boolean") throw new Error("matches: invalid pattern");
  return result;
});

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
  funcs: [inCidr, isSubtreeOf, globalMatches, ...timestampAccessors],
});
