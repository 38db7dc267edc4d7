/**
 * Type checking of caveat expressions against their declared parameters.
 *
 * @bufbuild/cel 0.6 parses, plans and evaluates CEL, but its checker is internal and handles
 * only literals and identifiers, so this is a checker of its own over the parsed tree, in the
 * manner of cel-go's: type parameters unified through a substitution, overloads resolved by
 * assignability with `dyn` assignable both ways. The overloads are read from the environment's
 * function registry (so a function that type-checks is one the runtime has), with the generic
 * ones (`==`, `in`, list `+`, indexing, `?:`) declared here with type parameters, which the
 * registry spells as `dyn`.
 */
import type { CelEnv, CelType, parse } from "@bufbuild/cel";
import { IP_ADDRESS_TYPE_NAME } from "./caveat-ip-address.js";
import type { CaveatType } from "./caveat-types.js";

export type CelExpr = ReturnType<typeof parse>["expr"];
type ExprKind<K extends CelExpr["exprKind"]["case"]> = Extract<CelExpr["exprKind"], { case: K }>;
type CallExpr = ExprKind<"callExpr">["value"];
type Constant = ExprKind<"constExpr">["value"];

type PrimitiveName =
  | "int"
  | "uint"
  | "double"
  | "bool"
  | "string"
  | "bytes"
  | "null_type"
  | "timestamp"
  | "duration"
  | typeof IP_ADDRESS_TYPE_NAME
  | "type"
  | "dyn"
  /** The type of an expression already reported as wrong; it silences follow-on errors. */
  | "error";

/** A type during checking. `param` is a type variable (negative ids only in signatures). */
export type CheckedType =
  | { readonly kind: "primitive"; readonly name: PrimitiveName }
  | { readonly kind: "list"; readonly element: CheckedType }
  | { readonly kind: "map"; readonly key: CheckedType; readonly value: CheckedType }
  | { readonly kind: "param"; readonly id: number };

const primitives = new Map<PrimitiveName, CheckedType>();
function primitive(name: PrimitiveName): CheckedType {
  let t = primitives.get(name);
  if (t === undefined) {
    t = { kind: "primitive", name };
    primitives.set(name, t);
  }
  return t;
}

const BOOL = primitive("bool");
const INT = primitive("int");
const STRING = primitive("string");
const DYN = primitive("dyn");
const ERROR = primitive("error");
const TYPE = primitive("type");
const listOf = (element: CheckedType): CheckedType => ({ kind: "list", element });
const mapOf = (key: CheckedType, value: CheckedType): CheckedType => ({ kind: "map", key, value });
const sig = (id: number): CheckedType => ({ kind: "param", id });

/** The CEL type a parameter of a caveat type has (SpiceDB's `VariableType.CelType()`). */
export function celTypeOfParameter(type: CaveatType): CheckedType {
  switch (type.kind) {
    case "any":
      return DYN;
    case "uint":
      // SpiceDB declares uint parameters as CEL int.
      return INT;
    case "ipaddress":
      return primitive(IP_ADDRESS_TYPE_NAME);
    case "list":
      return listOf(celTypeOfParameter(type.element));
    case "map":
      return mapOf(STRING, celTypeOfParameter(type.value));
    default:
      return primitive(type.kind);
  }
}

export function formatCheckedType(t: CheckedType): string {
  switch (t.kind) {
    case "primitive":
      return t.name === IP_ADDRESS_TYPE_NAME ? "ipaddress" : t.name;
    case "list":
      return `list(${formatCheckedType(t.element)})`;
    case "map":
      return `map(${formatCheckedType(t.key)}, ${formatCheckedType(t.value)})`;
    case "param":
      return "dyn";
  }
}

// ---- overloads --------------------------------------------------------------------------

interface Overload {
  /** For methods (`x.f()`), the receiver type. */
  readonly target?: CheckedType;
  readonly args: readonly CheckedType[];
  readonly result: CheckedType;
}

