/**
 * One tenant of the memory engine: its tuple rows with their MVCC marks, the indexes that
 * answer each read shape, its changelog, schema versions and commit times. Everything here is
 * synchronous, so a call that runs it start to finish is a transaction: nothing interleaves.
 */
import { ELLIPSIS, type Relationship, type Revision } from "../../core/index.js";
import { checkChangelogReadable, checkReadable } from "../argument-checks.js";
import {
  assembleChanges,
  type ChangeRow,
  type CommitTimeRow,
  revisionSpan,
  rowToChange,
  withCommitTimes,
} from "../assemble-changes.js";
import type { ChangeEvent } from "../changelog.js";
import { FILTER_COLUMNS, type NormalizedFilter } from "../relationship-filter.js";
import type { StoredSchema } from "../schema-store.js";
import { compareRows, compareRowToKey, compareRowToPrefix, compareUtf8 } from "../stable-order.js";
import type { StoreStats } from "../store-maintenance.js";
import { type IdentityKey, type TupleRow, tupleValues } from "../tuple-row.js";
import type { LiveRow, WritePlan } from "../write-planner.js";
import { lowerBound, SortedList } from "./sorted-list.js";

/**
 * A tuple row: one version of a tuple, from the revision that created it to the one that ended
 * it (deleted or replaced), as the SQL engines keep it.
 */
export interface MemoryRow extends TupleRow {
  /** The tuple's identity (`identityString`): its key in the live map. */
  readonly key: string;
  readonly expires_at: number | null;
  readonly created_rev: Revision;
  /** Its TOUCH entry's position in the changelog of `created_rev`. */
  readonly created_seq: number;
  deleted_rev: Revision | null;
  /** Its DELETE entry's position; null while live, or when an insert replaced it. */
  deleted_seq: number | null;
}

/** One tuple change of the changelog: a row's creation (TOUCH) or deletion (DELETE). */
interface LogEntry {
  readonly rev: Revision;
  readonly seq: number;
  readonly op: "TOUCH" | "DELETE";
  readonly row: MemoryRow;
}

/** A schema version. */
interface SchemaVersion {
  readonly rev: Revision;
  readonly text: string;
}

/** What one tenant's gc removed. */
export interface TenantGcCounts {
  readonly relationships: number;
  readonly revisions: number;
  readonly schemas: number;
}

/**
 * A tuple's identity as one string: the stable-order columns joined by NUL, which no stored
 * string holds (validation refuses it everywhere).
 */
function identityString(rel: Relationship): string {
  const { resource, subject } = rel;
  return `${resource.type}\0${resource.id}\0${rel.relation}\0${subject.type}\0${subject.id}\0${subject.relation ?? ELLIPSIS}`;
}

/** True when `row` is in the snapshot at `revision` and has not expired at `now`. */
function visible(row: MemoryRow, revision: Revision, now: number): boolean {
  return (
    row.created_rev <= revision &&
    (row.deleted_rev === null || row.deleted_rev > revision) &&
    (row.expires_at === null || row.expires_at > now)
  );
}

/** Versions of one tuple sort by their creation, after the stable order of tuples. */
function compareVersions(a: MemoryRow, b: MemoryRow): number {
  return compareRows(a, b) || a.created_rev - b.created_rev;
}

/** The reverse read's order: by resource id, then versions by creation. */
function byResourceId(a: MemoryRow, b: MemoryRow): number {
  return compareUtf8(a.resource_id, b.resource_id) || a.created_rev - b.created_rev;
}

/**
 * The rows of one subject id under one resource type and relation, every version: appended as
 * written and sorted by resource id when read after a write that broke that order (sorting
 * mostly sorted rows is cheap).
 */
class SubjectRows {
  readonly rows: MemoryRow[] = [];
  #sorted = true;

  add(row: MemoryRow): void {
    const last = this.rows[this.rows.length - 1];
    if (last !== undefined && byResourceId(last, row) > 0) this.#sorted = false;
    this.rows.push(row);
  }

