/**
 * The error vocabulary of Trellis. Every failure a caller can cause or observe is a
 * `TrellisError` whose `code` is one of the gRPC status names; the API layer maps codes to
 * gRPC statuses in exactly one table, so a new code fails to compile until it is mapped.
 */

/** Status names, spelled as gRPC spells them. */
export type TrellisErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "RESOURCE_EXHAUSTED"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "UNAVAILABLE"
  | "UNIMPLEMENTED"
  | "INTERNAL";

export interface TrellisErrorOptions {
  cause?: unknown;
  /** The request field the error is about (`resource.id`, `mutations[3].subject`), if any. */
  field?: string;
}

export class TrellisError extends Error {
  readonly code: TrellisErrorCode;
  readonly field: string | undefined;

  constructor(code: TrellisErrorCode, message: string, options: TrellisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.name = new.target.name;
  }
}

/** A position in source text; `line` and `column` count from 1, `offset` from 0 (UTF-16 units). */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** One problem found in a schema, with where it is. */
export interface SchemaDiagnostic {
  readonly message: string;
  readonly position: SourcePosition;
  /** The file, for a schema read from files (its imports); absent for text given directly. */
  readonly file?: string;
}

/**
 * A schema that does not parse or does not compile. Carries every problem found (the parser
 * recovers and keeps going); `line`/`column` are those of the first.
 */
export class SchemaError extends TrellisError {
  readonly diagnostics: readonly SchemaDiagnostic[];
  readonly line: number;
  readonly column: number;

  constructor(diagnostics: readonly SchemaDiagnostic[], options: TrellisErrorOptions = {}) {
    if (diagnostics.length === 0) throw new TypeError("SchemaError needs at least one diagnostic");
    const first = diagnostics[0]!;
    const rest = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : "";
    const file = first.file === undefined ? "" : `${first.file}:`;
    super(
      "INVALID_ARGUMENT",
      `${file}${first.position.line}:${first.position.column}: ${first.message}${rest}`,
      options,
    );
    this.diagnostics = diagnostics;
    this.line = first.position.line;
    this.column = first.position.column;
  }
}

/** A write whose precondition (or CREATE of an existing tuple) did not hold; nothing was applied. */
export class PreconditionFailedError extends TrellisError {
  constructor(message: string, options: TrellisErrorOptions = {}) {
    super("FAILED_PRECONDITION", message, options);
  }
}

/**
 * A CREATE of a relationship that already exists. FAILED_PRECONDITION like any failed
 * precondition; SpiceDB's face answers ALREADY_EXISTS, as SpiceDB does.
 */
export class RelationshipExistsError extends PreconditionFailedError {}

/**
 * A delete that matched more relationships than its limit, partial deletion not allowed; nothing
 * was deleted. SpiceDB's face answers INVALID_ARGUMENT, as SpiceDB does.
 */
export class DeleteLimitExceededError extends PreconditionFailedError {}

/**
 * A schema write refused because it would orphan stored relationships. SpiceDB's face answers
 * INVALID_ARGUMENT, as SpiceDB does.
 */
export class SchemaOrphansError extends PreconditionFailedError {}

/** A traversal deeper than the configured limit; the answer is unknown, never guessed. */
export class MaxDepthExceededError extends TrellisError {
  readonly depth: number;
  constructor(depth: number, message = `maximum evaluation depth ${depth} exceeded`) {
    super("RESOURCE_EXHAUSTED", message);
    this.depth = depth;
  }
}

/** Shorthand for the commonest caller mistake. */
export function invalidArgument(message: string, field?: string): TrellisError {
  return new TrellisError("INVALID_ARGUMENT", message, { field });
}

/**
 * A broken invariant: a bug in Trellis, never a caller's fault. Throws an INTERNAL error; tests
 * see the message, the API layer hides it behind a request id.
 */
export function bug(message: string): never {
  throw new TrellisError("INTERNAL", `bug: ${message}`);
}
