/**
 * The memory budget a process on this machine gives the engine's indexes when none is
 * configured: read from Node (`node:os`, `node:v8`), so it lives apart from the engine, which
 * also runs in browsers. The CLI and the embedded `Trellis` pass it as `memoryBudgetBytes`.
 */
import { totalmem } from "node:os";
import { getHeapStatistics } from "node:v8";

/** A quarter of the machine's memory, and at most half of the V8 heap limit. */
export function defaultMemoryBudget(): number {
  return Math.floor(Math.min(totalmem() / 4, getHeapStatistics().heap_size_limit / 2));
}
