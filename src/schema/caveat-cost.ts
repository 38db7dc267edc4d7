/**
 * What a caveat expression may cost, known before it runs: its shape (depth, comprehension
 * nesting), an estimate of one evaluation's cost with small parameters, and the rewriting that
 * makes the running expression charge the cost meter (`caveat-limits.ts`).
 *
 * The rewriting keeps the meaning of the expression and changes three things: every
 * comprehension's range passes through `@trellis_range`, which charges the range's size times
 * the nodes the body evaluates per element; its loop condition passes through
 * `@trellis_continue`, which ends the loop once the budget has run out (the iterations were paid
 * for in advance, but a loop whose every step fails would go on failing to its end); and the
 * accumulator step of `map` and `filter` (`@result + [e]`) becomes `@trellis_append`, which
 * appends in place instead of building a chain of concatenated lists that costs quadratic time
 * to read. `@` names cannot be written in CEL source, so only this rewriting can call them.
 */
import type { CelExpr } from "./caveat-check.js";
import { NOMINAL_PARAMETER_SIZE } from "./caveat-limits.js";

export const RANGE_FUNCTION = "@trellis_range";
export const APPEND_FUNCTION = "@trellis_append";
export const CONTINUE_FUNCTION = "@trellis_continue";

/**
 * The functions whose work grows with the size of their input. A call of one of them on
 * operands that may be large is renamed to its metered twin (`meteredName`), which charges
 * `callCost` before doing the same; on numbers and other fixed-size operands it stays as it is.
 */
export const SIZE_DEPENDENT_FUNCTIONS: readonly string[] = [
  "_+_",
  "_==_",
  "_!=_",
  "_<_",
  "_<=_",
  "_>_",
  "_>=_",
  "@in",
  "contains",
  "startsWith",
  "endsWith",
  "size",
  "string",
  "bytes",
  "int",
  "uint",
  "double",
  "timestamp",
  "duration",
];
const SIZE_DEPENDENT: ReadonlySet<string> = new Set(SIZE_DEPENDENT_FUNCTIONS);

export function meteredName(fn: string): string {
  return `@metered${fn}`;
}
/** The accumulator name @bufbuild/cel's macros bind; unreachable from CEL source. */
const ACCUMULATOR = "@result";

type ExprKind<K extends CelExpr["exprKind"]["case"]> = Extract<CelExpr["exprKind"], { case: K }>;
type Comprehension = ExprKind<"comprehensionExpr">["value"];

/** The children of a node, in evaluation order. */
function childrenOf(expr: CelExpr): CelExpr[] {
  const kind = expr.exprKind;
  const out: CelExpr[] = [];
  const add = (e: CelExpr | undefined) => {
    if (e !== undefined) out.push(e);
  };
  switch (kind.case) {
    case "selectExpr":
      add(kind.value.operand);
      break;
    case "callExpr":
      add(kind.value.target);
      for (const a of kind.value.args) add(a);
      break;
    case "listExpr":
      for (const e of kind.value.elements) add(e);
      break;
    case "structExpr":
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === "mapKey") add(entry.keyKind.value);
        add(entry.value);
      }
      break;
    case "comprehensionExpr": {
      const c = kind.value;
      add(c.iterRange);
      add(c.accuInit);
      add(c.loopCondition);
      add(c.loopStep);
      add(c.result);
      break;
    }
    default:
      break;
  }
  return out;
}

export interface ExpressionShape {
  /** Longest path from the root to a leaf, counting both ends. */
  readonly depth: number;
  /** Most comprehensions on one path. */
  readonly nesting: number;
}

/**
 * Depth and comprehension nesting, measured without recursion: this runs before anything else
 * walks the tree, so that a pathological one is refused instead of overflowing the stack.
 */
