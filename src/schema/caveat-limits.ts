/**
 * The bounds on caveat work, so that no caveat, schema or context can hold the event loop: a
 * cost meter charged while an expression runs, the size limits of the context a request or a
 * relationship may carry, and the default budgets.
 *
 * Cost is counted in units of roughly one evaluated expression node (tens of nanoseconds on a
 * current core). A comprehension is charged before it iterates, for every element of its range
 * times the nodes its body evaluates per element; functions whose work grows with their input
 * (string and bytes operations, equality of lists and maps, `in` over a list, `matches`) are
 * charged by the size of that input. The charges are a deterministic function of the schema
 * and the context, so an answer never depends on how busy the machine is.
 */
import { celError } from "@bufbuild/cel";
import { TrellisError } from "../core/errors.js";
import type { CaveatContext } from "../core/relationship.js";

export interface CaveatLimits {
  /**
   * Cost one evaluation of one caveat may spend; more is RESOURCE_EXHAUSTED. A schema whose
   * caveat would spend more with small inputs (see `NOMINAL_PARAMETER_SIZE`) is refused.
   */
  readonly maxCostPerEvaluation: number;
  /** Cost all the caveat evaluations of one request may spend together. */
  readonly maxCostPerRequest: number;
}

/**
 * About 2–4 ms of one core per evaluation at most (`npm run bench:caveats`), and twenty times
 * that for a whole request.
 */
export const DEFAULT_CAVEAT_LIMITS: CaveatLimits = Object.freeze({
  maxCostPerEvaluation: 50_000,
  maxCostPerRequest: 1_000_000,
});

/** Longest caveat expression, in characters (as the schema's caveats together: `MAX_CAVEAT_TEXT`). */
export const MAX_EXPRESSION_LENGTH = 8 * 1024;
/** Deepest expression tree (a chain `a + b + …` nests one level per operator). */
export const MAX_EXPRESSION_DEPTH = 500;
/** Most comprehensions (`all`, `exists`, `map`, …) nested inside one another. */
export const MAX_COMPREHENSION_NESTING = 4;
/** Longest regular expression `matches` compiles. */
export const MAX_PATTERN_LENGTH = 1_000;
/**
 * The size a list, map or string parameter is assumed to have when a schema's caveat is costed
 * at write time: a caveat must be affordable for small contexts, whatever it costs for large.
 */
export const NOMINAL_PARAMETER_SIZE = 10;

/** Largest caveat context (a request's, or one written on a relationship), JSON-encoded. */
export const MAX_CONTEXT_BYTES = 64 * 1024;
/** Longest list and largest map anywhere in a context. */
export const MAX_CONTEXT_COLLECTION_SIZE = 10_000;
/** Deepest nesting of lists and maps in a context. */
export const MAX_CONTEXT_DEPTH = 32;

/**
 * Counts the cost of the caveat evaluations of one request. `beginEvaluation` starts the
 * per-evaluation count; `charge` adds to both counts and throws once either is over its limit
 * (the evaluation's CEL functions turn the throw into an error value, which stops every loop
 * it reaches; `exhausted` says afterwards that the answer must not be used).
 */
export class CaveatMeter {
  readonly limits: CaveatLimits;
  readonly #converted = new WeakMap<CaveatContext, Map<object, unknown>>();
  #evaluation = 0;
  #request = 0;
  #exhausted: "evaluation" | "request" | undefined;

  constructor(limits: CaveatLimits = DEFAULT_CAVEAT_LIMITS) {
    this.limits = limits;
  }

  /** The cost spent by this request so far. */
  get spent(): number {
    return this.#request;
  }

  get exhausted(): boolean {
    return this.#exhausted !== undefined;
  }

  beginEvaluation(): void {
    this.#evaluation = 0;
    this.#exhausted = undefined;
  }

  /**
   * The values of `context` already converted for a parameter (keyed by the parameter's
   * record): every caveat a request evaluates sees the same request context, converted once.
   */
  converted(context: CaveatContext): Map<object, unknown> {
    let values = this.#converted.get(context);
    if (values === undefined) {
      values = new Map();
      this.#converted.set(context, values);
    }
    return values;
  }

