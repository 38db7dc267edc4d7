/**
 * Caveats: compilation of `caveat name(params) { cel }` into a checked, planned program, and
 * its evaluation over the context written on a tuple and the context of a request.
 *
 * Evaluation semantics, following SpiceDB (`internal/caveats/run.go`, `pkg/caveats/eval.go`):
 * - the two contexts merge key by key, the tuple's value winning (see `lookup`);
 * - keys that are not parameters are ignored when evaluating, refused when writing a tuple
 *   (`checkCaveatContext`);
 * - a value that does not fit its parameter's type is INVALID_ARGUMENT, even for a parameter
 *   the expression does not read;
 * - parameters given in neither context are unknown; the answer is decided when the known ones
 *   decide it, as with cel-go's partial evaluation, otherwise it lists the unknowns it met. We
 *   also decide what cel-go leaves open when a few missing bool parameters cannot change the
 *   answer (`a || !a`): still sound, only more often decided;
 * - a runtime error (overflow, missing map key, malformed CIDR) is INVALID_ARGUMENT, as SpiceDB's
 *   caveat evaluation error is — except that `&&` and `||` absorb an error on one side when the
 *   other side decides, as CEL specifies;
 * - the work is bounded (`caveat-limits.ts`): an evaluation over its cost budget, or a request
 *   over its own, is RESOURCE_EXHAUSTED whatever the expression would have answered; a caveat
 *   too deep, too nested or too costly even for small inputs is refused when compiled.
 */
import { type CelResult, isCelError, isCelList, isCelMap, parse, plan } from "@bufbuild/cel";
import { type SchemaDiagnostic, type SourcePosition, TrellisError } from "../core/errors.js";
import type { CaveatContext } from "../core/relationship.js";
import type { CaveatNode } from "./ast.js";
import {
  type CelExpr,
  type CheckedType,
  celTypeOfParameter,
  checkExpression,
  ERROR_TYPE,
  formatCheckedType,
  isBoolType,
  isErrorType,
} from "./caveat-check.js";
import { estimateCost, expressionShape, meteredExpression } from "./caveat-cost.js";
import { caveatCelEnv, checkPattern } from "./caveat-environment.js";
import {
  CaveatMeter,
  checkContextLimits,
  DEFAULT_CAVEAT_LIMITS,
  MAX_COMPREHENSION_NESTING,
  MAX_EXPRESSION_DEPTH,
  MAX_EXPRESSION_LENGTH,
  withMeter,
} from "./caveat-limits.js";
import { type CaveatType, convertCaveatValue, resolveCaveatType } from "./caveat-types.js";

/** The outcome of one caveat: decided, or open on the listed parameters (sorted). */
export type CaveatResult =
  | { readonly kind: "true" }
  | { readonly kind: "false" }
  | { readonly kind: "missing"; readonly missing: readonly string[] };

export interface CompiledCaveat {
  readonly name: string;
  /** Declared parameters in declaration order. */
  readonly params: ReadonlyMap<string, CaveatType>;
  /** The CEL source, as written in the schema. */
  readonly expression: string;
  /** The parameters the expression reads, sorted; the others can never be missing. */
  readonly referencedParams: readonly string[];
  /** See `evaluateCaveat`. */
  evaluate(
    tupleContext: CaveatContext | undefined,
    requestContext: CaveatContext | undefined,
    meter?: CaveatMeter,
  ): CaveatResult;
}

export interface CaveatCompileResult {
  /** Present when there are no diagnostics. */
  readonly caveat?: CompiledCaveat;
  readonly diagnostics: SchemaDiagnostic[];
}

/**
 * Checks a caveat declaration — parameter types, duplicate parameters, CEL syntax and types,
 * a bool result — and plans it for evaluation. Diagnostics point into the schema source.
 */
