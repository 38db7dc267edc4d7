/**
 * How long the costliest caveat evaluations hold the event loop: adversarial expressions and
 * contexts (nested loops, long lists, big strings, regular expressions, equality of lists),
 * each run until it finishes or its cost budget runs out. Prints the time per evaluation and
 * per cost unit, so the budget in `src/schema/caveat-limits.ts` can be set from measurements.
 *
 *   npm run bench:caveats
 */
import { TrellisError } from "../src/core/errors.js";
import type { CaveatContext } from "../src/core/relationship.js";
import { CaveatMeter } from "../src/schema/caveat-limits.js";
import { compileSchemaText } from "../src/schema/compiler.js";

interface Case {
  readonly name: string;
  readonly params: string;
  readonly expression: string;
  readonly context: CaveatContext;
}

const ints = (n: number) => Array.from({ length: n }, (_, i) => i);
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`);
const big = "a".repeat(60_000);

const CASES: Case[] = [
  {
    name: "exists over 10k ints",
    params: "l list<int>",
    expression: "l.exists(x, x == -1)",
    context: { l: ints(10_000) },
  },
  {
    name: "nested exists over 10k ints",
    params: "l list<int>",
    expression: "l.exists(x, l.exists(y, x == y + 1000000))",
    context: { l: ints(10_000) },
  },
  {
    name: "map then exists over 10k ints",
    params: "l list<int>",
    expression: "l.map(x, x * 2).exists(y, y < 0)",
    context: { l: ints(10_000) },
  },
  {
    name: "filter then map over 10k ints",
    params: "l list<int>",
    expression: "l.filter(x, x >= 0).map(y, [y, y]).size() < 0",
    context: { l: ints(10_000) },
  },
  {
    name: "x in l for x in l, 10k strings",
    params: "l list<string>",
    expression: "l.all(x, x in l)",
    context: { l: words(10_000) },
  },
  {
    name: "list equality in a loop",
    params: "l list<int>, m list<int>",
    expression: "l.all(x, l == m)",
    context: { l: ints(5_000), m: ints(5_000) },
  },
  {
    name: "contains on 60 kB in a loop",
    params: "l list<int>, s string",
    expression: "l.all(x, !s.contains('b'))",
    context: { l: ints(10_000), s: big },
  },
  {
    name: "concatenation of 60 kB in a loop",
    params: "l list<int>, s string",
    expression: "l.all(x, (s + s).size() > 0)",
    context: { l: ints(10_000), s: big },
  },
  {
    name: "matches on 60 kB in a loop",
    params: "l list<int>, s string",
    expression: "l.all(x, !s.matches('(a|aa)*b'))",
    context: { l: ints(1_000), s: big },
  },
  {
    name: "matches with a context pattern",
    params: "l list<int>, s string, p string",
    expression: "l.all(x, !s.matches(p))",
    context: { l: ints(1_000), s: big.slice(0, 5000), p: `(${"a|".repeat(300)}b)*c` },
  },
  {
    name: "map keys, nested",
    params: "m map<int>",
    expression: "m.all(k, m.all(j, m[k] >= 0))",
    context: { m: Object.fromEntries(ints(5_000).map((i) => [`k${i}`, i])) },
  },
  {
    name: "four nested literal loops",
    params: "n int",
    expression:
      "[0,1,2,3,4,5,6,7,8,9].all(a, [0,1,2,3,4,5,6,7,8,9].all(b, [0,1,2,3,4,5,6,7,8,9].all(c, [0,1,2,3,4,5,6,7,8,9].all(d, d + n >= 0))))",
    context: { n: 1 },
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function run(c: Case): void {
  let schema: ReturnType<typeof compileSchemaText>;
  try {
    schema = compileSchemaText(`caveat costly(${c.params}) { ${c.expression} }`);
  } catch (err) {
    console.log(`${c.name.padEnd(36)} refused when written: ${(err as Error).message}`);
    return;
  }
  const caveat = schema.caveats.get("costly")!;
  const times: number[] = [];
  let outcome = "";
  let spent = 0;
  for (let i = 0; i < 7; i++) {
    const meter = new CaveatMeter();
    const started = performance.now();
    try {
      outcome = caveat.evaluate(undefined, c.context, meter).kind;
    } catch (err) {
      outcome = err instanceof TrellisError ? err.code : String(err);
    }
    times.push(performance.now() - started);
    spent = meter.spent;
  }
  const ms = median(times);
  const perUnit = (ms * 1e6) / Math.max(spent, 1);
  console.log(
    `${c.name.padEnd(36)} ${outcome.padEnd(18)} ${ms.toFixed(2).padStart(8)} ms  ${String(spent).padStart(9)} units  ${perUnit.toFixed(1).padStart(6)} ns/unit`,
  );
}

for (const c of CASES) run(c);