/** Declared here with type parameters; the registry's `dyn` versions of these are skipped. */
const GENERIC_OVERLOADS: ReadonlyMap<string, readonly Overload[]> = new Map([
  ["_==_", [{ args: [sig(-1), sig(-1)], result: BOOL }]],
  ["_!=_", [{ args: [sig(-1), sig(-1)], result: BOOL }]],
  [
    "@in",
    [
      { args: [sig(-1), listOf(sig(-1))], result: BOOL },
      { args: [sig(-1), mapOf(sig(-1), sig(-2))], result: BOOL },
    ],
  ],
  [
    "_[_]",
    [
      { args: [listOf(sig(-1)), INT], result: sig(-1) },
      { args: [mapOf(sig(-1), sig(-2)), sig(-1)], result: sig(-2) },
    ],
  ],
  ["_?_:_", [{ args: [BOOL, sig(-1), sig(-1)], result: sig(-1) }]],
  ["_&&_", [{ args: [BOOL, BOOL], result: BOOL }]],
  ["_||_", [{ args: [BOOL, BOOL], result: BOOL }]],
  ["@not_strictly_false", [{ args: [BOOL], result: BOOL }]],
]);

/** List concatenation keeps its element type; the registry declares it over `list(dyn)`. */
const LIST_CONCAT: Overload = {
  args: [listOf(sig(-1)), listOf(sig(-1))],
  result: listOf(sig(-1)),
};

function fromCelType(t: CelType): CheckedType | undefined {
  switch (t.kind) {
    case "scalar":
      return primitive(t.name);
    case "list": {
      const element = fromCelType(t.element);
      return element === undefined ? undefined : listOf(element);
    }
    case "map": {
      const key = fromCelType(t.key);
      const value = fromCelType(t.value);
      return key === undefined || value === undefined ? undefined : mapOf(key, value);
    }
    case "object":
      switch (t.name) {
        case "google.protobuf.Timestamp":
          return primitive("timestamp");
        case "google.protobuf.Duration":
          return primitive("duration");
        case IP_ADDRESS_TYPE_NAME:
          return primitive(IP_ADDRESS_TYPE_NAME);
        default:
          return undefined;
      }
  }
}

/** Overloads by function name, built once per environment. */
function overloadTable(env: CelEnv): ReadonlyMap<string, readonly Overload[]> {
  const table = new Map<string, Overload[]>();
  for (const [name, overloads] of GENERIC_OVERLOADS) table.set(name, [...overloads]);
  table.get("_+_")?.push(LIST_CONCAT) ?? table.set("_+_", [LIST_CONCAT]);
  for (const fn of env.funcs) {
    if (GENERIC_OVERLOADS.has(fn.name)) continue;
    const args = fn.arguments.map(fromCelType);
    const result = fromCelType(fn.result);
    const target = fn.target === undefined ? undefined : fromCelType(fn.target);
    if (result === undefined || (fn.target !== undefined && target === undefined)) continue;
    if (args.some((a) => a === undefined)) continue;
    const overload: Overload = {
      ...(target !== undefined ? { target } : {}),
      args: args as CheckedType[],
      result,
    };
    if (fn.name === "_+_" && overload.args.every((a) => a.kind === "list")) continue;
    const list = table.get(fn.name);
    if (list === undefined) table.set(fn.name, [overload]);
    else list.push(overload);
  }
  return table;
}

const tables = new WeakMap<CelEnv, ReadonlyMap<string, readonly Overload[]>>();

// ---- unification ------------------------------------------------------------------------

type Substitution = Map<number, CheckedType>;

function prune(t: CheckedType, s: Substitution): CheckedType {
  let current = t;
  while (current.kind === "param") {
    const bound = s.get(current.id);
    if (bound === undefined) return current;
    current = bound;
  }
  return current;
}

function occurs(id: number, t: CheckedType, s: Substitution): boolean {
  const p = prune(t, s);
  switch (p.kind) {
    case "param":
      return p.id === id;
    case "list":
      return occurs(id, p.element, s);
    case "map":
      return occurs(id, p.key, s) || occurs(id, p.value, s);
    default:
      return false;
  }
}

function isDynOrError(t: CheckedType): boolean {
  return t.kind === "primitive" && (t.name === "dyn" || t.name === "error");
}

/** Whether a value of `source` may stand where `target` is expected; binds type variables. */
function assignable(target: CheckedType, source: CheckedType, s: Substitution): boolean {
  const t = prune(target, s);
  const u = prune(source, s);
  if (t.kind === "param") {
    if (u.kind === "param" && u.id === t.id) return true;
    if (occurs(t.id, u, s)) return false;
    s.set(t.id, u);
    return true;
  }
  if (u.kind === "param") {
    if (occurs(u.id, t, s)) return false;
    s.set(u.id, t);
    return true;
  }
  if (isDynOrError(t) || isDynOrError(u)) return true;
  switch (t.kind) {
    case "primitive":
      return u.kind === "primitive" && u.name === t.name;
    case "list":
      return u.kind === "list" && assignable(t.element, u.element, s);
    case "map":
      return u.kind === "map" && assignable(t.key, u.key, s) && assignable(t.value, u.value, s);
  }
}