  sorted(): readonly MemoryRow[] {
    if (!this.#sorted) {
      this.rows.sort(byResourceId);
      this.#sorted = true;
    }
    return this.rows;
  }

  /** Removes every row of `gone`; the order of the rest is kept. */
  remove(gone: ReadonlySet<MemoryRow>): void {
    let kept = 0;
    for (const row of this.rows) if (!gone.has(row)) this.rows[kept++] = row;
    this.rows.length = kept;
  }
}

/**
 * The reverse index: resource type → relation → subject id → rows. Nested maps rather than one
 * map of joined keys, so that neither a write nor a read builds a key string.
 */
type ReverseIndex = Map<string, Map<string, Map<string, SubjectRows>>>;

/** The stable-order columns a filter can fix, in order, after the resource type. */
const COLUMNS = FILTER_COLUMNS.slice(1);
type IdentityColumn = (typeof FILTER_COLUMNS)[number][1];

/**
 * How a filter scans a type's rows: the leading run of fields it fixes bounds the range (as an
 * index prefix does in SQL; `compareRowToPrefix`), the fields it fixes after a gap are checked
 * row by row.
 */
interface FilterScan {
  readonly prefix: readonly string[];
  readonly rest: readonly (readonly [IdentityColumn, string])[];
}

function filterScan(filter: NormalizedFilter | undefined): FilterScan {
  const prefix: string[] = [];
  const rest: [IdentityColumn, string][] = [];
  let leading = true;
  for (const [field, column] of COLUMNS) {
    const value = filter?.[field];
    if (value === undefined) leading = false;
    else if (leading) prefix.push(value);
    else rest.push([column, value]);
  }
  return { prefix, rest };
}

export class MemoryTenant {
  #head: Revision = 0;
  /** The oldest readable revision (gc's horizon). */
  #gcRev: Revision = 0;
  /** Commit times (epoch ms) of the revisions from `#timesBase` to head. */
  #commitTimes: number[] = [];
  #timesBase: Revision = 1;
  /** Schema versions in revision order. */
  #schemas: SchemaVersion[] = [];
  /** Tuple changes in (revision, seq) order. */
  #log: LogEntry[] = [];
  #rowCount = 0;

  /** Each tuple's live (not ended) row, by `identityString`; expired rows included. */
  readonly #live = new Map<string, MemoryRow>();
  /**
   * Every row by resource type, in stable order: forward reads, filtered reads, export,
   * deletes and guards.
   */
  readonly #byType = new Map<string, SortedList<MemoryRow>>();
  /** The type names of `#byType` in byte order, made again after a type comes or goes. */
  #typeNames: string[] | undefined;
  /** Rows by resource type, relation and subject id: the reverse read. */
  readonly #reverse: ReverseIndex = new Map();
  /** Ended rows in the order they ended (so by `deleted_rev`): what gc removes first. */
  #ended: MemoryRow[] = [];
  /** Live rows with an expiration: what gc may remove once they expire. */
  readonly #expiring = new Set<MemoryRow>();

  get head(): Revision {
    return this.#head;
  }