export function expressionShape(expr: CelExpr): ExpressionShape {
  let depth = 0;
  let nesting = 0;
  const stack: [CelExpr, number, number][] = [[expr, 1, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [e, d, n0] = top;
    const n = e.exprKind.case === "comprehensionExpr" ? n0 + 1 : n0;
    if (d > depth) depth = d;
    if (n > nesting) nesting = n;
    for (const child of childrenOf(e)) stack.push([child, d + 1, n]);
  }
  return { depth, nesting };
}

/**
 * Nodes evaluated once per element of a comprehension's range: those of its condition and step,
 * where a nested comprehension counts its range, initial value and result (its own body is
 * charged by its own range).
 */
function bodyWeight(c: Comprehension): number {
  return loopNodes(c.loopCondition) + loopNodes(c.loopStep);
}

function loopNodes(expr: CelExpr | undefined): number {
  if (expr === undefined) return 0;
  const kind = expr.exprKind;
  if (kind.case === "comprehensionExpr") {
    const c = kind.value;
    return 1 + loopNodes(c.iterRange) + loopNodes(c.accuInit) + loopNodes(c.result);
  }
  let n = 1;
  for (const child of childrenOf(expr)) n += loopNodes(child);
  return n;
}

// ---- static estimate --------------------------------------------------------------------

interface Estimate {
  readonly cost: number;
  /** Elements of a list or map, characters of a string or bytes; 1 otherwise. */
  readonly size: number;
}

/**
 * The cost of one evaluation when every list, map and string parameter has
 * `NOMINAL_PARAMETER_SIZE` elements: every branch taken, every loop run to the end. A caveat
 * over that budget can never do its work within the limit and is refused at schema write.
 */
export function estimateCost(expr: CelExpr, params: ReadonlySet<string>): number {
  return new Estimator(params).estimate(expr).cost;
}

class Estimator {
  readonly #params: ReadonlySet<string>;
  /** The sizes of the comprehension variables in scope, innermost last. */
  readonly #scopes: Map<string, number>[] = [];

  constructor(params: ReadonlySet<string>) {
    this.#params = params;
  }

  estimate(expr: CelExpr): Estimate {
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr": {
        const c = kind.value.constantKind;
        if (c.case === "stringValue" || c.case === "bytesValue") {
          return { cost: 1, size: c.value.length };
        }
        return { cost: 1, size: 1 };
      }
      case "identExpr": {
        const name = kind.value.name;
        for (let i = this.#scopes.length - 1; i >= 0; i--) {
          const size = this.#scopes[i]!.get(name);
          if (size !== undefined) return { cost: 1, size };
        }
        return { cost: 1, size: this.#params.has(name) ? NOMINAL_PARAMETER_SIZE : 1 };
      }
      case "selectExpr":
        return { cost: 1 + this.#cost(kind.value.operand), size: NOMINAL_PARAMETER_SIZE };
      case "listExpr":
      case "structExpr": {
        let cost = 1;
        for (const child of childrenOf(expr)) cost += this.estimate(child).cost;
        const size =
          kind.case === "listExpr" ? kind.value.elements.length : kind.value.entries.length;
        return { cost, size };
      }
      case "callExpr":
        return this.#call(kind.value.function, childrenOf(expr));
      case "comprehensionExpr":
        return this.#comprehension(kind.value);
      default:
        return { cost: 1, size: 1 };
    }
  }

  #cost(expr: CelExpr | undefined): number {
    return expr === undefined ? 0 : this.estimate(expr).cost;
  }

  #call(fn: string, operands: readonly CelExpr[]): Estimate {
    const args = operands.map((a) => this.estimate(a));
    let cost = 1;
    for (const a of args) cost += a.cost;
    if (fn === "_?_:_" && args.length === 3) {
      return {
        cost: 1 + args[0]!.cost + Math.max(args[1]!.cost, args[2]!.cost),
        size: Math.max(args[1]!.size, args[2]!.size),
      };
    }
    const sizes = args.map((a) => a.size);
    cost += callCost(fn, sizes);
    const size = fn === "_+_" ? sizes.reduce((a, b) => a + b, 0) : 1;
    return { cost, size };
  }

  #comprehension(c: Comprehension): Estimate {
    const range = c.iterRange === undefined ? { cost: 0, size: 0 } : this.estimate(c.iterRange);
    const init = c.accuInit === undefined ? { cost: 0, size: 0 } : this.estimate(c.accuInit);
    // A list accumulator (map, filter) ends as long as the range.
    const accumulates =
      c.accuInit?.exprKind.case === "listExpr" && c.accuInit.exprKind.value.elements.length === 0;
    const accuSize = accumulates ? range.size : 1;
    this.#scopes.push(
      new Map([
        [c.accuVar, accuSize],
        [c.iterVar, NOMINAL_PARAMETER_SIZE],
      ]),
    );
    const body = this.#cost(c.loopCondition) + this.#cost(c.loopStep);
    this.#scopes.pop();
    this.#scopes.push(new Map([[c.accuVar, accuSize]]));
    const result = this.#cost(c.result);
    this.#scopes.pop();
    return { cost: 1 + range.cost + init.cost + range.size * body + result, size: accuSize };
  }
}

/**
 * The cost of a call beyond its node, from the sizes of its target and arguments (target
 * first): the same formula at write time, with estimated sizes, and at run time, with the real
 * ones (see `caveat-environment.ts`).
 */
export function callCost(fn: string, sizes: readonly number[]): number {
  switch (fn) {
    case "_+_":
    case "contains":
    case "startsWith":
    case "endsWith":
    case "size":
    case "string":
    case "bytes":
    case "int":
    case "uint":
    case "double":
    case "timestamp":
    case "duration":
      return Math.ceil(sum(sizes) / 10);
    case "_==_":
    case "_!=_":
    case "_<_":
    case "_<=_":
    case "_>_":
    case "_>=_":
      return sizes.length === 2 ? Math.min(sizes[0]!, sizes[1]!) : 0;
    case "@in":
      return sizes[1] ?? 0;
    case "isSubtreeOf":
      return sizes[0] ?? 0;
    case "matches":
      return matchCost(sizes[0] ?? 0, sizes[1] ?? 0);
    default:
      return 0;
  }
}

