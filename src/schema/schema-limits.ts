/**
 * The bounds on a schema, so that no schema text can overflow the stack of a pass over its
 * tree or hold the event loop while it is checked: ValidateSchema needs only `read` scope, so
 * these hold for anyone who can call it. Every pass over a schema's tree (parser, compiler,
 * formatter, diff, the engine's compiled form and its reverse graph) may recurse along an
 * expression, and an expression's tree is at most `MAX_PERMISSION_TERMS +
 * MAX_EXPRESSION_NESTING` deep; passes whose depth would grow with the number of definitions
 * or members (userset chains, permission references) are iterative.
 *
 * Measured on the development machine (two cores shared with other work, so the fastest of
 * repeated runs, warm): 256 KiB of realistic definitions (600 resource types with relations,
 * arrows and exclusions, as the test of the limits builds them) parse and compile in 30–50 ms,
 * and the engine's compiled form and reverse graph add 10–20 ms. Caveats cost more per byte,
 * so their number and their total text are bounded here (each expression's own bounds are in
 * `caveat-limits.ts`, its length below this total): 31 caveats sharing 16 KiB of CEL compile
 * in about 25 ms. A schema at every limit at once compiles in about 85 ms; the first one a
 * process compiles takes about twice that (the JIT is cold).
 */

/** Largest schema text, in UTF-8 bytes, with everything it imports. */
export const MAX_SCHEMA_BYTES = 256 * 1024;

/** Most definitions, caveats and partials in one schema, with everything it imports. */
export const MAX_SCHEMA_ITEMS = 1_000;

/** Most caveats in one schema (each is compiled and costed: about half a millisecond). */
export const MAX_CAVEATS = 32;

/** Most characters of caveat expressions (CEL) in one schema, all caveats together. */
export const MAX_CAVEAT_TEXT = 16 * 1024;

/**
 * Most operands (relations, permissions, arrows, `nil`, `self`) in one permission's
 * expression: a chain `a + b + …` nests one level per operator.
 */
export const MAX_PERMISSION_TERMS = 256;

/** Deepest nesting of parentheses in a permission, and of type arguments in a caveat. */
export const MAX_EXPRESSION_NESTING = 50;

/** Most files one schema may import, directly or through other imports. */
export const MAX_IMPORTED_FILES = 500;
