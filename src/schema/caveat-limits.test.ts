import { celEnv, isCelError, parse, plan } from "@bufbuild/cel";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { SchemaError, TrellisError } from "../core/errors.js";
import type { CaveatContext } from "../core/relationship.js";
import type { CompiledCaveat } from "./caveat.js";
import { checkCaveatContext } from "./caveat.js";
import {
  CaveatMeter,
  checkContextLimits,
  DEFAULT_CAVEAT_LIMITS,
  MAX_CONTEXT_BYTES,
  MAX_CONTEXT_COLLECTION_SIZE,
  MAX_EXPRESSION_LENGTH,
  MAX_PATTERN_LENGTH,
} from "./caveat-limits.js";
import { compileSchemaText } from "./compiler.js";

const RUNS = Number(process.env.TRELLIS_FUZZ_RUNS ?? 150);

function compile(params: string, expression: string): CompiledCaveat {
  return compileSchemaText(`caveat costly(${params}) { ${expression} }`).caveats.get("costly")!;
}

function refusal(params: string, expression: string): SchemaError {
  try {
    compile(params, expression);
  } catch (err) {
    expect(err).toBeInstanceOf(SchemaError);
    return err as SchemaError;
  }
  throw new Error("expected the schema to be refused");
}

function failure(run: () => unknown): TrellisError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    return err as TrellisError;
  }
  throw new Error("expected an error");
}

const ints = (n: number) => Array.from({ length: n }, (_, i) => i);
const digits = "[0,1,2,3,4,5,6,7,8,9]";

/** `depth` comprehensions over literal ten-element lists, nested, with `method` at each level. */
function nestedLoops(depth: number, method: "all" | "map"): string {
  let inner = method === "all" ? `v${depth - 1} >= 0` : `v${depth - 1}`;
  for (let i = depth - 1; i >= 0; i--) inner = `${digits}.${method}(v${i}, ${inner})`;
  return method === "all" ? inner : `${inner}.size() > 0`;
}

describe("a caveat that costs too much is refused when the schema is written", () => {
  test("eight nested comprehensions, as in the report that froze the server", () => {
    const expression = nestedLoops(8, "all");
    expect(expression.length).toBeLessThan(300);
    const err = refusal("n int", expression);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/nests 8 comprehensions/);
  });

  test("the same shape with map, which ran the server out of memory", () => {
    expect(refusal("n int", nestedLoops(8, "map")).message).toMatch(/comprehensions/);
  });

  test("four nested loops over ten literals cost 10,000 iterations of their body", () => {
    expect(refusal("n int", nestedLoops(4, "all")).message).toMatch(/would cost about \d+/);
    // Three are well within the budget.
    expect(compile("n int", nestedLoops(3, "all")).evaluate(undefined, { n: 1 })).toEqual({
      kind: "true",
    });
  });

  test("an expression longer than the limit", () => {
    const expression = Array.from({ length: 3_000 }, () => "n").join(" + ");
    expect(expression.length).toBeGreaterThan(MAX_EXPRESSION_LENGTH);
    const err = refusal("n int", `${expression} > 0`);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain(String(MAX_EXPRESSION_LENGTH));
  });

  test("a chain nested deeper than the limit, without overflowing the stack", () => {
    const chain = Array.from({ length: 1_500 }, () => "n").join(" + ");
    expect(refusal("n int", `${chain} > 0`).message).toMatch(/nests \d+ levels deep/);
    const parens = `${"(".repeat(3_000)}n${")".repeat(3_000)} > 0`;
    expect(refusal("n int", parens).message).toMatch(/nested too deeply/);
  });

  test("a regular expression literal that is invalid or too long", () => {
    expect(refusal("s string", "s.matches('(a')").message).toMatch(/invalid regular expression/);
    const long = "a".repeat(MAX_PATTERN_LENGTH + 1);
    expect(refusal("s string", `s.matches('${long}')`).message).toMatch(/longer than/);
    expect(refusal("s string", `matches(s, '${long}')`).message).toMatch(/longer than/);
  });
});