  /** Throws unless `revision` can be read (see `checkReadable`). */
  checkReadable(revision: Revision): void {
    checkReadable(revision, this.#head, this.#gcRev);
  }

  // ---- reads -----------------------------------------------------------------------------

  /**
   * The forward read: the tuples `type:id#relation@…` at `revision`, by subject (a range of
   * the type's rows in stable order).
   */
  readByResource(filter: NormalizedFilter, revision: Revision, now: number): MemoryRow[] {
    return this.page(filter, undefined, revision, now, Number.POSITIVE_INFINITY);
  }

  /** The reverse read: the tuples `type:…#relation@subject` at `revision`, by resource id. */
  readBySubject(filter: NormalizedFilter, revision: Revision, now: number): MemoryRow[] {
    const rows = this.#reverse
      .get(filter.resourceType)
      ?.get(filter.relation!)
      ?.get(filter.subjectId!)
      ?.sorted();
    const out: MemoryRow[] = [];
    for (const row of rows ?? []) {
      if (
        row.subject_type === filter.subjectType &&
        row.subject_relation === filter.subjectRelation &&
        visible(row, revision, now)
      ) {
        out.push(row);
      }
    }
    return out;
  }

  /**
   * Up to `limit` rows matching `filter` (every row without one) at `revision`, in stable
   * order after the identity `after`.
   */
  page(
    filter: NormalizedFilter | undefined,
    after: IdentityKey | undefined,
    revision: Revision,
    now: number,
    limit: number,
  ): MemoryRow[] {
    const out: MemoryRow[] = [];
    const { prefix, rest } = filterScan(filter);
    const before = (row: MemoryRow) =>
      compareRowToPrefix(row, prefix) < 0 ||
      (after !== undefined && compareRowToKey(row, after) <= 0);
    const visit = (row: MemoryRow): boolean => {
      if (compareRowToPrefix(row, prefix) > 0) return false;
      for (const [column, value] of rest) if (row[column] !== value) return true;
      if (visible(row, revision, now)) out.push(row);
      return out.length < limit;
    };
    for (const type of filter === undefined ? this.#sortedTypes() : [filter.resourceType]) {
      if (after !== undefined && compareUtf8(type, after[0]) < 0) continue;
      this.#byType.get(type)?.scan(before, visit);
      if (out.length === limit) break;
    }
    return out;
  }

  /** How many tuples match `filter` at head and have not expired, counting up to `limit`. */
  countPresent(filter: NormalizedFilter, now: number, limit = Number.POSITIVE_INFINITY): number {
    return this.page(filter, undefined, this.#head, now, limit).length;
  }

  /** The live row of `rel`'s tuple, as the write planner takes it; expired rows included. */
  liveRow(rel: Relationship): LiveRow<MemoryRow> | undefined {
    const row = this.#live.get(identityString(rel));
    if (row === undefined) return undefined;
    return {
      id: row,
      expiresAt: row.expires_at,
      createdRev: row.created_rev,
      createdSeq: row.created_seq,
    };
  }

  /** The rows of a resource type, an empty list for a new type. */
  #typeRows(type: string): SortedList<MemoryRow> {
    let rows = this.#byType.get(type);
    if (rows === undefined) {
      rows = new SortedList(compareVersions);
      this.#byType.set(type, rows);
      this.#typeNames = undefined;
    }
    return rows;
  }

  #sortedTypes(): readonly string[] {
    this.#typeNames ??= [...this.#byType.keys()].sort(compareUtf8);
    return this.#typeNames;
  }

  // ---- writes ----------------------------------------------------------------------------

  /**
   * Carries out a plan as the next revision, committed at `now`: ends first, then inserts,
   * their changelog entries in seq order. Returns the revision.
   */
  apply(plan: WritePlan<MemoryRow>, now: number): Revision {
    const revision = this.#head + 1;
    const entries: LogEntry[] = [];
    for (const { id: row, seq } of plan.ends) {
      row.deleted_rev = revision;
      row.deleted_seq = seq;
      this.#live.delete(row.key);
      this.#expiring.delete(row);
      this.#ended.push(row);
      if (seq !== null) entries.push({ rev: revision, seq, op: "DELETE", row });
    }
    const byType = new Map<string, MemoryRow[]>();
    for (const { relationship, seq } of plan.inserts) {
      const row = this.#insert(relationship, revision, seq);
      entries.push({ rev: revision, seq, op: "TOUCH", row });
      let rows = byType.get(row.resource_type);
      if (rows === undefined) {
        rows = [];
        byType.set(row.resource_type, rows);
      }
      rows.push(row);
    }
    for (const [type, rows] of byType) this.#typeRows(type).insertAll(rows);
    entries.sort((a, b) => a.seq - b.seq);
    for (const entry of entries) this.#log.push(entry);
    this.#commit(revision, now);
    return revision;
  }

  /** Stores a schema version as the next revision, committed at `now`; returns the revision. */
  writeSchema(text: string, now: number): Revision {
    const revision = this.#head + 1;
    this.#schemas.push({ rev: revision, text });
    this.#commit(revision, now);
    return revision;
  }