export function compileCaveat(node: CaveatNode): CaveatCompileResult {
  const diagnostics: SchemaDiagnostic[] = [];
  const params = new Map<string, CaveatType>();
  const variables = new Map<string, CheckedType>();
  for (const param of node.params) {
    if (variables.has(param.name)) {
      diagnostics.push({
        message: `duplicate parameter '${param.name}' in caveat ${node.name}`,
        position: param.span.start,
      });
      continue;
    }
    const resolved = resolveCaveatType(param.type);
    for (const d of resolved.diagnostics) {
      diagnostics.push({
        message: `caveat ${node.name}, parameter '${param.name}': ${d.message}`,
        position: d.position,
      });
    }
    if (resolved.type === undefined) {
      // Typed as an error so the expression is still checked without follow-on reports.
      variables.set(param.name, ERROR_TYPE);
    } else {
      params.set(param.name, resolved.type);
      variables.set(param.name, celTypeOfParameter(resolved.type));
    }
  }

  const at = (offset: number) => positionAt(node.expression, node.expressionSpan.start, offset);
  if (node.expression.length > MAX_EXPRESSION_LENGTH) {
    diagnostics.push({
      message: `caveat ${node.name}: expression exceeds the maximum of ${MAX_EXPRESSION_LENGTH} characters`,
      position: node.expressionSpan.start,
    });
    return { diagnostics };
  }

  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(node.expression);
  } catch (err) {
    // The parser recurses once per nesting level: a stack overflow means nested too deeply.
    const { message, offset } =
      err instanceof RangeError ? { message: "nested too deeply", offset: 0 } : syntaxError(err);
    diagnostics.push({
      message: `caveat ${node.name}: syntax error: ${message}`,
      position: at(offset),
    });
    return { diagnostics };
  }

  // Before anything recursive walks the tree.
  const shape = expressionShape(parsed.expr);
  if (shape.depth > MAX_EXPRESSION_DEPTH || shape.nesting > MAX_COMPREHENSION_NESTING) {
    diagnostics.push({
      message:
        shape.depth > MAX_EXPRESSION_DEPTH
          ? `caveat ${node.name}: the expression nests ${shape.depth} levels deep (at most ${MAX_EXPRESSION_DEPTH})`
          : `caveat ${node.name}: the expression nests ${shape.nesting} comprehensions (at most ${MAX_COMPREHENSION_NESTING})`,
      position: node.expressionSpan.start,
    });
    return { diagnostics };
  }

  const checked = checkExpression(
    caveatCelEnv,
    parsed.expr,
    parsed.sourceInfo?.positions ?? {},
    variables,
  );
  for (const issue of checked.issues) {
    diagnostics.push({
      message: `caveat ${node.name}: ${issue.message}`,
      position: at(issue.offset),
    });
  }
  if (!isErrorType(checked.type) && !isBoolType(checked.type)) {
    diagnostics.push({
      message: `caveat ${node.name}: the expression must result in a bool, found '${formatCheckedType(checked.type)}'`,
      position: node.expressionSpan.start,
    });
  }
  if (diagnostics.length > 0) return { diagnostics };

  for (const { pattern, offset } of literalPatterns(
    parsed.expr,
    parsed.sourceInfo?.positions ?? {},
  )) {
    try {
      checkPattern(pattern);
    } catch (err) {
      diagnostics.push({ message: `caveat ${node.name}: ${messageOf(err)}`, position: at(offset) });
    }
  }
  const cost = estimateCost(parsed.expr, new Set(params.keys()));
  if (cost > DEFAULT_CAVEAT_LIMITS.maxCostPerEvaluation) {
    diagnostics.push({
      message: `caveat ${node.name}: the expression would cost about ${cost} per evaluation with small inputs, over the limit of ${DEFAULT_CAVEAT_LIMITS.maxCostPerEvaluation}`,
      position: node.expressionSpan.start,
    });
  }
  if (diagnostics.length > 0) return { diagnostics };

  try {
    return {
      caveat: new PlannedCaveat(node, params, parsed.expr, checked.fixedSizeCalls),
      diagnostics,
    };
  } catch (err) {
    diagnostics.push({
      message: `caveat ${node.name}: the expression cannot be evaluated: ${messageOf(err)}`,
      position: node.expressionSpan.start,
    });
    return { diagnostics };
  }
}

/**
 * Evaluates a caveat with the context written on its tuple and the request's context.
 * Throws INVALID_ARGUMENT when a context value does not fit its parameter's type or the
 * expression fails at run time.
 */
export function evaluateCaveat(
  caveat: CompiledCaveat,
  tupleContext: CaveatContext | undefined,
  requestContext: CaveatContext | undefined,
  meter?: CaveatMeter,
): CaveatResult {
  return caveat.evaluate(tupleContext, requestContext, meter);
}

/**
 * Validates the context written with a tuple, as SpiceDB does on write: every key must be a
 * parameter of the caveat and every value must fit its type. Throws INVALID_ARGUMENT naming
 * `field`.
 */
