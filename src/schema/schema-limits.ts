/**
 * The bounds on a schema, so that no schema text can overflow the stack of a pass over its
 * tree or hold the event loop while it is checked: ValidateSchema needs only `read` scope, so
 * these hold for anyone who can call it. Every pass over a schema's tree (parser, compiler,
 * formatter, diff, the engine's compiled form and its reverse graph) may recurse along an
 * expression, and an expression's tree is at most `MAX_PERMISSION_TERMS +
 * MAX_EXPRESSION_NESTING` deep; passes whose depth would grow with the number of definitions
 * or members (userset chains, permission references) are iterative.
 *
 * Measured as CPU time on the development machine (two shared cores; the test suite's schema
 * at the size limit is `test/schema-limits.test.ts`): 256 KiB of realistic definitions (640
 * resource types with relations, arrows and exclusions) parse in about 20 ms and compile in
 * about 20 ms (25 ms under `use typechecking`); the engine's compiled form and reverse graph
 * add 5–15 ms. Caveats cost far more per byte: compiling and costing one takes about 1 ms plus
 * about 3.5 ms per KiB of CEL, so their number and their total text are bounded here (each
 * expression's own bounds are in `caveat-limits.ts`): at both limits, about 90 ms.
 */

/** Largest schema text, in UTF-8 bytes, with everything it imports. */
export const MAX_SCHEMA_BYTES = 256 * 1024;

/** Most definitions, caveats and partials in one schema, with everything it imports. */
export const MAX_SCHEMA_ITEMS = 1_000;

/** Most caveats in one schema (each is compiled and costed: about 1 ms). */
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
