/**
 * What the benchmark harness asks of a system under test (Trellis on a store, SpiceDB): load a
 * schema and relationships, answer Check, CheckBulk, ListObjects and ListSubjects, close. Each
 * system runs in a process of its own (bench/system-run.ts), so the shape is deliberately
 * small: answers as plain strings and id lists, comparable across systems.
 */
import type { ObjectRef, Relationship, SubjectRef } from "../src/core/relationship.js";

export type Answer = "ALLOWED" | "DENIED" | "CONDITIONAL";

/** `minimize_latency` for timing (each system's default); `fully_consistent` to verify. */
export type BenchConsistency = "minimize_latency" | "fully_consistent";

export interface CheckItem {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
}

export interface LoadResult {
  /** Relationships written. */
  readonly imported: number;
  /** Relationships of the file left out, with the reason in `note`. */
  readonly skipped: number;
  readonly note?: string;
}

export interface SubjectsResult {
  /** Concrete subject ids with the permission, sorted. */
  readonly ids: string[];
  /** True when every subject of the type has it (a wildcard), minus `excluded`. */
  readonly wildcard: boolean;
  /** Sorted. */
  readonly excluded: string[];
}

export interface BenchSystem {
  /** `trellis-sqlite`, `trellis-postgres`, `spicedb`. */
  readonly name: string;
  /** Writes the schema, then the relationships as they are read. */
  load(schema: string, relationships: AsyncIterable<Relationship>): Promise<LoadResult>;
  /** Work the first request would otherwise pay for after a load (Trellis: its index). */
  prepare(): Promise<void>;
  check(item: CheckItem, consistency: BenchConsistency): Promise<Answer>;
  checkBulk(items: readonly CheckItem[], consistency: BenchConsistency): Promise<Answer[]>;
  /** Ids of the objects of `resourceType` on which `subject` has `permission`, sorted. */
  listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectRef,
    consistency: BenchConsistency,
  ): Promise<string[]>;
  listSubjects(
    resource: ObjectRef,
    permission: string,
    subjectType: string,
    consistency: BenchConsistency,
  ): Promise<SubjectsResult>;
  close(): Promise<void>;
}

/** Numeric ids sort as numbers, the rest as strings (the dataset's ids are decimal). */
export function sortIds(ids: string[]): string[] {
  return ids.sort((a, b) => {
    const x = Number(a);
    const y = Number(b);
    if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}