export function checkCaveatContext(
  caveat: CompiledCaveat,
  context: CaveatContext,
  field = "caveat.context",
): void {
  checkContextLimits(context, field);
  for (const key of Object.keys(context)) {
    const type = caveat.params.get(key);
    if (type === undefined) {
      throw new TrellisError(
        "INVALID_ARGUMENT",
        `unknown parameter '${key}' for caveat '${caveat.name}' (parameters: ${[...caveat.params.keys()].join(", ")})`,
        { field },
      );
    }
    const value = context[key];
    if (value === undefined) continue;
    try {
      convertCaveatValue(type, value, key);
    } catch (err) {
      throw new TrellisError(
        "INVALID_ARGUMENT",
        `type error in context of caveat '${caveat.name}': ${messageOf(err)}`,
        { field, cause: err },
      );
    }
  }
}

// ---- positions --------------------------------------------------------------------------

/** The schema position of an offset within the expression text. */
function positionAt(text: string, start: SourcePosition, offset: number): SourcePosition {
  const end = Math.max(0, Math.min(offset, text.length));
  let { line, column } = start;
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { line, column, offset: start.offset + end };
}

function syntaxError(err: unknown): { message: string; offset: number } {
  if (typeof err === "object" && err !== null) {
    const e = err as { rawMessage?: unknown; message?: unknown; location?: unknown };
    const location = e.location as { start?: { offset?: unknown } } | undefined;
    const offset = typeof location?.start?.offset === "number" ? location.start.offset : 0;
    const message = typeof e.rawMessage === "string" ? e.rawMessage : String(e.message ?? err);
    return { message, offset };
  }
  return { message: String(err), offset: 0 };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- evaluation -------------------------------------------------------------------------

const TRUE: CaveatResult = Object.freeze({ kind: "true" });
const FALSE: CaveatResult = Object.freeze({ kind: "false" });

type Program = (bindings: Bindings) => CelResult;
type Bindings = Record<string, unknown>;

/**
 * The expression's boolean skeleton — `&&`, `||`, `!` and `?:` from the root down — over
 * leaves that are ordinary CEL sub-expressions, each planned on its own. @bufbuild/cel has no
 * unknown values, so partial evaluation happens here: a leaf whose parameters are all known is
 * evaluated by @bufbuild/cel; one that reads a missing parameter is unknown; the connectives
 * combine these as cel-go combines unknowns, so a decided answer is the answer under every
 * value the missing parameters could take.
 */
type Skeleton =
  | { readonly kind: "and" | "or"; readonly left: Skeleton; readonly right: Skeleton }
  | { readonly kind: "not"; readonly operand: Skeleton }
  | {
      readonly kind: "conditional";
      readonly test: Skeleton;
      readonly whenTrue: Skeleton;
      readonly whenFalse: Skeleton;
    }
  | { readonly kind: "leaf"; readonly params: readonly string[]; readonly program: Program };

/** A partial value: decided, unknown on some parameters, or failed. */
type Partial = boolean | Unknown | Failure;

class Unknown {
  constructor(readonly params: ReadonlySet<string>) {}
}

class Failure {
  constructor(readonly message: string) {}
}

interface PlannedParam {
  readonly name: string;
  readonly type: CaveatType;
  readonly referenced: boolean;
}

class PlannedCaveat implements CompiledCaveat {
  readonly name: string;
  readonly params: ReadonlyMap<string, CaveatType>;
  readonly expression: string;
  readonly referencedParams: readonly string[];
  readonly #planned: readonly PlannedParam[];
  readonly #program: Program;
  readonly #skeleton: Skeleton;

  constructor(
    node: CaveatNode,
    params: ReadonlyMap<string, CaveatType>,
    expr: CelExpr,
    fixedSizeCalls: ReadonlySet<bigint>,
  ) {
    this.name = node.name;
    this.params = params;
    this.expression = node.expression;
    const referenced = freeVariables(expr, params);
    this.referencedParams = [...referenced].sort();
    this.#planned = [...params].map(([name, type]) => ({
      name,
      type,
      referenced: referenced.has(name),
    }));
    const metered = meteredExpression(expr, fixedSizeCalls);
    this.#program = plan(caveatCelEnv, metered) as Program;
    this.#skeleton = skeletonOf(metered, params);
  }

  evaluate(
    tupleContext: CaveatContext | undefined,
    requestContext: CaveatContext | undefined,
    meter: CaveatMeter = new CaveatMeter(),
  ): CaveatResult {
    meter.beginEvaluation();
    let result: CaveatResult;
    try {
      result = withMeter(meter, () => this.#evaluate(tupleContext, requestContext, meter));
    } catch (err) {
      if (meter.exhausted) throw meter.exhaustedError(this.name);
      throw err;
    }
    // An answer reached after the budget ran out is no answer: an error that `||` or `&&`
    // absorbed may have stopped a loop early.
    if (meter.exhausted) throw meter.exhaustedError(this.name);
    return result;
  }

  #evaluate(
    tupleContext: CaveatContext | undefined,
    requestContext: CaveatContext | undefined,
    meter: CaveatMeter,
  ): CaveatResult {
    const bindings: Bindings = Object.create(null);
    let complete = true;
    // The tuple's value wins (see `ownValue`); a request's values are converted once per request.
    const requestValues =
      requestContext === undefined ? undefined : meter.converted(requestContext);
    for (const p of this.#planned) {
      const fromTuple = ownValue(tupleContext, p.name);
      if (fromTuple !== undefined) {
        bindings[p.name] = this.#convert(p, fromTuple, meter);
        continue;
      }
      const fromRequest = ownValue(requestContext, p.name);
      if (fromRequest === undefined) {
        if (p.referenced) complete = false;
        continue;
      }
      let converted = requestValues?.get(p);
      if (converted === undefined) {
        converted = this.#convert(p, fromRequest, meter);
        requestValues?.set(p, converted);
      }
      bindings[p.name] = converted;
    }
    if (complete) return this.#decided(partialOf(this.#program(bindings)));
    return this.#partial(bindings);
  }

  #convert(p: PlannedParam, value: unknown, meter: CaveatMeter): unknown {
    let converted: unknown;
    try {
      converted = convertCaveatValue(p.type, value, p.name);
    } catch (err) {
      throw new TrellisError(
        "INVALID_ARGUMENT",
        `type error in context of caveat '${this.name}': ${messageOf(err)}`,
        { cause: err },
      );
    }
    meter.charge(conversionCost(converted));
    return converted;
  }

  #decided(value: Partial): CaveatResult {
    if (value === true) return TRUE;
    if (value === false) return FALSE;
    if (value instanceof Unknown) return { kind: "missing", missing: [...value.params].sort() };
    throw new TrellisError(
      "INVALID_ARGUMENT",
      `evaluation error in caveat '${this.name}': ${value.message}`,
    );
  }

  /**
   * Some parameter is missing: the connectives decide what they can, as cel-go's partial
   * evaluation does. Like SpiceDB, a tautology over unknowns (`a || !a`) stays undecided.
   */
  #partial(bindings: Bindings): CaveatResult {
    return this.#decided(evaluateSkeleton(this.#skeleton, bindings));
  }
}

