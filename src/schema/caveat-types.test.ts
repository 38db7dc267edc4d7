import { type CelInput, isCelList, isCelMap } from "@bufbuild/cel";
import { isMessage } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import { TrellisError } from "../core/errors.js";
import type { CaveatTypeNode, Span } from "./ast.js";
import {
  type CaveatType,
  caveatListOf,
  caveatMapOf,
  caveatScalar,
  convertCaveatValue,
  formatCaveatType,
  parseGoDuration,
  parseRfc3339,
  resolveCaveatType,
} from "./caveat-types.js";

/** A type node written at column `column` of line 1, for checking reported positions. */
function typeNode(name: string, args: CaveatTypeNode[] = [], column = 1): CaveatTypeNode {
  const start = { line: 1, column, offset: column - 1 };
  const span: Span = { start, end: start };
  return { kind: "caveatType", name, args, span };
}

const int = caveatScalar("int");

describe("resolveCaveatType", () => {
  test.each([
    ["int", typeNode("int"), "int"],
    ["uint", typeNode("uint"), "uint"],
    ["a list of strings", typeNode("list", [typeNode("string")]), "list<string>"],
    ["a map of lists", typeNode("map", [typeNode("list", [typeNode("int")])]), "map<list<int>>"],
    ["ipaddress", typeNode("ipaddress"), "ipaddress"],
    ["any", typeNode("any"), "any"],
  ])("resolves %s", (_title, node, printed) => {
    const result = resolveCaveatType(node);
    expect(result.diagnostics).toEqual([]);
    expect(formatCaveatType(result.type!)).toBe(printed);
  });

  test("reports an unknown type at the type's position", () => {
    const result = resolveCaveatType(typeNode("integer", [], 14));
    expect(result.type).toBeUndefined();
    expect(result.diagnostics.map((d) => d.position.column)).toEqual([14]);
    expect(result.diagnostics[0]!.message).toContain("integer");
  });

  test("reports an unknown type nested inside a generic", () => {
    const result = resolveCaveatType(typeNode("list", [typeNode("strng", [], 20)], 15));
    expect(result.diagnostics.map((d) => d.position.column)).toEqual([20]);
  });

  test.each([
    ["a list without a type argument", typeNode("list")],
    ["a list with two type arguments", typeNode("list", [typeNode("int"), typeNode("int")])],
    ["a map with two type arguments", typeNode("map", [typeNode("string"), typeNode("int")])],
    ["a scalar with a type argument", typeNode("int", [typeNode("int")])],
  ])("refuses %s", (_title, node) => {
    const result = resolveCaveatType(node);
    expect(result.type).toBeUndefined();
    expect(result.diagnostics).toHaveLength(1);
    expect(result.diagnostics[0]!.position.column).toBe(1);
  });
});

function convert(type: CaveatType, value: unknown): CelInput {
  return convertCaveatValue(type, value, "p");
}

function conversionError(type: CaveatType, value: unknown): TrellisError {
  try {
    convertCaveatValue(type, value, "the_param");
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    return err as TrellisError;
  }
  throw new Error("expected a conversion error");
}