  /** Throws once the budget has run out. */
  check(): void {
    if (this.#exhausted !== undefined) throw COST_EXCEEDED;
  }

  charge(units: number): void {
    this.#evaluation += units;
    this.#request += units;
    if (this.#exhausted !== undefined) throw COST_EXCEEDED;
    if (this.#evaluation > this.limits.maxCostPerEvaluation) {
      this.#exhausted = "evaluation";
      throw COST_EXCEEDED;
    }
    if (this.#request > this.limits.maxCostPerRequest) {
      this.#exhausted = "request";
      throw COST_EXCEEDED;
    }
  }

  /** The error an exhausted evaluation of `caveat` ends with. */
  exhaustedError(caveat: string): TrellisError {
    const limit =
      this.#exhausted === "request"
        ? `the request's caveat cost limit of ${this.limits.maxCostPerRequest}`
        : `the cost limit of ${this.limits.maxCostPerEvaluation} per evaluation`;
    return new TrellisError("RESOURCE_EXHAUSTED", `caveat '${caveat}' exceeded ${limit}`);
  }
}

/**
 * Thrown inside CEL functions, where it becomes the function's error value. Made once: CEL
 * passes an error value through as it is, so refusing every further step of a loop after the
 * budget has run out allocates nothing (and captures no stack).
 */
const COST_EXCEEDED = celError("caveat cost limit exceeded");

let active: CaveatMeter | undefined;

/** Runs `evaluate` with `meter` charged by every metered CEL function it calls. */
export function withMeter<T>(meter: CaveatMeter, evaluate: () => T): T {
  const outer = active;
  active = meter;
  try {
    return evaluate();
  } finally {
    active = outer;
  }
}

/** Charges the meter of the evaluation running now (none outside an evaluation). */
export function chargeCaveatCost(units: number): void {
  active?.charge(units);
}

/** Throws when the budget of the evaluation running now has run out. */
export function checkCaveatBudget(): void {
  active?.check();
}

/**
 * Refuses (INVALID_ARGUMENT naming `field`) a context over the size limits: too many bytes
 * once JSON-encoded, a list or map too large, or nesting too deep. Counting walks the value
 * once and stops at the first limit passed, so an oversized context costs little to refuse.
 */
export function checkContextLimits(context: CaveatContext, field: string): void {
  let bytes = 2;
  const refuse = (what: string): never => {
    throw new TrellisError("INVALID_ARGUMENT", `caveat context ${what}`, { field });
  };
  const visit = (value: unknown, depth: number): void => {
    if (depth > MAX_CONTEXT_DEPTH) refuse(`is nested deeper than ${MAX_CONTEXT_DEPTH} levels`);
    if (typeof value === "string") {
      bytes += value.length + 2;
    } else if (Array.isArray(value)) {
      if (value.length > MAX_CONTEXT_COLLECTION_SIZE) {
        refuse(`has a list of ${value.length} items (at most ${MAX_CONTEXT_COLLECTION_SIZE})`);
      }
      bytes += 2;
      for (const item of value) {
        bytes += 1;
        visit(item, depth + 1);
      }
    } else if (value !== null && typeof value === "object") {
      const keys = Object.keys(value);
      if (keys.length > MAX_CONTEXT_COLLECTION_SIZE) {
        refuse(`has a map of ${keys.length} entries (at most ${MAX_CONTEXT_COLLECTION_SIZE})`);
      }
      bytes += 2;
      for (const key of keys) {
        bytes += key.length + 4;
        visit((value as Record<string, unknown>)[key], depth + 1);
      }
    } else {
      bytes += typeof value === "number" || typeof value === "bigint" ? String(value).length : 5;
    }
    if (bytes > MAX_CONTEXT_BYTES) refuse(`is larger than ${MAX_CONTEXT_BYTES} bytes`);
  };
  visit(context, 0);
}
