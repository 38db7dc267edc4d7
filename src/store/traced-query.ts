/**
 * The span of one store call (a statement, a transaction of several, or a call of the memory
 * engine), for every engine: the engine, the operation's name and the rows it returned. Never
 * the SQL's values, the rows themselves or the connection string. A call made outside every
 * span (index loads, changelog polls, GC) starts none.
 */
import { SPAN_ATTRIBUTES, traced } from "../core/tracing.js";

/** Rows in a store call's result: a list's length, or a page's relationships. */
function rowsOf(result: unknown): number | undefined {
  if (Array.isArray(result)) return result.length;
  if (typeof result === "object" && result !== null && "relationships" in result) {
    const rows = (result as { relationships: unknown }).relationships;
    if (Array.isArray(rows)) return rows.length;
  }
  return undefined;
}

/** Runs a store call in its span. Call only with `tracing.enabled`. */
export function tracedQuery<T>(
  system: "sqlite" | "postgresql" | "memory",
  operation: string,
  run: () => Promise<T>,
): Promise<T> {
  return traced(
    `store.${operation}`,
    {
      kind: "client",
      parent: "active-only",
      attributes: { [SPAN_ATTRIBUTES.dbSystem]: system, [SPAN_ATTRIBUTES.dbOperation]: operation },
    },
    run,
    (span, result) => {
      const rows = rowsOf(result);
      if (rows !== undefined) span.setAttribute(SPAN_ATTRIBUTES.rows, rows);
    },
  );
}