/** Converting a context value costs one unit per element, or per ten characters. */
function conversionCost(value: unknown): number {
  if (typeof value === "string") return Math.ceil(value.length / 10);
  if (value instanceof Uint8Array) return Math.ceil(value.length / 10);
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 1;
}

/** The constant patterns of `matches` calls, to compile (and refuse) when the schema is written. */
function literalPatterns(
  expr: CelExpr,
  positions: { readonly [id: string]: number },
): { pattern: string; offset: number }[] {
  const found: { pattern: string; offset: number }[] = [];
  const visit = (e: CelExpr | undefined): void => {
    if (e === undefined) return;
    const kind = e.exprKind;
    switch (kind.case) {
      case "callExpr": {
        const pattern = kind.value.function === "matches" ? kind.value.args.at(-1) : undefined;
        const constant =
          pattern?.exprKind.case === "constExpr" ? pattern.exprKind.value : undefined;
        if (constant?.constantKind.case === "stringValue") {
          found.push({
            pattern: constant.constantKind.value,
            offset: positions[String(pattern?.id)] ?? 0,
          });
        }
        visit(kind.value.target);
        for (const a of kind.value.args) visit(a);
        return;
      }
      case "selectExpr":
        visit(kind.value.operand);
        return;
      case "listExpr":
        for (const a of kind.value.elements) visit(a);
        return;
      case "structExpr":
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") visit(entry.keyKind.value);
          visit(entry.value);
        }
        return;
      case "comprehensionExpr":
        visit(kind.value.iterRange);
        visit(kind.value.accuInit);
        visit(kind.value.loopCondition);
        visit(kind.value.loopStep);
        visit(kind.value.result);
        return;
      default:
        return;
    }
  };
  visit(expr);
  return found;
}

/**
 * A parameter's value in one context, if it has one. The tuple's wins over the request's: SpiceDB
 * documents that "the values in the Relationship take precedence over those in the
 * CheckPermissionRequest" (docs: Caveats, "Writing relationships with caveats and context"),
 * and `internal/caveats/run.go` copies the relationship's context over the request's.
 */