/** The type with every bound variable replaced; unbound ones become `dyn`. */
function resolved(t: CheckedType, s: Substitution): CheckedType {
  const p = prune(t, s);
  switch (p.kind) {
    case "param":
      return DYN;
    case "list":
      return listOf(resolved(p.element, s));
    case "map":
      return mapOf(resolved(p.key, s), resolved(p.value, s));
    default:
      return p;
  }
}

function sameType(a: CheckedType, b: CheckedType): boolean {
  return formatCheckedType(a) === formatCheckedType(b);
}

// ---- the checker ------------------------------------------------------------------------

export interface CheckIssue {
  readonly message: string;
  /** Offset within the expression text, in UTF-16 units. */
  readonly offset: number;
}

export interface CheckResult {
  /** The expression's type, `error` when it has issues. */
  readonly type: CheckedType;
  readonly issues: readonly CheckIssue[];
  /**
   * The ids of the calls whose target and arguments all have fixed-size types (numbers, bools,
   * timestamps, durations, addresses): their cost does not grow with their input.
   */
  readonly fixedSizeCalls: ReadonlySet<bigint>;
}

const FIXED_SIZE_TYPES: ReadonlySet<string> = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "null_type",
  "timestamp",
  "duration",
  IP_ADDRESS_TYPE_NAME,
  "type",
]);

/** The names CEL resolves to type values (`type(x) == int`). */
const TYPE_IDENTIFIERS: ReadonlySet<string> = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "string",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Type-checks a parsed expression with the given variables in scope, reporting each problem
 * with its offset in the expression text.
 */
export function checkExpression(
  env: CelEnv,
  expr: CelExpr,
  positions: { readonly [id: string]: number },
  variables: ReadonlyMap<string, CheckedType>,
): CheckResult {
  let table = tables.get(env);
  if (table === undefined) {
    table = overloadTable(env);
    tables.set(env, table);
  }
  const checker = new Checker(table, positions, variables);
  const type = checker.check(expr);
  const fixedSizeCalls = new Set<bigint>();
  for (const [id, operands] of checker.calls) {
    const fixed = operands.every((t) => {
      const r = resolved(t, checker.substitution);
      return r.kind === "primitive" && FIXED_SIZE_TYPES.has(r.name);
    });
    if (fixed) fixedSizeCalls.add(BigInt(id));
  }
  return {
    type: checker.issues.length > 0 ? ERROR : resolved(type, checker.substitution),
    issues: checker.issues,
    fixedSizeCalls,
  };
}

class Checker {
  readonly issues: CheckIssue[] = [];
  readonly substitution: Substitution = new Map();
  /** Every call's id with the types of its target and arguments. */
  readonly calls: [id: bigint, operands: readonly CheckedType[]][] = [];
  readonly #table: ReadonlyMap<string, readonly Overload[]>;
  readonly #positions: { readonly [id: string]: number };
  readonly #variables: ReadonlyMap<string, CheckedType>;
  /** Comprehension variables, innermost last. */
  readonly #scopes: Map<string, CheckedType>[] = [];
  #nextParam = 1;

  constructor(
    table: ReadonlyMap<string, readonly Overload[]>,
    positions: { readonly [id: string]: number },
    variables: ReadonlyMap<string, CheckedType>,
  ) {
    this.#table = table;
    this.#positions = positions;
    this.#variables = variables;
  }