/** RE2 matches in time proportional to the text times the pattern, at worst. */
export function matchCost(textLength: number, patternLength: number): number {
  return Math.ceil(textLength / 10) * Math.ceil(Math.max(patternLength, 1) / 16);
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

// ---- the rewriting ----------------------------------------------------------------------

/**
 * The expression, rewritten to charge the meter as it runs (see the file's comment);
 * `fixedSizeCalls` are the calls the type checker found cheap whatever the input.
 */
export function meteredExpression(expr: CelExpr, fixedSizeCalls: ReadonlySet<bigint>): CelExpr {
  let nextId = maxId(expr) + 1n;
  const call = (fn: string, args: CelExpr[]): CelExpr => ({
    $typeName: "cel.expr.Expr",
    id: nextId++,
    exprKind: {
      case: "callExpr",
      value: { $typeName: "cel.expr.Expr.Call", function: fn, args },
    },
  });
  const int = (value: number): CelExpr => ({
    $typeName: "cel.expr.Expr",
    id: nextId++,
    exprKind: {
      case: "constExpr",
      value: {
        $typeName: "cel.expr.Constant",
        constantKind: { case: "int64Value", value: BigInt(value) },
      },
    },
  });

  const rewrite = (e: CelExpr): CelExpr => {
    const kind = e.exprKind;
    switch (kind.case) {
      case "selectExpr": {
        const operand = kind.value.operand;
        if (operand === undefined) return e;
        return {
          ...e,
          exprKind: { case: kind.case, value: { ...kind.value, operand: rewrite(operand) } },
        };
      }
      case "callExpr": {
        const append = accumulatorAppend(kind.value);
        if (append !== undefined) return call(APPEND_FUNCTION, [append[0], rewrite(append[1])]);
        const { target, function: fn } = kind.value;
        const metered = SIZE_DEPENDENT.has(fn) && !fixedSizeCalls.has(BigInt(e.id));
        return {
          ...e,
          exprKind: {
            case: kind.case,
            value: {
              ...kind.value,
              function: metered ? meteredName(fn) : fn,
              ...(target !== undefined ? { target: rewrite(target) } : {}),
              args: kind.value.args.map(rewrite),
            },
          },
        };
      }
      case "listExpr":
        return {
          ...e,
          exprKind: {
            case: kind.case,
            value: { ...kind.value, elements: kind.value.elements.map(rewrite) },
          },
        };
      case "structExpr":
        return {
          ...e,
          exprKind: {
            case: kind.case,
            value: {
              ...kind.value,
              entries: kind.value.entries.map((entry) => ({
                ...entry,
                keyKind:
                  entry.keyKind.case === "mapKey"
                    ? { case: "mapKey" as const, value: rewrite(entry.keyKind.value) }
                    : entry.keyKind,
                ...(entry.value !== undefined ? { value: rewrite(entry.value) } : {}),
              })),
            },
          },
        };
      case "comprehensionExpr": {
        const c = kind.value;
        return {
          ...e,
          exprKind: {
            case: kind.case,
            value: {
              ...c,
              ...(c.iterRange !== undefined
                ? { iterRange: call(RANGE_FUNCTION, [rewrite(c.iterRange), int(bodyWeight(c))]) }
                : {}),
              ...(c.accuInit !== undefined ? { accuInit: rewrite(c.accuInit) } : {}),
              ...(c.loopCondition !== undefined
                ? { loopCondition: call(CONTINUE_FUNCTION, [rewrite(c.loopCondition)]) }
                : {}),
              ...(c.loopStep !== undefined ? { loopStep: rewrite(c.loopStep) } : {}),
              ...(c.result !== undefined ? { result: rewrite(c.result) } : {}),
            },
          },
        };
      }
      default:
        return e;
    }
  };
  return rewrite(expr);
}

/** `@result + [e]`, the step of `map` and `filter`: the accumulator and `e`. */
function accumulatorAppend(call: ExprKind<"callExpr">["value"]): [CelExpr, CelExpr] | undefined {
  if (call.function !== "_+_" || call.target !== undefined || call.args.length !== 2) return;
  const [accumulator, list] = call.args as [CelExpr, CelExpr];
  if (
    accumulator.exprKind.case !== "identExpr" ||
    accumulator.exprKind.value.name !== ACCUMULATOR
  ) {
    return;
  }
  if (list.exprKind.case !== "listExpr") return;
  const { elements, optionalIndices } = list.exprKind.value;
  if (elements.length !== 1 || optionalIndices.length > 0) return;
  return [accumulator, elements[0]!];
}

function maxId(expr: CelExpr): bigint {
  let max = 0n;
  const stack = [expr];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    const id = BigInt(e.id);
    if (id > max) max = id;
    stack.push(...childrenOf(e));
  }
  return max;
}