describe("an evaluation over its budget is RESOURCE_EXHAUSTED and stops early", () => {
  /** Evaluates with a fresh meter; returns the error and what the meter counted. */
  function exhaust(caveat: CompiledCaveat, context: CaveatContext) {
    const meter = new CaveatMeter();
    const err = failure(() => caveat.evaluate(undefined, context, meter));
    return { err, spent: meter.spent };
  }

  test.each<[string, string, string, CaveatContext]>([
    [
      "nested exists over a 10,000-int context list",
      "l list<int>",
      "l.exists(x, l.exists(y, x == y + 1000000))",
      { l: ints(10_000) },
    ],
    ["map over a long list", "l list<int>", "l.map(x, [x, x]).size() < 0", { l: ints(10_000) }],
    ["membership scans in a loop", "l list<int>", "l.all(x, x in l)", { l: ints(10_000) }],
    [
      "string scans in a loop",
      "l list<int>, s string",
      "l.all(x, !s.contains('b'))",
      { l: ints(1_000), s: "a".repeat(60_000) },
    ],
    [
      "list equality in a loop",
      "l list<int>, m list<int>",
      "l.all(x, l == m)",
      { l: ints(5_000), m: ints(5_000) },
    ],
    [
      "regular expressions in a loop",
      "l list<int>, s string",
      "l.all(x, !s.matches('(a|aa)*b'))",
      { l: ints(1_000), s: "a".repeat(60_000) },
    ],
    [
      "nested loops over map keys",
      "m map<int>",
      "m.all(k, m.all(j, m[k] >= 0))",
      { m: Object.fromEntries(ints(5_000).map((i) => [`k${i}`, i])) },
    ],
  ])("%s", (_title, params, expression, context) => {
    const { err, spent } = exhaust(compile(params, expression), context);
    expect(err.code).toBe("RESOURCE_EXHAUSTED");
    expect(err.message).toContain("costly");
    // Counting stops at the first charge over the limit: one range or one scan past it.
    expect(spent).toBeLessThan(DEFAULT_CAVEAT_LIMITS.maxCostPerEvaluation + 1_000_000);
  });

  test("even when || would absorb the error into an answer", () => {
    const caveat = compile("l list<int>, b bool", "b || l.exists(x, l.exists(y, x == y + 1))");
    expect(exhaust(caveat, { l: ints(5_000), b: false }).err.code).toBe("RESOURCE_EXHAUSTED");
    expect(caveat.evaluate(undefined, { l: ints(5_000), b: true })).toEqual({ kind: "true" });
  });

  test("the same expression over a small context answers", () => {
    const caveat = compile("l list<int>", "l.exists(x, l.exists(y, x == y + 1))");
    expect(caveat.evaluate(undefined, { l: ints(100) })).toEqual({ kind: "true" });
  });

  test("a request's evaluations share the request's budget", () => {
    const caveat = compile("l list<int>", "l.all(x, x >= 0)");
    const meter = new CaveatMeter({ maxCostPerEvaluation: 50_000, maxCostPerRequest: 100_000 });
    const context = { l: ints(4_000) };
    let answered = 0;
    const err = failure(() => {
      for (;;) {
        // A tuple context each time, so nothing is converted once for all.
        caveat.evaluate(context, undefined, meter);
        answered++;
      }
    });
    expect(err.code).toBe("RESOURCE_EXHAUSTED");
    expect(err.message).toMatch(/request/);
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(10);
  });

  test("a regular expression from the context is compiled once and limited in length", () => {
    const caveat = compile("s string, p string", "s.matches(p)");
    const pattern = `^(${"ab|".repeat(100)}c)+$`;
    const first = new CaveatMeter();
    expect(caveat.evaluate(undefined, { s: "abc", p: pattern }, first)).toEqual({ kind: "true" });
    const second = new CaveatMeter();
    expect(caveat.evaluate(undefined, { s: "abc", p: pattern }, second)).toEqual({ kind: "true" });
    // The second evaluation does not pay for compiling.
    expect(first.spent - second.spent).toBe(pattern.length);
    const err = failure(() =>
      caveat.evaluate(undefined, { s: "a", p: "a".repeat(MAX_PATTERN_LENGTH + 1) }),
    );
    expect(err.code).toBe("INVALID_ARGUMENT");
  });
});

describe("context limits", () => {
  test.each<[string, CaveatContext]>([
    ["more bytes than the limit", { s: "x".repeat(MAX_CONTEXT_BYTES) }],
    ["a list longer than the limit", { l: ints(MAX_CONTEXT_COLLECTION_SIZE + 1) }],
    ["a map larger than the limit", { m: Object.fromEntries(ints(10_001).map((i) => [i, 1])) }],
    [
      "nesting deeper than the limit",
      { n: JSON.parse(`${"[".repeat(40)}1${"]".repeat(40)}`) as unknown },
    ],
  ])("refuse %s with INVALID_ARGUMENT naming the field", (_title, context) => {
    const err = failure(() => checkContextLimits(context, "context"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.field).toBe("context");
  });

  test("accept a context at the limits", () => {
    expect(() => checkContextLimits({ l: ints(MAX_CONTEXT_COLLECTION_SIZE) }, "c")).not.toThrow();
  });

  test("apply to the context written on a relationship", () => {
    const caveat = compile("s string", "s == 'x'");
    const err = failure(() =>
      checkCaveatContext(caveat, { s: "x".repeat(MAX_CONTEXT_BYTES) }, "updates[0].caveat"),
    );
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.field).toBe("updates[0].caveat");
  });
});

// ---- metering keeps the meaning ---------------------------------------------------------

/**
 * Random expressions over two int lists with every comprehension macro, `in`, `+`, `size` and
 * equality, nested up to three loops deep: metered, they must answer exactly as @bufbuild/cel
 * answers them unmetered (the same value, or an error both ways).
 */