  #error(expr: CelExpr, message: string): CheckedType {
    this.issues.push({ message, offset: this.#positions[String(expr.id)] ?? 0 });
    return ERROR;
  }

  #fresh(): CheckedType {
    return { kind: "param", id: this.#nextParam++ };
  }

  check(expr: CelExpr): CheckedType {
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr":
        return this.#constant(expr, kind.value);
      case "identExpr":
        return this.#identifier(expr, kind.value.name);
      case "selectExpr": {
        const { operand, field, testOnly } = kind.value;
        if (operand === undefined) return this.#error(expr, "malformed field selection");
        const operandType = prune(this.check(operand), this.substitution);
        if (isDynOrError(operandType)) return testOnly ? BOOL : operandType;
        // A type nothing has fixed yet (an element of an empty literal) selects like dyn.
        if (operandType.kind === "param") return testOnly ? BOOL : DYN;
        if (operandType.kind === "map" && assignable(STRING, operandType.key, this.substitution)) {
          return testOnly ? BOOL : operandType.value;
        }
        return this.#error(
          expr,
          `type '${formatCheckedType(resolved(operandType, this.substitution))}' does not support field selection ('.${field}')`,
        );
      }
      case "callExpr":
        return this.#call(expr, kind.value);
      case "listExpr": {
        if (kind.value.optionalIndices.length > 0) {
          return this.#error(expr, "optional list elements are not supported");
        }
        const element = this.#join(kind.value.elements.map((e) => this.check(e)));
        return listOf(element);
      }
      case "structExpr": {
        const { messageName, entries } = kind.value;
        if (messageName !== "") {
          return this.#error(expr, `message construction is not supported ('${messageName}')`);
        }
        const keys: CheckedType[] = [];
        const values: CheckedType[] = [];
        for (const entry of entries) {
          if (entry.optionalEntry) {
            return this.#error(expr, "optional map entries are not supported");
          }
          if (entry.keyKind.case !== "mapKey" || entry.value === undefined) {
            return this.#error(expr, "malformed map literal");
          }
          const keyType = this.check(entry.keyKind.value);
          const key = prune(keyType, this.substitution);
          if (
            !isDynOrError(key) &&
            !(key.kind === "primitive" && ["int", "uint", "bool", "string"].includes(key.name))
          ) {
            this.#error(
              entry.keyKind.value,
              `unsupported map key type '${formatCheckedType(resolved(key, this.substitution))}'`,
            );
          }
          keys.push(keyType);
          values.push(this.check(entry.value));
        }
        return mapOf(this.#join(keys), this.#join(values));
      }
      case "comprehensionExpr":
        return this.#comprehension(expr, kind.value);
      default:
        return this.#error(expr, "unsupported expression");
    }
  }

  #constant(expr: CelExpr, constant: Constant): CheckedType {
    const c = constant.constantKind;
    switch (c.case) {
      case "boolValue":
        return BOOL;
      case "int64Value":
        return c.value < INT64_MIN || c.value > INT64_MAX
          ? this.#error(expr, "int literal out of range")
          : INT;
      case "uint64Value":
        return c.value < 0n || c.value > UINT64_MAX
          ? this.#error(expr, "uint literal out of range")
          : primitive("uint");
      case "doubleValue":
        return primitive("double");
      case "stringValue":
        return STRING;
      case "bytesValue":
        return primitive("bytes");
      case "nullValue":
        return primitive("null_type");
      default:
        return this.#error(expr, "unsupported literal");
    }
  }

  #identifier(expr: CelExpr, name: string): CheckedType {
    for (let i = this.#scopes.length - 1; i >= 0; i--) {
      const t = this.#scopes[i]!.get(name);
      if (t !== undefined) return t;
    }
    const variable = this.#variables.get(name);
    if (variable !== undefined) return variable;
    if (TYPE_IDENTIFIERS.has(name)) return TYPE;
    return this.#error(expr, `undeclared reference to '${name}'`);
  }

  /** The common type of literal elements: their shared type, or `dyn` when they differ. */
  #join(types: readonly CheckedType[]): CheckedType {
    const joined = this.#fresh();
    for (const t of types) {
      const trial = new Map(this.substitution);
      if (assignable(joined, t, trial)) {
        for (const [k, v] of trial) this.substitution.set(k, v);
      } else {
        return DYN;
      }
    }
    return joined;
  }

  #call(expr: CelExpr, call: CallExpr): CheckedType {
    const { function: name, target, args } = call;
    const targetType = target === undefined ? undefined : this.check(target);
    const argTypes = args.map((a) => this.check(a));
    const all = targetType === undefined ? argTypes : [targetType, ...argTypes];
    if (all.some((t) => isErrorType(prune(t, this.substitution)))) return ERROR;
    this.calls.push([expr.id, all]);

    const overloads = this.#table.get(name);
    if (overloads === undefined) {
      return this.#error(expr, `undeclared reference to '${displayName(name)}'`);
    }
    let result: CheckedType | undefined;
    let matches = 0;
    let matched: Substitution | undefined;
    for (const overload of overloads) {
      if ((overload.target === undefined) !== (targetType === undefined)) continue;
      if (overload.args.length !== argTypes.length) continue;
      const trial = new Map(this.substitution);
      const instance = this.#instantiate(overload);
      if (targetType !== undefined && !assignable(instance.target!, targetType, trial)) continue;
      if (!instance.args.every((p, i) => assignable(p, argTypes[i]!, trial))) continue;
      const overloadResult = resolvedKeepingParams(instance.result, trial);
      matches++;
      matched = trial;
      result = result === undefined || sameType(result, overloadResult) ? overloadResult : DYN;
    }
    if (result === undefined) {
      const shown = argTypes.map((t) => formatCheckedType(resolved(t, this.substitution)));
      const receiver =
        targetType === undefined
          ? ""
          : `${formatCheckedType(resolved(targetType, this.substitution))}.`;
      return this.#error(
        expr,
        `found no matching overload for '${displayName(name)}' applied to '${receiver}(${shown.join(", ")})'`,
      );
    }
    // Only an unambiguous match may fix type variables for the rest of the expression; the
    // result of an ambiguous one is as specific as its candidates agree on, else dyn.
    if (matches === 1 && matched !== undefined) {
      for (const [k, v] of matched) this.substitution.set(k, v);
      return result;
    }
    return resolved(result, this.substitution);
  }

  /** A copy of the overload with its signature variables renamed apart. */
  #instantiate(overload: Overload): Overload {
    const renamed = new Map<number, CheckedType>();
    const rename = (t: CheckedType): CheckedType => {
      switch (t.kind) {
        case "param": {
          let fresh = renamed.get(t.id);
          if (fresh === undefined) {
            fresh = this.#fresh();
            renamed.set(t.id, fresh);
          }
          return fresh;
        }
        case "list":
          return listOf(rename(t.element));
        case "map":
          return mapOf(rename(t.key), rename(t.value));
        default:
          return t;
      }
    };
    return {
      ...(overload.target !== undefined ? { target: rename(overload.target) } : {}),
      args: overload.args.map(rename),
      result: rename(overload.result),
    };
  }

  #comprehension(expr: CelExpr, c: ExprKind<"comprehensionExpr">["value"]): CheckedType {
    if (c.iterVar2 !== "")
      return this.#error(expr, "two-variable comprehensions are not supported");
    const { iterRange, accuInit, loopCondition, loopStep, result } = c;
    if (
      iterRange === undefined ||
      accuInit === undefined ||
      loopCondition === undefined ||
      loopStep === undefined ||
      result === undefined
    ) {
      return this.#error(expr, "malformed comprehension");
    }
    const range = prune(this.check(iterRange), this.substitution);
    let element: CheckedType;
    if (isDynOrError(range)) element = range;
    else if (range.kind === "list") element = range.element;
    else if (range.kind === "map") element = range.key;
    else {
      return this.#error(
        iterRange,
        `expression of type '${formatCheckedType(resolved(range, this.substitution))}' cannot be the range of a comprehension`,
      );
    }
    const accumulator = this.check(accuInit);
    this.#scopes.push(new Map([[c.accuVar, accumulator]]));
    this.#scopes.push(new Map([[c.iterVar, element]]));
    const condition = this.check(loopCondition);
    if (!assignable(BOOL, condition, this.substitution)) {
      this.#error(loopCondition, "comprehension condition must be a bool");
    }
    const step = this.check(loopStep);
    if (!assignable(accumulator, step, this.substitution)) {
      this.#error(
        loopStep,
        `comprehension step of type '${formatCheckedType(resolved(step, this.substitution))}' does not fit the accumulator of type '${formatCheckedType(resolved(accumulator, this.substitution))}'`,
      );
    }
    this.#scopes.pop();
    const outcome = this.check(result);
    this.#scopes.pop();
    return outcome;
  }
}

/** The type with bound variables replaced, keeping unbound ones as variables. */
function resolvedKeepingParams(t: CheckedType, s: Substitution): CheckedType {
  const p = prune(t, s);
  switch (p.kind) {
    case "list":
      return listOf(resolvedKeepingParams(p.element, s));
    case "map":
      return mapOf(resolvedKeepingParams(p.key, s), resolvedKeepingParams(p.value, s));
    default:
      return p;
  }
}

/** Operators as written (`_+_` is `+`), for messages. */
function displayName(name: string): string {
  switch (name) {
    case "@in":
      return "in";
    case "_[_]":
      return "[]";
    case "_?_:_":
      return "?:";
    default:
      return /^[A-Za-z@]/.test(name) ? name : name.replace(/^_/, "").replace(/_$/, "");
  }
}

export function isBoolType(t: CheckedType): boolean {
  return t.kind === "primitive" && t.name === "bool";
}

/** The type of an expression already reported as wrong, or of a parameter of a bad type. */
export function isErrorType(t: CheckedType): boolean {
  return t.kind === "primitive" && t.name === "error";
}

export const ERROR_TYPE: CheckedType = ERROR;
