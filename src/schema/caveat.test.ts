import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type SourcePosition, TrellisError } from "../core/errors.js";
import type { CaveatContext } from "../core/relationship.js";
import type { CaveatNode, CaveatTypeNode, Span } from "./ast.js";
import {
  type CaveatResult,
  type CompiledCaveat,
  checkCaveatContext,
  compileCaveat,
  evaluateCaveat,
} from "./caveat.js";

// ---- building caveat nodes --------------------------------------------------------------

const ORIGIN: SourcePosition = { line: 1, column: 1, offset: 0 };

/** Parses a written type (`map<list<int>>`) into its node; positions are not under test here. */
function typeNodeOf(text: string): CaveatTypeNode {
  let pos = 0;
  const span: Span = { start: ORIGIN, end: ORIGIN };
  const read = (): CaveatTypeNode => {
    const name = /^[a-z]+/.exec(text.slice(pos))![0];
    pos += name.length;
    const args: CaveatTypeNode[] = [];
    if (text[pos] === "<") {
      pos++;
      args.push(read());
      while (text[pos] === ",") {
        pos++;
        args.push(read());
      }
      pos++; // '>'
    }
    return { kind: "caveatType", name, args, span };
  };
  return read();
}

interface NodeOptions {
  /** Where the expression starts in the (imagined) schema source. */
  readonly start?: SourcePosition;
  /** Where each parameter starts, in order. */
  readonly paramStarts?: readonly SourcePosition[];
}

function caveatNode(
  params: string,
  expression: string,
  options: NodeOptions = {},
  name = "test_caveat",
): CaveatNode {
  const start = options.start ?? ORIGIN;
  const span: Span = { start, end: start };
  const list = params === "" ? [] : params.split(/,\s+/);
  return {
    kind: "caveat",
    name,
    nameSpan: span,
    comments: [],
    params: list.map((p, i) => {
      const [paramName, type] = p.split(/\s+/) as [string, string];
      const paramStart = options.paramStarts?.[i] ?? ORIGIN;
      return {
        kind: "caveatParam",
        name: paramName,
        type: typeNodeOf(type),
        span: { start: paramStart, end: paramStart },
      };
    }),
    expression,
    expressionSpan: { start, end: start },
    span,
  };
}

function compile(params: string, expression: string): CompiledCaveat {
  const result = compileCaveat(caveatNode(params, expression));
  expect(result.diagnostics).toEqual([]);
  return result.caveat!;
}

function evaluate(
  caveat: CompiledCaveat,
  request?: CaveatContext,
  tuple?: CaveatContext,
): CaveatResult {
  return evaluateCaveat(caveat, tuple, request);
}

function errorOf(run: () => unknown): TrellisError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    return err as TrellisError;
  }
  throw new Error("expected an error");
}

const TRUE: CaveatResult = { kind: "true" };
const FALSE: CaveatResult = { kind: "false" };

// ---- valid caveats ----------------------------------------------------------------------