  #commit(revision: Revision, now: number): void {
    this.#commitTimes.push(now);
    this.#head = revision;
  }

  /**
   * Makes the row of `rel` and indexes it, but for the type's sorted rows, where `apply` adds a
   * write's rows together.
   */
  #insert(rel: Relationship, revision: Revision, seq: number): MemoryRow {
    const [type, id, relation, subjectType, subjectId, subjectRelation, caveat, context, expires] =
      tupleValues(rel);
    const row: MemoryRow = {
      key: `${type}\0${id}\0${relation}\0${subjectType}\0${subjectId}\0${subjectRelation}`,
      resource_type: type,
      resource_id: id,
      relation,
      subject_type: subjectType,
      subject_id: subjectId,
      subject_relation: subjectRelation,
      caveat_name: caveat,
      caveat_context: context,
      expires_at: expires,
      created_rev: revision,
      created_seq: seq,
      deleted_rev: null,
      deleted_seq: null,
    };
    this.#live.set(row.key, row);
    if (row.expires_at !== null) this.#expiring.add(row);
    reverseRows(this.#reverse, type, relation, subjectId).add(row);
    this.#rowCount++;
    return row;
  }

  // ---- schema, revisions and changelog ---------------------------------------------------

  /** The newest schema at or before `revision` (readable, checked by the caller). */
  readSchema(revision: Revision): StoredSchema | undefined {
    for (let i = this.#schemas.length - 1; i >= 0; i--) {
      const schema = this.#schemas[i]!;
      if (schema.rev <= revision) return { text: schema.text, revision: schema.rev };
    }
    return undefined;
  }

  /**
   * The newest revision committed at or before `instant`, never below the oldest readable
   * one; 0 when the tenant had no write by then.
   */
  headAt(instant: number): Revision {
    for (let rev = this.#head; rev >= this.#timesBase; rev--) {
      if (this.#commitTimes[rev - this.#timesBase]! <= instant) return Math.max(rev, this.#gcRev);
    }
    return this.#gcRev;
  }

  /** `Changelog.changesSince`, assembled and cut by the engines' shared rules. */
  changesSince(afterRevision: Revision, limit: number): ChangeEvent[] {
    checkChangelogReadable(afterRevision, this.#head, this.#gcRev);
    const log = this.#log;
    const start = lowerBound(log, (entry) => entry.rev <= afterRevision);
    const rows = log.slice(start, start + limit).map(changeRow);
    const first = lowerBound(this.#schemas, (schema) => schema.rev <= afterRevision);
    const schemas = this.#schemas.slice(first, first + limit);
    const { events, completeAfter } = assembleChanges(rows, schemas, limit);
    if (completeAfter !== undefined) {
      for (let i = start + limit; i < log.length && log[i]!.rev === completeAfter.rev; i++) {
        events.push(rowToChange(changeRow(log[i]!)));
      }
    }
    const span = revisionSpan(events);
    if (span === undefined) return [];
    const times: CommitTimeRow[] = [];
    for (let rev = span.first; rev <= span.last; rev++) {
      times.push({ rev, committed_at: this.#commitTimes[rev - this.#timesBase]! });
    }
    return withCommitTimes(events, times);
  }

  // ---- maintenance -----------------------------------------------------------------------

  /**
   * `StoreMaintenance.gc` for this tenant at `now`: undefined when the oldest readable revision
   * does not move.
   */
  gc(now: number, olderThanMs: number): TenantGcCounts | undefined {
    const cutoff = now - olderThanMs;
    let horizon: Revision | undefined;
    for (let rev = this.#head; rev >= this.#timesBase; rev--) {
      if (this.#commitTimes[rev - this.#timesBase]! < cutoff) {
        horizon = rev;
        break;
      }
    }
    if (horizon === undefined || horizon <= this.#gcRev) return undefined;
    this.#gcRev = horizon;

    const gone = new Set<MemoryRow>();
    let ended = 0;
    while (ended < this.#ended.length && this.#ended[ended]!.deleted_rev! <= horizon) {
      gone.add(this.#ended[ended++]!);
    }
    this.#ended = this.#ended.slice(ended);
    // Expired rows are invisible at every revision from now on; those created at or before
    // the horizon carry no changelog entry a follower could still need.
    for (const row of this.#expiring) {
      if (row.expires_at! <= now && row.created_rev <= horizon) {
        gone.add(row);
        this.#expiring.delete(row);
        this.#live.delete(row.key);
      }
    }
    this.#unindex(gone);
    this.#rowCount -= gone.size;
    this.#log = this.#log.slice(lowerBound(this.#log, (entry) => entry.rev <= horizon));

    const revisions = Math.max(0, horizon - this.#timesBase);
    this.#commitTimes = this.#commitTimes.slice(revisions);
    this.#timesBase += revisions;

    // Every schema version superseded at or before the horizon; the one in force stays.
    const inForce = lowerBound(this.#schemas, (schema) => schema.rev <= horizon) - 1;
    const schemas = Math.max(0, inForce);
    this.#schemas = this.#schemas.slice(schemas);
    return { relationships: gone.size, revisions, schemas };
  }

  /** Takes `gone` out of every index. */
  #unindex(gone: ReadonlySet<MemoryRow>): void {
    const byType = new Map<string, Set<MemoryRow>>();
    /** The reverse index's rows that lose some, each with one of its rows (for its keys). */
    const subjects = new Map<SubjectRows, MemoryRow>();
    for (const row of gone) {
      let rows = byType.get(row.resource_type);
      if (rows === undefined) {
        rows = new Set();
        byType.set(row.resource_type, rows);
      }
      rows.add(row);
      subjects.set(
        reverseRows(this.#reverse, row.resource_type, row.relation, row.subject_id),
        row,
      );
    }
    for (const [type, rows] of byType) {
      const list = this.#byType.get(type)!;
      // One pass over the type's rows when many go; a search per row when few do.
      if (rows.size * 16 > list.size) list.deleteAll(rows);
      else for (const row of rows) list.delete(row);
      if (list.size === 0) {
        this.#byType.delete(type);
        this.#typeNames = undefined;
      }
    }
    for (const [rows, { resource_type: type, relation, subject_id: id }] of subjects) {
      rows.remove(gone);
      if (rows.rows.length > 0) continue;
      // Drop the maps left empty, from the subject id up.
      const relations = this.#reverse.get(type)!;
      const ids = relations.get(relation)!;
      ids.delete(id);
      if (ids.size > 0) continue;
      relations.delete(relation);
      if (relations.size === 0) this.#reverse.delete(type);
    }
  }

  /** Row counts for `StoreMaintenance.stats`. */
  stats(): Omit<StoreStats, "tenants"> {
    return {
      relationshipRows: this.#rowCount,
      liveRelationships: this.#live.size,
      revisions: this.#commitTimes.length,
      schemas: this.#schemas.length,
    };
  }
}

/** The reverse index's rows of one subject id, created when missing. */
function reverseRows(
  index: ReverseIndex,
  type: string,
  relation: string,
  subjectId: string,
): SubjectRows {
  let relations = index.get(type);
  if (relations === undefined) {
    relations = new Map();
    index.set(type, relations);
  }
  let ids = relations.get(relation);
  if (ids === undefined) {
    ids = new Map();
    relations.set(relation, ids);
  }
  let rows = ids.get(subjectId);
  if (rows === undefined) {
    rows = new SubjectRows();
    ids.set(subjectId, rows);
  }
  return rows;
}

function changeRow({ rev, seq, op, row }: LogEntry): ChangeRow {
  return {
    rev,
    seq,
    op,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    relation: row.relation,
    subject_type: row.subject_type,
    subject_id: row.subject_id,
    subject_relation: row.subject_relation,
    caveat_name: row.caveat_name,
    caveat_context: row.caveat_context,
    expires_at: row.expires_at,
  };
}
