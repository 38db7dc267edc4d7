/**
 * The exit codes of `trellis`, and the one function that turns a failure into a message and
 * one of them. A user's mistake is one line on stderr (a JSON line under `--json`), never a
 * stack trace; only a bug prints a stack.
 */
import { CommanderError } from "commander";
import { SchemaError, TrellisError, type TrellisErrorCode } from "../core/errors.js";
import type { Output } from "./schema-command.js";
import { UsageError } from "./serve-command.js";

export const EXIT = {
  /** Done; a question was answered (whatever the answer, unless asked otherwise). */
  OK: 0,
  /**
   * A negative outcome the command reports as failure: a failed validation or format check,
   * a check without permission under `--error-on-no-permission` (as zed does).
   */
  NEGATIVE: 1,
  /** The command line is wrong: unknown command or flag, bad argument, unreadable input file. */
  USAGE: 2,
  /** The server or datastore refused or failed the operation, or the datastore is missing. */
  FAILED: 3,
  /** The server or datastore could not be reached in time (UNAVAILABLE, DEADLINE_EXCEEDED). */
  UNAVAILABLE: 4,
  /** The credentials were refused (UNAUTHENTICATED) or lack the scope (PERMISSION_DENIED). */
  REFUSED: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const EXIT_BY_CODE = {
  INVALID_ARGUMENT: EXIT.FAILED,
  NOT_FOUND: EXIT.FAILED,
  ALREADY_EXISTS: EXIT.FAILED,
  FAILED_PRECONDITION: EXIT.FAILED,
  ABORTED: EXIT.FAILED,
  RESOURCE_EXHAUSTED: EXIT.FAILED,
  CANCELLED: EXIT.FAILED,
  UNIMPLEMENTED: EXIT.FAILED,
  INTERNAL: EXIT.FAILED,
  UNAVAILABLE: EXIT.UNAVAILABLE,
  DEADLINE_EXCEEDED: EXIT.UNAVAILABLE,
  UNAUTHENTICATED: EXIT.REFUSED,
  PERMISSION_DENIED: EXIT.REFUSED,
} as const satisfies Record<TrellisErrorCode, ExitCode>;

/** File-system failures a user causes (a wrong path, a directory, no permission). */
const USER_FILE_ERRORS = new Set([
  "ENOENT",
  "ENOTDIR",
  "EISDIR",
  "EACCES",
  "EPERM",
  "EEXIST",
  "EROFS",
  "ENOSPC",
  "ELOOP",
  "ENAMETOOLONG",
]);

/** The exit code and the text (or JSON) of a failure. */
export function describeFailure(err: unknown): {
  code: ExitCode;
  errorCode: string;
  message: string;
  bug: boolean;
} {
  if (err instanceof CommanderError) {
    return { code: EXIT.USAGE, errorCode: "USAGE", message: err.message, bug: false };
  }
  if (err instanceof UsageError || err instanceof TypeError) {
    return { code: EXIT.USAGE, errorCode: "USAGE", message: err.message, bug: false };
  }
  if (err instanceof TrellisError) {
    return { code: EXIT_BY_CODE[err.code], errorCode: err.code, message: err.message, bug: false };
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno === "string" && USER_FILE_ERRORS.has(errno)) {
    return { code: EXIT.FAILED, errorCode: errno, message: (err as Error).message, bug: false };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: EXIT.FAILED, errorCode: "INTERNAL", message, bug: true };
}

/**
 * Prints a failure as `trellis: CODE: message` (or `{"error":{…}}` with `json`) and returns
 * its exit code. A bug (an error no user input explains) also prints its stack.
 */
export function reportFailure(err: unknown, io: Output, json = false): ExitCode {
  const failure = describeFailure(err);
  const diagnostics =
    err instanceof SchemaError
      ? err.diagnostics.map((d) => ({
          ...(d.file !== undefined ? { file: d.file } : {}),
          line: d.position.line,
          column: d.position.column,
          message: d.message,
        }))
      : undefined;
  if (json) {
    io.err(
      `${JSON.stringify({
        error: {
          code: failure.errorCode,
          message: failure.message,
          exitCode: failure.code,
          ...(diagnostics !== undefined ? { diagnostics } : {}),
        },
      })}\n`,
    );
  } else if (diagnostics !== undefined) {
    // As `schema validate` prints them: FILE:line:col: message, one a line.
    for (const d of diagnostics) {
      io.err(
        `${d.file === undefined ? "schema:" : `${d.file}:`}${d.line}:${d.column}: ${d.message}\n`,
      );
    }
  } else if (failure.errorCode === "USAGE") {
    io.err(`trellis: ${failure.message}\n`);
  } else {
    io.err(`trellis: ${failure.errorCode}: ${failure.message}\n`);
  }
  if (failure.bug && err instanceof Error && err.stack !== undefined) io.err(`${err.stack}\n`);
  return failure.code;
}