describe("a valid caveat", () => {
  test.each<[string, string, string, CaveatContext, CaveatResult["kind"]]>([
    ["compares ints", "n int", "n > 3", { n: 5 }, "true"],
    [
      "reads ints from numeric strings",
      "n int",
      "n == 9007199254740993",
      { n: "9007199254740993" },
      "true",
    ],
    ["compares uints as CEL ints, as SpiceDB declares them", "n uint", "n == 3", { n: 3 }, "true"],
    ["tests bools", "flag bool", "!flag", { flag: true }, "false"],
    [
      "calls string methods",
      "s string",
      's.startsWith("ab") && s.size() == 3',
      { s: "abc" },
      "true",
    ],
    [
      "matches regular expressions",
      "s string",
      "s.matches('^a+$') && matches(s, 'a')",
      { s: "aaa" },
      "true",
    ],
    ["compares doubles", "d double", "d < 1.5 && d >= 1.0", { d: "1.25" }, "true"],
    ["compares bytes", "b bytes", "b == b'hi' && size(b) == 2", { b: "aGk=" }, "true"],
    [
      "adds durations",
      "d duration",
      'd + duration("30m") == duration("2h")',
      { d: "1h30m" },
      "true",
    ],
    ["reads duration fields", "d duration", "d.getMinutes() == 90", { d: "1h30m" }, "true"],
    [
      "compares timestamps",
      "now timestamp, not_before timestamp",
      "now >= not_before",
      { now: "2024-01-01T10:00:00Z", not_before: "2024-01-01T09:00:00+01:00" },
      "true",
    ],
    [
      "adds a duration to a timestamp",
      "at timestamp, ttl duration",
      'at + ttl < timestamp("2024-01-02T00:00:00Z")',
      { at: "2024-01-01T23:00:00Z", ttl: "59m59s" },
      "true",
    ],
    [
      "subtracts timestamps into a duration",
      "a timestamp, b timestamp",
      "b - a == duration('36h')",
      { a: "2024-01-01T00:00:00Z", b: "2024-01-02T12:00:00Z" },
      "true",
    ],
    [
      "reads the hour in UTC",
      "now timestamp, start int, end int",
      "now.getHours() >= start && now.getHours() < end",
      { now: "2024-03-10T02:30:00Z", start: 2, end: 3 },
      "true",
    ],
    [
      "reads calendar fields in UTC",
      "now timestamp",
      "now.getFullYear() == 2024 && now.getMonth() == 5 && now.getDate() == 1 && now.getDayOfMonth() == 0 && now.getDayOfYear() == 152 && now.getDayOfWeek() == 6",
      { now: "2024-06-01T00:30:00Z" },
      "true",
    ],
    [
      "reads the hour in a named time zone",
      "now timestamp",
      'now.getHours("America/New_York") == 21 && now.getDayOfWeek("America/New_York") == 5',
      { now: "2024-06-01T01:30:00Z" },
      "true",
    ],
    [
      "reads the hour at a fixed offset",
      "now timestamp",
      'now.getHours("+05:30") == 7 && now.getMinutes("-01:00") == 30',
      { now: "2024-06-01T01:30:00Z" },
      "true",
    ],
    [
      "finds an item in a list",
      "labels list<string>, required string",
      "required in labels",
      { labels: ["a", "b"], required: "b" },
      "true",
    ],
    [
      "quantifies over a list",
      "required list<string>, labels list<string>",
      "required.all(l, l in labels)",
      { required: ["a", "c"], labels: ["a", "b"] },
      "false",
    ],
    [
      "maps and filters lists",
      "xs list<int>",
      "xs.map(x, x * 2).filter(y, y > 2) == [4, 6] && xs.exists_one(x, x == 2)",
      { xs: [1, 2, 3] },
      "true",
    ],
    [
      "indexes a map",
      "quota map<int>, count int",
      'count < quota["max"]',
      { quota: { max: 10 }, count: 3 },
      "true",
    ],
    [
      "tests map keys",
      "m map<string>",
      'has(m.k) && "k" in m && !("z" in m)',
      { m: { k: "v" } },
      "true",
    ],
    [
      "walks nested generics",
      "g map<list<bool>>",
      'g["a"][1]',
      { g: { a: [false, true] } },
      "true",
    ],
    [
      "checks an IPv4 address against a CIDR",
      "ip ipaddress, cidr string",
      "ip.in_cidr(cidr)",
      { ip: "10.1.2.3", cidr: "10.0.0.0/8" },
      "true",
    ],
    [
      "rejects an IPv4 address outside a CIDR",
      "ip ipaddress",
      "ip.in_cidr('10.0.0.0/8')",
      { ip: "11.0.0.1" },
      "false",
    ],
    [
      "honours an uneven prefix length",
      "ip ipaddress",
      "ip.in_cidr('192.168.0.0/23') && !ip.in_cidr('192.168.0.0/24')",
      { ip: "192.168.1.7" },
      "true",
    ],
    [
      "checks an IPv6 address against a CIDR",
      "ip ipaddress",
      "ip.in_cidr('2001:db8::/32')",
      { ip: "2001:db8:1::5" },
      "true",
    ],
    [
      "keeps IPv4-mapped IPv6 apart from IPv4 prefixes",
      "ip ipaddress",
      "ip.in_cidr('10.0.0.0/8')",
      { ip: "::ffff:10.0.0.1" },
      "false",
    ],
    [
      "matches no prefix with a zoned address",
      "ip ipaddress",
      "ip.in_cidr('fe80::/10')",
      { ip: "fe80::1%eth0" },
      "false",
    ],
    [
      "compares addresses",
      "a ipaddress, b ipaddress",
      "a == b",
      { a: "2001:db8::1", b: "2001:0db8:0:0:0:0:0:1" },
      "true",
    ],
    [
      "compares any values dynamically",
      "x any",
      'x.k == 1 && x.l[0] == "s"',
      { x: { k: 1, l: ["s"] } },
      "true",
    ],
    [
      "tests map subtrees",
      "expected map<any>, provided map<any>",
      "expected.isSubtreeOf(provided)",
      { expected: { a: { b: 1 } }, provided: { a: { b: 1, c: 2 }, d: 3 } },
      "true",
    ],
    [
      "finds a map that is not a subtree",
      "expected map<any>, provided map<any>",
      "expected.isSubtreeOf(provided)",
      { expected: { a: { b: 1 } }, provided: { a: { b: 2 } } },
      "false",
    ],
    ["uses type values", "x any", "type(x) == string", { x: "s" }, "true"],
    ["ignores unused parameters", "n int, unused string", "n == 1", { n: 1 }, "true"],
  ])("%s", (_title, params, expression, context, expected) => {
    expect(evaluate(compile(params, expression), context)).toEqual({ kind: expected });
  });

  test.each([
    "[].size() == 0 && {}.size() == 0",
    "m.exists(k, m[k] > 1) && m.all(k, k.size() > 0)",
    "dyn(x) == 1 && null == x && type(n) == int",
    "s in {'a': 1} && n in li && li[0] == n",
    "size(l) > 0 && l.size() > 0 && l + ['x'] == l",
    "int(s) > 1 && string(n) == '1' && double(n) > d && uint(n) > 1u",
    "timestamp('2024-01-01T00:00:00Z') < now && duration('1h') < dur",
    "now - duration('1h') < now && dur.getSeconds() > 1",
    "-n < 0 && !(b) && 'a' + s == 'ab'",
    "(b ? 1 : 2) == 1 && (b ? [1] : []) == [1] && (b ? true : x)",
    "ma.k == null && ma['k'] == 1 && has(x.a.b) && x.foo[0].bar == 'z' && x[0] == 1",
    "l.exists(e, e.startsWith('a')) && li.map(i, i + 1).all(j, j > 0)",
    "[[1], [2]].exists(p, p[0] == 1) && {'a': [1]}['a'][0] == 1 && [1, 'a'].size() == 2",
    "by.size() == 1 && by + b'x' != by && ip == ip && ip != ip",
    "n < d && u > 1 && u + 1 > n && 1u < 2u",
    "x && b && b == x",
  ])("type-checks %s", (expression) => {
    compile(
      "n int, u uint, d double, s string, b bool, l list<string>, li list<int>, m map<int>, ma map<any>, x any, now timestamp, dur duration, by bytes, ip ipaddress",
      expression,
    );
  });

  test("reads timestamp fields in UTC whatever the server's time zone", () => {
    const caveat = compile(
      "now timestamp",
      "now.getHours() == 2 && now.getDayOfYear() == 69 && now.getDate() == 10",
    );
    const saved = process.env.TZ;
    try {
      // 02:30 on 2024-03-10 does not exist as a New York wall time.
      process.env.TZ = "America/New_York";
      expect(evaluate(caveat, { now: "2024-03-10T02:30:00Z" })).toEqual(TRUE);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  test("exposes its name, parameters in order, expression and referenced parameters", () => {
    const caveat = compile("b string, a list<int>, c int", "c in a");
    expect(caveat.name).toBe("test_caveat");
    expect([...caveat.params.keys()]).toEqual(["b", "a", "c"]);
    expect(caveat.expression).toBe("c in a");
    expect(caveat.referencedParams).toEqual(["a", "c"]);
  });

  test("does not count comprehension variables as parameter references", () => {
    const caveat = compile("xs list<int>, x int", "xs.exists(x, x > 1)");
    expect(caveat.referencedParams).toEqual(["xs"]);
    expect(evaluate(caveat, { xs: [2] })).toEqual(TRUE);
  });

  test("gives the same answer on repeated evaluation", () => {
    const caveat = compile("n int", "n % 2 == 0");
    for (let n = 0; n < 10; n++) {
      expect(evaluate(caveat, { n })).toEqual(n % 2 === 0 ? TRUE : FALSE);
    }
  });
});

// ---- invalid caveats --------------------------------------------------------------------

describe("an invalid caveat", () => {
  const expressionStart: SourcePosition = { line: 3, column: 5, offset: 40 };

  function diagnosticsOf(params: string, expression: string, options: NodeOptions = {}) {
    const result = compileCaveat(
      caveatNode(params, expression, { start: expressionStart, ...options }),
    );
    expect(result.caveat).toBeUndefined();
    expect(result.diagnostics.length).toBeGreaterThan(0);
    return result.diagnostics;
  }

  test("reports an unknown parameter type and names the caveat", () => {
    const [d] = diagnosticsOf("a integer", "a > 1");
    expect(d!.message).toContain("test_caveat");
    expect(d!.message).toContain("integer");
  });

  test.each([
    ["a list without its element type", "a list"],
    ["a list with two element types", "a list<int,int>"],
    ["a map with a key type", "a map<string,int>"],
    ["a scalar with a type argument", "a int<int>"],
  ])("reports %s", (_title, params) => {
    expect(diagnosticsOf(params, "true")).toHaveLength(1);
  });

  test("reports a duplicate parameter at its second declaration", () => {
    const second: SourcePosition = { line: 1, column: 19, offset: 18 };
    const diagnostics = diagnosticsOf("a int, a string", "a > 1", {
      paramStarts: [ORIGIN, second],
    });
    expect(diagnostics.map((d) => d.position)).toEqual([second]);
  });

  test("reports a syntax error at its line and column in the schema", () => {
    const [d] = diagnosticsOf("a bool, b bool", "a &&\n  b ]");
    // Offset 9 of the expression is line 2, column 5 of it; the expression starts at 3:5.
    expect(d!.position).toEqual({ line: 4, column: 5, offset: 49 });
  });

  test("reports a syntax error on the first line relative to the expression's column", () => {
    const [d] = diagnosticsOf("a bool", "a ]");
    expect(d!.position).toEqual({ line: 3, column: 7, offset: 42 });
  });

  test("reports an unknown variable where it is used", () => {
    const [d] = diagnosticsOf("a int", "a > 1 &&\n  bogus");
    expect(d!.position).toEqual({ line: 4, column: 3, offset: 51 });
    expect(d!.message).toContain("bogus");
  });

  test("reports a result that is not a bool", () => {
    const [d] = diagnosticsOf("a int", "a + 1");
    expect(d!.position).toEqual(expressionStart);
  });

  test("reports a dyn result, which SpiceDB refuses too", () => {
    expect(diagnosticsOf("a any", "a")).toHaveLength(1);
  });

  test.each([
    ["mismatched operand types", "s string", "s > 1"],
    ["equality across types", "n int", "n == 'x'"],
    ["a method the type lacks", "n int", "n.startsWith('x')"],
    ["an unknown function", "n int", "frobnicate(n)"],
    ["in_cidr on a string", "s string", "s.in_cidr('10.0.0.0/8')"],
    ["a field of a list", "l list<int>", "l.size"],
    ["ipaddress compared to a string", "ip ipaddress", "ip == '10.0.0.1'"],
    ["a uint literal against a uint parameter, which SpiceDB types as int", "n uint", "n == 1u"],
    ["a heterogeneous ternary", "b bool", "(b ? 1 : 'x') == 1"],
    ["an int literal out of range", "n int", "n < 99999999999999999999"],
    ["a message construction", "n int", "Foo{a: n} == 1"],
    ["a comprehension over a string", "s string", "s.all(c, c == 'a')"],
    ["a non-bool comprehension condition", "l list<int>", "l.all(x, x + 1)"],
  ])("reports %s", (_title, params, expression) => {
    expect(diagnosticsOf(params, expression).length).toBeGreaterThan(0);
  });

  test("reports every independent problem, not only the first", () => {
    const diagnostics = diagnosticsOf("a bogus, b int", "b.nope() && c");
    expect(diagnostics).toHaveLength(3);
  });

  test("does not report follow-on errors for a parameter of an unknown type", () => {
    expect(diagnosticsOf("a bogus", "a.whatever(1) > 2")).toHaveLength(1);
  });
});

// ---- context ----------------------------------------------------------------------------

describe("caveat context", () => {
  const caveat = compile("user_ip ipaddress, cidr string", "user_ip.in_cidr(cidr)");

  test("refuses a value that does not fit its parameter with INVALID_ARGUMENT", () => {
    const err = errorOf(() => evaluate(caveat, { user_ip: "10.0.0", cidr: "10.0.0.0/8" }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("user_ip");
  });

  test("refuses a malformed value on the tuple too", () => {
    const err = errorOf(() => evaluate(caveat, { user_ip: "10.0.0.1" }, { cidr: 8 }));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  test("refuses a malformed value even for a parameter the expression does not read", () => {
    const c = compile("n int, unused timestamp", "n == 1");
    expect(errorOf(() => evaluate(c, { n: 1, unused: "yesterday" })).code).toBe("INVALID_ARGUMENT");
  });

  test("lets the tuple's value win over the request's for the same parameter", () => {
    const tuple = { cidr: "10.0.0.0/8" };
    expect(evaluate(caveat, { user_ip: "10.1.1.1", cidr: "192.168.0.0/16" }, tuple)).toEqual(TRUE);
    expect(evaluate(caveat, { user_ip: "192.168.1.1", cidr: "192.168.0.0/16" }, tuple)).toEqual(
      FALSE,
    );
  });

  test("takes each parameter from whichever context has it", () => {
    expect(evaluate(caveat, { user_ip: "10.1.1.1" }, { cidr: "10.0.0.0/8" })).toEqual(TRUE);
  });

  test("ignores keys that are not parameters when evaluating", () => {
    expect(
      evaluate(
        caveat,
        { user_ip: "10.1.1.1", extra: { any: "thing" } },
        { cidr: "10.0.0.0/8", more: 1 },
      ),
    ).toEqual(TRUE);
  });

  test("treats an undefined value as absent", () => {
    expect(
      evaluate(caveat, { user_ip: "10.1.1.1", cidr: "10.0.0.0/8" }, { cidr: undefined }),
    ).toEqual(TRUE);
  });

  test("does not see inherited properties as parameters", () => {
    const c = compile("constructor string", "constructor == 'x'");
    expect(evaluate(c, {})).toEqual({ kind: "missing", missing: ["constructor"] });
  });

  test("is checked on write: unknown keys and ill-typed values are refused with the field", () => {
    expect(() =>
      checkCaveatContext(caveat, { cidr: "10.0.0.0/8" }, "rel.caveat.context"),
    ).not.toThrow();
    const unknown = errorOf(() =>
      checkCaveatContext(caveat, { cidr: "x", nope: 1 }, "rel.caveat.context"),
    );
    expect(unknown.code).toBe("INVALID_ARGUMENT");
    expect(unknown.field).toBe("rel.caveat.context");
    const illTyped = errorOf(() =>
      checkCaveatContext(caveat, { user_ip: 7 }, "rel.caveat.context"),
    );
    expect(illTyped.code).toBe("INVALID_ARGUMENT");
    expect(illTyped.field).toBe("rel.caveat.context");
  });
});

// ---- partial evaluation -----------------------------------------------------------------

describe("partial evaluation", () => {
  const missing = (...names: string[]): CaveatResult => ({ kind: "missing", missing: names });

  test.each<[string, string, string, CaveatContext, CaveatResult]>([
    ["decides an or by a true side", "a bool, b bool", "a || b", { a: true }, TRUE],
    ["decides an or by a true right side", "a bool, b bool", "a || b", { b: true }, TRUE],
    ["decides an and by a false side", "a bool, b bool", "a && b", { b: false }, FALSE],
    ["leaves an and open on a true side", "a bool, b bool", "a && b", { a: true }, missing("b")],
    ["lists every missing parameter it meets", "a bool, b bool", "a && b", {}, missing("a", "b")],
    ["decides through comparisons", "n int, flag bool", "n > 3 && flag", { n: 1 }, FALSE],
    [
      "lists only what is still needed",
      "n int, flag bool",
      "n > 3 && flag",
      { n: 5 },
      missing("flag"),
    ],
    [
      "lists every parameter of an open comparison",
      "x int, y int, z bool",
      "x + y > 3 || z",
      { z: false },
      missing("x", "y"),
    ],
    ["negates a decided side", "a bool, b bool", "!a || b", { a: false }, TRUE],
    ["keeps a negated unknown open", "a bool, b bool", "!a && b", { b: true }, missing("a")],
    [
      "follows a decided condition",
      "c bool, x int, y int",
      "c ? x > 1 : y > 1",
      { c: false, y: 2 },
      TRUE,
    ],
    [
      "stops at an open condition",
      "c bool, x int, y int",
      "c ? x > 1 : y > 1",
      { x: 2, y: 0 },
      missing("c"),
    ],
    [
      "leaves a condition on an unknown open even when its branches agree, as cel-go does",
      "c bool, x int, y int",
      "c ? x > 1 : y > 1",
      { x: 2, y: 2 },
      missing("c"),
    ],
    [
      "leaves a tautology over unknown bools open, as SpiceDB does",
      "a bool, b bool",
      "(a || !a) || b",
      {},
      { kind: "missing", missing: ["a", "b"] },
    ],
    [
      "leaves a contradiction over unknown bools open, as SpiceDB does",
      "a bool, n int",
      "a && !a && n > 1",
      {},
      { kind: "missing", missing: ["a", "n"] },
    ],
    [
      "never reports a parameter the expression does not read",
      "a bool, unused int",
      "a",
      {},
      missing("a"),
    ],
    [
      "absorbs an error on the other side of a decided or",
      "a bool, n int",
      "n / 0 == 1 || a",
      { n: 1, a: true },
      TRUE,
    ],
    [
      "prefers unknowns over errors, as cel-go does",
      "a bool, n int",
      "n / 0 == 1 || a",
      { n: 1 },
      missing("a"),
    ],
  ])("%s", (_title, params, expression, context, expected) => {
    expect(evaluate(compile(params, expression), context)).toEqual(expected);
  });

  test("uses the tuple's context for the known side", () => {
    const caveat = compile("a bool, b bool", "a || b");
    expect(evaluate(caveat, undefined, { a: true })).toEqual(TRUE);
    expect(evaluate(caveat, undefined, undefined)).toEqual(missing("a", "b"));
  });
});

// ---- runtime errors ---------------------------------------------------------------------

describe("a runtime error", () => {
  test.each([
    ["an integer overflow", "n int", "n + 1 > 0", { n: "9223372036854775807" }],
    ["a missing map key", "m map<int>", 'm["nope"] > 1', { m: { yes: 1 } }],
    ["a division by zero", "n int", "n / 0 == 1", { n: 1 }],
    ["a malformed CIDR", "ip ipaddress", "ip.in_cidr('10.0.0.0/33')", { ip: "10.0.0.1" }],
    [
      "an unknown time zone",
      "t timestamp",
      't.getHours("Mars/Olympus") == 1',
      { t: "2024-01-01T00:00:00Z" },
    ],
    ["a non-bool value where a bool is needed", "x any", "x && true", { x: "yes" }],
  ])(
    "is INVALID_ARGUMENT, as SpiceDB's caveat evaluation error: %s",
    (_title, params, expression, context) => {
      const caveat = compile(params, expression);
      const err = errorOf(() => evaluate(caveat, context));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain("test_caveat");
    },
  );

  test("is absorbed by && when the other side is false, as CEL specifies", () => {
    expect(evaluate(compile("n int", "n / 0 == 1 && false"), { n: 1 })).toEqual(FALSE);
  });
});

// ---- property ---------------------------------------------------------------------------

const RUNS = Number(process.env.TRELLIS_FUZZ_RUNS ?? 200);
const NAMES = ["p", "q", "r", "s"] as const;

type BoolExpr =
  | { readonly op: "var"; readonly name: string }
  | { readonly op: "lit"; readonly value: boolean }
  | { readonly op: "not"; readonly arg: BoolExpr }
  | { readonly op: "and" | "or" | "eq" | "ne"; readonly left: BoolExpr; readonly right: BoolExpr }
  | { readonly op: "cond"; readonly test: BoolExpr; readonly yes: BoolExpr; readonly no: BoolExpr };

const boolExpr: fc.Arbitrary<BoolExpr> = fc.letrec<{ e: BoolExpr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...NAMES).map((name): BoolExpr => ({ op: "var", name })),
    fc.boolean().map((value): BoolExpr => ({ op: "lit", value })),
    tie("e").map((arg): BoolExpr => ({ op: "not", arg })),
    fc
      .record({ op: fc.constantFrom("and", "or", "eq", "ne"), left: tie("e"), right: tie("e") })
      .map((e) => e as BoolExpr),
    fc
      .record({ test: tie("e"), yes: tie("e"), no: tie("e") })
      .map((e): BoolExpr => ({ op: "cond", ...e })),
  ),
})).e;

function print(e: BoolExpr): string {
  switch (e.op) {
    case "var":
      return e.name;
    case "lit":
      return String(e.value);
    case "not":
      return `!(${print(e.arg)})`;
    case "and":
      return `(${print(e.left)} && ${print(e.right)})`;
    case "or":
      return `(${print(e.left)} || ${print(e.right)})`;
    case "eq":
      return `(${print(e.left)} == ${print(e.right)})`;
    case "ne":
      return `(${print(e.left)} != ${print(e.right)})`;
    case "cond":
      return `(${print(e.test)} ? ${print(e.yes)} : ${print(e.no)})`;
  }
}

function truth(e: BoolExpr, env: Readonly<Record<string, boolean>>): boolean {
  switch (e.op) {
    case "var":
      return env[e.name]!;
    case "lit":
      return e.value;
    case "not":
      return !truth(e.arg, env);
    case "and":
      return truth(e.left, env) && truth(e.right, env);
    case "or":
      return truth(e.left, env) || truth(e.right, env);
    case "eq":
      return truth(e.left, env) === truth(e.right, env);
    case "ne":
      return truth(e.left, env) !== truth(e.right, env);
    case "cond":
      return truth(e.test, env) ? truth(e.yes, env) : truth(e.no, env);
  }
}

function completions(
  given: Readonly<Record<string, boolean>>,
  open: readonly string[],
): Record<string, boolean>[] {
  let all: Record<string, boolean>[] = [{ ...given }];
  for (const name of open) {
    all = all.flatMap((env) => [
      { ...env, [name]: false },
      { ...env, [name]: true },
    ]);
  }
  return all;
}

describe("partial evaluation over bool parameters", () => {
  const params = NAMES.map((n) => `${n} bool`).join(", ");

  test("is decided only when every completion agrees, and then on their value", () => {
    fc.assert(
      fc.property(
        boolExpr,
        fc.record(
          Object.fromEntries(NAMES.map((n) => [n, fc.option(fc.boolean(), { nil: undefined })])),
        ),
        (expr, partial) => {
          const caveat = compile(params, print(expr));
          const given: Record<string, boolean> = {};
          for (const n of NAMES) if (partial[n] !== undefined) given[n] = partial[n] as boolean;
          const open: string[] = NAMES.filter((n) => given[n] === undefined);
          const values = completions(given, open).map((env) => truth(expr, env));
          // The full evaluation agrees with the reference on every completion.
          for (const env of completions(given, open)) {
            expect(evaluate(caveat, env)).toEqual(truth(expr, env) ? TRUE : FALSE);
          }
          const result = evaluate(caveat, given);
          if (result.kind === "missing") {
            expect(result.missing.length).toBeGreaterThan(0);
            expect(result.missing.every((n) => open.includes(n))).toBe(true);
            expect([...result.missing]).toEqual([...result.missing].sort());
          } else {
            expect(values.every((v) => v === (result.kind === "true"))).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
