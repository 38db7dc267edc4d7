/**
 * The browser's entry (`trellis` in the playground): the schema language, the engine on the
 * in-memory store and the validation-file format, which run without Node. Everything this
 * file reaches stays free of `node:` modules and Node-only packages (`.dependency-cruiser.cjs`,
 * rule `browser-entry-runs-without-node`), so the page evaluates with the very code a server
 * runs. It may import what `src/index.ts` may, except `store/open.ts` and the files that read
 * the file system or the machine.
 */

export {
  type SchemaDiagnostic,
  SchemaError,
  type SourcePosition,
  TrellisError,
  type TrellisErrorCode,
} from "./core/errors.js";
export type { CheckTrace, ExpandedSubject, Permissionship } from "./core/permission.js";
export {
  type CaveatContext,
  type CaveatRef,
  formatObjectRef,
  formatRelationship,
  formatSubjectRef,
  type ObjectRef,
  parseObjectRef,
  parseRelationship,
  parseSubjectRef,
  type Relationship,
  type SubjectRef,
} from "./core/relationship.js";
export type { TenantId, Zookie } from "./core/revision.js";
export { Engine, type EngineOptions } from "./engine/engine.js";
export type { TraceNode } from "./engine/evaluator.js";
export {
  type Assertion,
  parseValidationText,
  runValidationFile,
  updateValidationBlock,
  type ValidationFailure,
  type ValidationFile,
  type ValidationReport,
} from "./engine/validation-document.js";
export type { SchemaAst } from "./schema/ast.js";
export { compileSchema } from "./schema/compiler.js";
export { formatSchema } from "./schema/formatter.js";
export { Lexer, type Token, type TokenKind } from "./schema/lexer.js";
export { parseSchema } from "./schema/parser.js";
export type { CompiledSchema, Rewrite } from "./schema/types.js";
export { MemoryDatastore } from "./store/memory/index.js";