describe("convertCaveatValue", () => {
  test.each([
    ["a JSON integer", 42, 42n],
    ["an integral double", 42.0, 42n],
    ["a numeric string", "42", 42n],
    ["a numeric string beyond 2^53", "9223372036854775807", 9223372036854775807n],
    ["the smallest int64", "-9223372036854775808", -9223372036854775808n],
    ["an exponent string", "4.2e1", 42n],
    ["a bigint", 7n, 7n],
  ])("reads an int from %s", (_title, value, expected) => {
    expect(convert(int, value)).toBe(expected);
  });

  test.each([
    ["a fraction", 1.5],
    ["a fractional string", "1.5"],
    ["a non-numeric string", "forty-two"],
    ["an int64 overflow", "9223372036854775808"],
    ["2^63 as a double", 2 ** 63],
    ["a boolean", true],
    ["null", null],
    ["a list", [1]],
  ])("refuses %s for an int, naming the parameter", (_title, value) => {
    const err = conversionError(int, value);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("the_param");
  });

  test("reads a uint as a CEL int and refuses a negative one", () => {
    expect(convert(caveatScalar("uint"), "18")).toBe(18n);
    expect(conversionError(caveatScalar("uint"), -1).code).toBe("INVALID_ARGUMENT");
  });

  test("reads doubles from numbers and numeric strings", () => {
    const double = caveatScalar("double");
    expect(convert(double, 1.5)).toBe(1.5);
    expect(convert(double, "2.5e1")).toBe(25);
    expect(convert(double, "-inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(conversionError(double, "1.5x").code).toBe("INVALID_ARGUMENT");
  });

  test("requires JSON booleans and strings for bool and string", () => {
    expect(convert(caveatScalar("bool"), false)).toBe(false);
    expect(conversionError(caveatScalar("bool"), "true").code).toBe("INVALID_ARGUMENT");
    expect(convert(caveatScalar("string"), "x")).toBe("x");
    expect(conversionError(caveatScalar("string"), 1).code).toBe("INVALID_ARGUMENT");
  });

  test("reads bytes from standard base64 and refuses anything else", () => {
    expect(convert(caveatScalar("bytes"), "aGk=")).toEqual(new Uint8Array([104, 105]));
    expect(conversionError(caveatScalar("bytes"), "aGk").code).toBe("INVALID_ARGUMENT");
    expect(conversionError(caveatScalar("bytes"), "a_k=").code).toBe("INVALID_ARGUMENT");
  });

  test("reads durations as Go duration strings", () => {
    const d = convert(caveatScalar("duration"), "1h30m");
    expect(isMessage(d, DurationSchema)).toBe(true);
    expect(d).toMatchObject({ seconds: 5400n, nanos: 0 });
    expect(conversionError(caveatScalar("duration"), "90").code).toBe("INVALID_ARGUMENT");
    expect(conversionError(caveatScalar("duration"), 90).code).toBe("INVALID_ARGUMENT");
  });

  test("reads timestamps as RFC 3339 strings", () => {
    const t = convert(caveatScalar("timestamp"), "2024-02-29T12:00:00.5+01:00");
    expect(isMessage(t, TimestampSchema)).toBe(true);
    expect(t).toMatchObject({ seconds: 1709204400n, nanos: 500_000_000 });
  });

  test.each([
    ["a date only", "2024-02-29"],
    ["a day out of range", "2023-02-29T00:00:00Z"],
    ["a missing zone", "2024-01-01T00:00:00"],
    ["a lower-case separator", "2024-01-01t00:00:00Z"],
    ["a leap second", "2024-01-01T00:00:60Z"],
    ["a number", 1_700_000_000],
  ])("refuses a malformed timestamp: %s", (_title, value) => {
    expect(conversionError(caveatScalar("timestamp"), value).code).toBe("INVALID_ARGUMENT");
  });

  test.each([
    ["an IPv4 address", "10.1.2.3"],
    ["an IPv6 address", "2001:db8::1"],
    ["an IPv4-mapped IPv6 address", "::ffff:10.1.2.3"],
    ["an IPv6 address with a zone", "fe80::1%eth0"],
  ])("reads %s", (_title, value) => {
    expect(() => convert(caveatScalar("ipaddress"), value)).not.toThrow();
  });

  test.each([
    ["three fields", "10.1.2"],
    ["a field above 255", "10.1.2.256"],
    ["a leading zero", "10.01.2.3"],
    ["two ellipses", "2001::db8::1"],
    ["too many groups", "1:2:3:4:5:6:7:8:9"],
    ["a CIDR", "10.0.0.0/8"],
    ["a number", 167837955],
  ])("refuses a malformed IP address: %s", (_title, value) => {
    expect(conversionError(caveatScalar("ipaddress"), value).code).toBe("INVALID_ARGUMENT");
  });

  test("converts lists and maps element by element", () => {
    const list = convert(caveatListOf(int), [1, "2"]);
    expect(isCelList(list)).toBe(true);
    expect([...(list as Iterable<unknown>)]).toEqual([1n, 2n]);
    const map = convert(caveatMapOf(caveatListOf(caveatScalar("string"))), { a: ["x"] });
    expect(isCelMap(map)).toBe(true);
  });

  test("names the offending list item and map key", () => {
    expect(conversionError(caveatListOf(int), [1, "x"]).message).toContain("item 1");
    expect(conversionError(caveatMapOf(int), { ok: 1, bad: 1.5 }).message).toContain('"bad"');
    expect(conversionError(caveatMapOf(int), [1]).code).toBe("INVALID_ARGUMENT");
  });

  test("passes JSON through for any, numbers becoming doubles", () => {
    const value = convert(caveatScalar("any"), { n: 1, l: [true, null, "s"] });
    expect(isCelMap(value)).toBe(true);
    const map = value as ReadonlyMap<string, unknown>;
    expect(map.get("n")).toBe(1);
    expect(conversionError(caveatScalar("any"), new Date()).code).toBe("INVALID_ARGUMENT");
  });
});

describe("parseGoDuration", () => {
  test.each([
    ["0", 0n, 0],
    ["-0", 0n, 0],
    ["300ms", 0n, 300_000_000],
    ["1.5h", 5400n, 0],
    ["-1m30s", -90n, 0],
    ["+2h45m", 9900n, 0],
    [".5s", 0n, 500_000_000],
    ["5.s", 5n, 0],
    ["1\u00b5s", 0n, 1000],
    ["1\u03bcs", 0n, 1000],
    ["1h1m1s1ms1us1ns", 3661n, 1_001_001],
  ])("parses %s as Go does", (text, seconds, nanos) => {
    expect(parseGoDuration(text)).toMatchObject({ seconds, nanos });
  });

  test.each(["", "1", "1d", ".s", "1h 30m", "3000000h", "-", "1.2.3s"])("refuses %j", (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe("parseRfc3339", () => {
  test("keeps nanoseconds and truncates finer fractions", () => {
    expect(parseRfc3339("1970-01-01T00:00:00.1234567891Z")).toMatchObject({
      seconds: 0n,
      nanos: 123_456_789,
    });
  });

  test("applies negative offsets", () => {
    expect(parseRfc3339("1970-01-01T00:00:00-01:30")).toMatchObject({ seconds: 5400n });
  });

  test("reads years before 1970 and before 100", () => {
    expect(parseRfc3339("0001-01-01T00:00:00Z")).toMatchObject({ seconds: -62135596800n });
    expect(parseRfc3339("0000-12-31T23:59:59Z")).toBeUndefined();
  });
});