const expressions = (() => {
  const list = (depth: number, vars: readonly string[]): fc.Arbitrary<string> =>
    depth <= 0
      ? fc.constantFrom("l", "m", "[]", "[1, 2]")
      : fc.oneof(
          fc.constantFrom("l", "m"),
          fc.tuple(int(depth - 1, vars), int(depth - 1, vars)).map(([a, b]) => `[${a}, ${b}]`),
          fc.tuple(list(depth - 1, vars), list(depth - 1, vars)).map(([a, b]) => `(${a} + ${b})`),
          {
            weight: 3,
            arbitrary: loop(depth, vars, (v, inner) =>
              int(depth - 1, inner).map((e) => `map(${v}, ${e})`),
            ),
          },
          {
            weight: 3,
            arbitrary: loop(depth, vars, (v, inner) =>
              bool(depth - 1, inner).map((e) => `filter(${v}, ${e})`),
            ),
          },
        );
  const int = (depth: number, vars: readonly string[]): fc.Arbitrary<string> =>
    depth <= 0 || vars.length === 0
      ? fc.oneof(fc.integer({ min: -3, max: 3 }).map(String), ...vars.map((v) => fc.constant(v)))
      : fc.oneof(
          fc.constantFrom(...vars),
          fc.integer({ min: -3, max: 3 }).map(String),
          fc.tuple(int(depth - 1, vars), int(depth - 1, vars)).map(([a, b]) => `(${a} + ${b})`),
          { weight: 2, arbitrary: list(depth - 1, vars).map((l) => `${l}.size()`) },
        );
  const bool = (depth: number, vars: readonly string[]): fc.Arbitrary<string> =>
    depth <= 0
      ? fc.constantFrom("true", "false")
      : fc.oneof(
          fc.tuple(int(depth - 1, vars), list(depth - 1, vars)).map(([i, l]) => `${i} in ${l}`),
          fc.tuple(int(depth - 1, vars), int(depth - 1, vars)).map(([a, b]) => `${a} < ${b}`),
          fc.tuple(list(depth - 1, vars), list(depth - 1, vars)).map(([a, b]) => `${a} == ${b}`),
          fc.tuple(bool(depth - 1, vars), bool(depth - 1, vars)).map(([a, b]) => `(${a} || ${b})`),
          loop(depth, vars, (v, inner) => bool(depth - 1, inner).map((e) => `all(${v}, ${e})`)),
          loop(depth, vars, (v, inner) => bool(depth - 1, inner).map((e) => `exists(${v}, ${e})`)),
          loop(depth, vars, (v, inner) =>
            bool(depth - 1, inner).map((e) => `exists_one(${v}, ${e})`),
          ),
        );
  /** `range.macro(v, body)` with a fresh variable, at most three loops deep. */
  const loop = (
    depth: number,
    vars: readonly string[],
    body: (v: string, inner: readonly string[]) => fc.Arbitrary<string>,
  ): fc.Arbitrary<string> => {
    const v = `v${Math.min(vars.length, 2)}`;
    const inner = vars.length >= 3 ? vars : [...vars, v];
    return fc.tuple(list(depth - 1, vars), body(v, inner)).map(([r, b]) => `${r}.${b}`);
  };
  return bool(4, []);
})();

const smallList = fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 5 });

describe("metering", () => {
  test.each([
    "l.map(x, x * 2) == [2, 4, 6]",
    "l.filter(x, x > 1) == [2, 3]",
    "l.filter(x, x > 5) == []",
    "l.map(x, l.map(y, x * y)) == [[1, 2, 3], [2, 4, 6], [3, 6, 9]]",
    "l.map(x, x).map(y, y + 1) == [2, 3, 4]",
    "size(l.map(x, x) + l.map(x, x)) == 6",
    "l.map(x, [x]).exists(y, y == [2])",
    "l.all(x, l.map(y, y).size() == 3)",
    "{'a': 1, 'b': 2}.map(k, k) == ['a', 'b']",
    "l.exists_one(x, x == 2) && !l.exists_one(x, x > 1)",
    "l.filter(x, x != 2).map(x, x * 10) == [10, 30]",
  ])("keeps the value of %s", (expression) => {
    expect(compile("l list<int>", expression).evaluate(undefined, { l: [1, 2, 3] })).toEqual({
      kind: "true",
    });
  });

  test("keeps the meaning of every expression", () => {
    const plain = celEnv();
    fc.assert(
      fc.property(expressions, smallList, smallList, (expression, l, m) => {
        let caveat: CompiledCaveat;
        try {
          caveat = compile("l list<int>, m list<int>", expression);
        } catch {
          return; // an expression the type checker refuses says nothing about metering
        }
        const expected = plan(
          plain,
          parse(expression).expr,
        )({
          l: l.map(BigInt),
          m: m.map(BigInt),
        });
        let actual: unknown;
        try {
          actual = caveat.evaluate(undefined, { l, m }).kind;
        } catch (err) {
          actual = err instanceof TrellisError ? err.code : err;
        }
        if (isCelError(expected)) expect(actual).toBe("INVALID_ARGUMENT");
        else expect(actual).toBe(String(expected));
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });
});