function ownValue(context: CaveatContext | undefined, name: string): unknown {
  return context !== undefined && Object.hasOwn(context, name) ? context[name] : undefined;
}

function partialOf(result: CelResult): Partial {
  if (typeof result === "boolean") return result;
  if (isCelError(result)) return new Failure(result.message);
  return new Failure(`expected a bool result, found ${describeValue(result)}`);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? "a non-bool value" : `${typeof value} ${String(value)}`;
}

function evaluateSkeleton(node: Skeleton, bindings: Bindings): Partial {
  switch (node.kind) {
    case "leaf": {
      let missing: Set<string> | undefined;
      for (const p of node.params) {
        if (bindings[p] !== undefined) continue;
        missing ??= new Set();
        missing.add(p);
      }
      return missing === undefined ? partialOf(node.program(bindings)) : new Unknown(missing);
    }
    case "and":
    case "or": {
      // The absorbing value decides regardless of the other side; then unknowns win over
      // errors, as in cel-go's evaluation of logical operators with unknowns.
      const absorbing = node.kind === "or";
      const left = evaluateSkeleton(node.left, bindings);
      if (left === absorbing) return absorbing;
      const right = evaluateSkeleton(node.right, bindings);
      if (right === absorbing) return absorbing;
      if (left instanceof Unknown || right instanceof Unknown) return mergeUnknown(left, right);
      if (left instanceof Failure) return left;
      if (right instanceof Failure) return right;
      return !absorbing;
    }
    case "not": {
      const operand = evaluateSkeleton(node.operand, bindings);
      return typeof operand === "boolean" ? !operand : operand;
    }
    case "conditional": {
      const test = evaluateSkeleton(node.test, bindings);
      if (test === true) return evaluateSkeleton(node.whenTrue, bindings);
      if (test === false) return evaluateSkeleton(node.whenFalse, bindings);
      return test;
    }
  }
}

function mergeUnknown(a: Partial, b: Partial): Unknown {
  if (!(a instanceof Unknown)) return b as Unknown;
  if (!(b instanceof Unknown)) return a;
  return new Unknown(new Set([...a.params, ...b.params]));
}

function skeletonOf(expr: CelExpr, params: ReadonlyMap<string, CaveatType>): Skeleton {
  const kind = expr.exprKind;
  if (kind.case === "callExpr" && kind.value.target === undefined) {
    const { function: fn, args } = kind.value;
    if ((fn === "_&&_" || fn === "_||_") && args.length === 2) {
      return {
        kind: fn === "_&&_" ? "and" : "or",
        left: skeletonOf(args[0]!, params),
        right: skeletonOf(args[1]!, params),
      };
    }
    if (fn === "!_" && args.length === 1) {
      return { kind: "not", operand: skeletonOf(args[0]!, params) };
    }
    if (fn === "_?_:_" && args.length === 3) {
      return {
        kind: "conditional",
        test: skeletonOf(args[0]!, params),
        whenTrue: skeletonOf(args[1]!, params),
        whenFalse: skeletonOf(args[2]!, params),
      };
    }
  }
  return {
    kind: "leaf",
    params: [...freeVariables(expr, params)],
    program: plan(caveatCelEnv, expr) as Program,
  };
}

/** The parameters an expression reads, not counting names bound by comprehensions. */
function freeVariables(expr: CelExpr, params: ReadonlyMap<string, unknown>): Set<string> {
  const found = new Set<string>();
  const bound: string[] = [];
  const visit = (e: CelExpr | undefined): void => {
    if (e === undefined) return;
    const kind = e.exprKind;
    switch (kind.case) {
      case "identExpr":
        if (params.has(kind.value.name) && !bound.includes(kind.value.name)) {
          found.add(kind.value.name);
        }
        return;
      case "selectExpr":
        visit(kind.value.operand);
        return;
      case "callExpr":
        visit(kind.value.target);
        for (const a of kind.value.args) visit(a);
        return;
      case "listExpr":
        for (const a of kind.value.elements) visit(a);
        return;
      case "structExpr":
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") visit(entry.keyKind.value);
          visit(entry.value);
        }
        return;
      case "comprehensionExpr": {
        const c = kind.value;
        visit(c.iterRange);
        visit(c.accuInit);
        bound.push(c.accuVar, c.iterVar);
        visit(c.loopCondition);
        visit(c.loopStep);
        bound.pop();
        visit(c.result);
        bound.pop();
        return;
      }
      default:
        return;
    }
  };
  visit(expr);
  return found;
}
