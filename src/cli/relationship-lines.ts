/**
 * The JSON-lines files of `trellis import` and `trellis backup`: one JSON value a line, each
 * either a relationship — the tuple string (`"document:1#viewer@user:a"`) or an object with a
 * `relationship` tuple string (what `relationship read --json` and `backup create` print) — or
 * an object with a `schema` text (a backup's first line). Blank lines are skipped. A line that
 * does not read is INVALID_ARGUMENT naming the file and line (content, not the command line).
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { invalidArgument } from "../core/errors.js";
import { parseRelationship, type Relationship } from "../core/relationship.js";
import { UsageError } from "./serve-command.js";

export type RelationshipLine =
  | { readonly kind: "relationship"; readonly relationship: Relationship }
  | { readonly kind: "schema"; readonly schema: string; readonly header: Record<string, unknown> };

/** The format version a backup's first line carries. */
export const BACKUP_FORMAT = 1;

export function parseRelationshipLine(text: string, where: string): RelationshipLine | undefined {
  const line = text.trim();
  if (line === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw invalidArgument(`${where}: not a JSON line`);
  }
  try {
    if (typeof value === "string") {
      return { kind: "relationship", relationship: parseRelationship(value) };
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const object = value as Record<string, unknown>;
      if (typeof object.relationship === "string") {
        return { kind: "relationship", relationship: parseRelationship(object.relationship) };
      }
      if (typeof object.schema === "string") {
        return { kind: "schema", schema: object.schema, header: object };
      }
    }
  } catch (err) {
    throw invalidArgument(`${where}: ${(err as Error).message}`);
  }
  throw invalidArgument(
    `${where}: expected a tuple string, {"relationship": "…"} or {"schema": "…"}`,
  );
}

/** The lines of a file (`-`: the given stdin lines), numbered from 1. */
export async function* fileLines(
  path: string,
  stdinLines: (() => AsyncIterable<string>) | undefined,
): AsyncGenerator<{ line: string; n: number }> {
  let source: AsyncIterable<string>;
  if (path === "-") {
    if (stdinLines === undefined) throw new UsageError("- reads stdin, but stdin is a terminal");
    source = stdinLines();
  } else {
    const input = createReadStream(path, { encoding: "utf8" });
    // Surface a missing file as its error, not as an unhandled stream event.
    await new Promise<void>((resolve, reject) => {
      input.once("open", () => resolve());
      input.once("error", reject);
    });
    source = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  }
  let n = 0;
  for await (const line of source) yield { line, n: ++n };
}

/** How many non-blank lines a file has (for a progress bar's total); undefined for stdin. */
export async function countLines(path: string): Promise<number | undefined> {
  if (path === "-") return undefined;
  let n = 0;
  for await (const { line } of fileLines(path, undefined)) if (line.trim() !== "") n++;
  return n;
}
