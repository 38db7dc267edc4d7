/**
 * `schema/` owns the schema language — lexer, parser, syntax tree, compiler to the type system
 * the engine evaluates, caveat (CEL) compilation and the formatter. It imports only `core/`.
 */
export * from "./ast.js";
export type { CaveatResult, CompiledCaveat } from "./caveat.js";
export { compileSchema, compileSchemaText, KNOWN_FEATURES } from "./compiler.js";
export { formatSchema } from "./formatter.js";
export { type ParseResult, parseSchema } from "./parser.js";
export * from "./types.js";
