/**
 * Three-valued results and the set logic over them. A sub-problem is ALLOWED, DENIED, or
 * CONDITIONAL on caveat parameters the request did not give; CONDITIONAL carries their names.
 * The connectives are Kleene's strong logic (what partial evaluation of the caveat expression
 * gives), each with its short-circuit rule.
 */

export const DENIED = 0;
export const CONDITIONAL = 1;
export const ALLOWED = 2;

export interface Decided {
  readonly value: typeof DENIED | typeof ALLOWED;
}

export interface Conditional {
  readonly value: typeof CONDITIONAL;
  /** Names of the caveat parameters whose absence leaves the answer open, sorted, unique. */
  readonly missing: readonly string[];
}

export type Outcome = Decided | Conditional;

export const ALLOW: Decided = Object.freeze({ value: ALLOWED });
export const DENY: Decided = Object.freeze({ value: DENIED });

export function conditional(missing: readonly string[]): Conditional {
  return { value: CONDITIONAL, missing: [...new Set(missing)].sort() };
}

function mergeMissing(a: Conditional, b: Conditional): Conditional {
  if (a.missing === b.missing) return a;
  return conditional([...a.missing, ...b.missing]);
}

/** `a + b`: ALLOWED if either is; DENIED only if both are. */
export function union(a: Outcome, b: Outcome): Outcome {
  if (a.value === ALLOWED || b.value === DENIED) return a;
  if (b.value === ALLOWED || a.value === DENIED) return b;
  return mergeMissing(a as Conditional, b as Conditional);
}

/** `a & b`: DENIED if either is; ALLOWED only if both are. */
export function intersection(a: Outcome, b: Outcome): Outcome {
  if (a.value === DENIED || b.value === ALLOWED) return a;
  if (b.value === DENIED || a.value === ALLOWED) return b;
  return mergeMissing(a as Conditional, b as Conditional);
}

/** `a - b`: DENIED if `a` is DENIED or `b` is ALLOWED; `a` when `b` is DENIED. */
export function exclusion(a: Outcome, b: Outcome): Outcome {
  if (a.value === DENIED || b.value === ALLOWED) return DENY;
  if (b.value === DENIED) return a;
  if (a.value === ALLOWED) return b; // b conditional: allowed exactly when b turns out denied
  return mergeMissing(a as Conditional, b as Conditional);
}
