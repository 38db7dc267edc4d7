/**
 * The in-memory tuple index of one tenant, compact enough for millions of tuples: type,
 * relation and object names are interned to integers, each tuple version is one slot in a set
 * of typed-array columns (24 bytes), and adjacency is offsets into those columns.
 *
 * Layout. The *base* is what a sequential scan of the store loaded, in the store's stable
 * order: the versions of one resource are contiguous, grouped by relation (a *row*), and
 * sorted by subject inside a row, so a row is a range of slots and a subject is found in it by
 * binary search. The reverse adjacency of the base (by subject) is one counting sort over those
 * slots. Versions written after the load go to an *overlay*: per-row and per-subject lists of
 * slots. A deletion marks its version's slot with the deleting revision, so the index answers
 * for any revision from its horizon on (multi-version, like the store).
 *
 * Readers get `RelationEntry` objects built from the slots of a row on first use and kept in a
 * bounded cache (dropped when a change touches the row), so the traversal's hot path reads
 * plain objects and allocates nothing once warm. Slots of versions no reader can see anymore
 * (deleted before the horizon) are garbage until the index is rebuilt by a fresh load; the
 * mirror does that when garbage passes half of the slots (see `garbage`).
 */
import { bug } from "../core/errors.js";
import type { CaveatRef, Relationship, SubjectRef } from "../core/relationship.js";
import type { Revision } from "../core/revision.js";
import {
  type RelationEntry,
  relationEntryOf,
  type SubjectLookup,
  subjectKeyOf,
  type TupleReader,
  type TupleVersion,
} from "./tuple-index.js";

/** The `deleted` column of a live version. Revisions above it cannot be indexed. */
const LIVE = 0x7fffffff;
const NO_ATTRS = -1;
const NO_ROW = -1;
/** Relation ids fit 16 bits: a row key is `node * ROW_KEY_BASE + relation`. */
const ROW_KEY_BASE = 65_536;

/** What few versions carry: a caveat or an expiration. */
interface VersionAttrs {
  readonly caveat: CaveatRef | undefined;
  readonly expiresAt: number;
}

/** Rough heap costs, for the memory budget (measured on Node 20, x64). */
const BYTES_PER_NODE = 96;
const BYTES_PER_ATTRS = 160;
const BYTES_PER_CACHED_VERSION = 220;
const BYTES_PER_OVERLAY_SLOT = 24;

export interface CompactIndexOptions {
  /** Rows kept as built `RelationEntry` objects. Default 200 000. */
  readonly maxCachedRows?: number;
}

export class CompactIndex implements TupleReader {
  /** The index holds every answer it is asked for: it never misses. */
  readonly misses = 0;

  // ---- names and nodes ------------------------------------------------------------------
  /** Type and relation names share one table; id 0 stands for "no relation". */
  readonly #nameIds = new Map<string, number>();
  readonly #names: string[] = [""];
  /** type name id → object id → node. */
  readonly #nodes = new Map<number, Map<string, number>>();
  #nodeType = new Uint16Array(1024);
  readonly #nodeIds: string[] = [];
  #nodeCount = 0;

  // ---- version slots ----------------------------------------------------------------------
  #resNode = new Int32Array(1024);
  #relation = new Uint16Array(1024);
  #subNode = new Int32Array(1024);
  #subRel = new Uint16Array(1024);
  #created = new Int32Array(1024);
  #deleted = new Int32Array(1024);
  #attrs = new Int32Array(1024);
  readonly #attrList: VersionAttrs[] = [];
  #slots = 0;

  // ---- the base -----------------------------------------------------------------------------
  #sealed = false;
  #baseSlots = 0;
  #baseNodes = 0;
  /** Per node: its first row, or NO_ROW; rows of one node are contiguous. */
  #nodeFirstRow = new Int32Array(1024).fill(NO_ROW);
  #nodeRowCount = new Uint16Array(1024);
  #rowRelation = new Uint16Array(1024);
  /** Slot ranges of the rows: row r is `[rowStart[r], rowStart[r + 1])`. */
  #rowStart = new Int32Array(1024);
  #rows = 0;
  /** Reverse adjacency of the base: slots by subject node. */
  #revStart = new Int32Array(0);
  #revSlots = new Int32Array(0);
  #lastResNode = -1;
  #lastRelation = -1;

  // ---- the overlay --------------------------------------------------------------------------
  /** Row key → slots written after the load. */
  readonly #rowOverlay = new Map<number, number[]>();
  /** Subject node → slots written after the load. */
  readonly #subjectOverlay = new Map<number, number[]>();
  #overlaySlots = 0;

  // ---- bookkeeping ----------------------------------------------------------------------
  #live = 0;
  #garbage = 0;
  #horizon = 0;
  readonly #maxCachedRows: number;
  /** Built entries, two generations: lookups promote from `old`, a full `young` ages. */
  #young = new Map<number, RelationEntry>();
  #old = new Map<number, RelationEntry>();
  #cachedVersions = 0;

  constructor(options: CompactIndexOptions = {}) {
    this.#maxCachedRows = options.maxCachedRows ?? 200_000;
  }

  /** Live versions (expiration not considered). */
  get liveCount(): number {
    return this.#live;
  }

  /** Versions a reader at or after the horizon may still see. */
  get versionCount(): number {
    return this.#slots - this.#garbage;
  }

  /** Slots held by versions no reader can see; reclaimed only by a rebuild. */
  get garbage(): number {
    return this.#garbage;
  }

  get slots(): number {
    return this.#slots;
  }

  /** Estimated bytes held: the columns exactly, names, attributes and caches by estimate. */
  get bytes(): number {
    const columns =
      this.#resNode.byteLength +
      this.#relation.byteLength +
      this.#subNode.byteLength +
      this.#subRel.byteLength +
      this.#created.byteLength +
      this.#deleted.byteLength +
      this.#attrs.byteLength +
      this.#nodeType.byteLength +
      this.#nodeFirstRow.byteLength +
      this.#nodeRowCount.byteLength +
      this.#rowRelation.byteLength +
      this.#rowStart.byteLength +
      this.#revStart.byteLength +
      this.#revSlots.byteLength;
    return (
      columns +
      this.#nodeCount * BYTES_PER_NODE +
      this.#attrList.length * BYTES_PER_ATTRS +
      this.#overlaySlots * BYTES_PER_OVERLAY_SLOT +
      this.#cachedVersions * BYTES_PER_CACHED_VERSION
    );
  }

  // ---- loading ------------------------------------------------------------------------------

  /**
   * Adds a version of the base, visible from `revision`. Versions come in the store's stable
   * order; one out of that order (which a store should never send) goes to the overlay, so the
   * index stays right, only less compact.
   */
  addLoaded(rel: Relationship, revision: Revision): void {
    if (this.#sealed) bug("addLoaded after the base was sealed");
    const resNode = this.#internNode(rel.resource.type, rel.resource.id);
    const relation = this.#internName(rel.relation);
    const s = rel.subject;
    const subNode = this.#internNode(s.type, s.id);
    const subRel = s.relation === undefined ? 0 : this.#internName(s.relation);
    const sameRow = resNode === this.#lastResNode && relation === this.#lastRelation;
    const inOrder = sameRow
      ? this.#compareSlotSubject(this.#slots - 1, subNode, subRel) < 0
      : resNode === this.#lastResNode
        ? this.#nameAfter(relation, this.#lastRelation)
        : this.#nodeFirstRow[resNode] === NO_ROW;
    if (!inOrder) {
      this.#addOverlay(resNode, relation, subNode, subRel, rel, revision);
      return;
    }
    if (!sameRow) {
      if (this.#rows + 2 > this.#rowRelation.length) this.#growRows();
      if (resNode !== this.#lastResNode) this.#nodeFirstRow[resNode] = this.#rows;
      this.#nodeRowCount[resNode]!++;
      this.#rowRelation[this.#rows] = relation;
      this.#rowStart[this.#rows] = this.#slots;
      this.#rows++;
      this.#lastResNode = resNode;
      this.#lastRelation = relation;
    }
    this.#pushSlot(resNode, relation, subNode, subRel, rel, revision);
  }

  /** Ends the load: builds the reverse adjacency and trims the columns to their size. */
  seal(): void {
    if (this.#sealed) return;
    this.#sealed = true;
    this.#baseSlots = this.#slots;
    this.#baseNodes = this.#nodeCount;
    this.#rowStart[this.#rows] = this.#slots;
    this.#rowRelation = this.#rowRelation.slice(0, this.#rows);
    this.#rowStart = this.#rowStart.slice(0, this.#rows + 1);
    this.#nodeFirstRow = this.#nodeFirstRow.slice(0, this.#baseNodes);
    this.#nodeRowCount = this.#nodeRowCount.slice(0, this.#baseNodes);
    // Counting sort of the base slots by subject node.
    const start = new Int32Array(this.#baseNodes + 1);
    for (let i = 0; i < this.#baseSlots; i++) start[this.#subNode[i]! + 1]!++;
    for (let n = 0; n < this.#baseNodes; n++) start[n + 1]! += start[n]!;
    const next = start.slice(0, this.#baseNodes);
    const slots = new Int32Array(this.#baseSlots);
    for (let i = 0; i < this.#baseSlots; i++) slots[next[this.#subNode[i]!]!++] = i;
    this.#revStart = start;
    this.#revSlots = slots;
    this.#trimColumns(this.#slots + Math.ceil(this.#slots / 16) + 1024);
  }

  // ---- changes --------------------------------------------------------------------------

  /** Records a tuple written (created or replaced) at `revision`. */
  touch(rel: Relationship, revision: Revision): void {
    const resNode = this.#internNode(rel.resource.type, rel.resource.id);
    const relation = this.#internName(rel.relation);
    const s = rel.subject;
    const subNode = this.#internNode(s.type, s.id);
    const subRel = s.relation === undefined ? 0 : this.#internName(s.relation);
    this.#endVersion(this.#findLive(resNode, relation, subNode, subRel), revision);
    this.#addOverlay(resNode, relation, subNode, subRel, rel, revision);
  }

  /** Records a tuple deleted at `revision`; a no-op when it is not live. */
  delete(rel: Relationship, revision: Revision): void {
    const resNode = this.#node(rel.resource.type, rel.resource.id);
    const relation = this.#nameIds.get(rel.relation);
    const s = rel.subject;
    const subNode = this.#node(s.type, s.id);
    const subRel = s.relation === undefined ? 0 : this.#nameIds.get(s.relation);
    if (resNode < 0 || subNode < 0 || relation === undefined || subRel === undefined) return;
    const slot = this.#findLive(resNode, relation, subNode, subRel);
    this.#endVersion(slot, revision);
    this.#forget(resNode * ROW_KEY_BASE + relation);
  }

  /**
   * Moves the horizon: versions deleted at or before it, or expired at or before `now`, are
   * seen by no reader from now on. Their slots become garbage and leave the overlay lists.
   */
  compact(horizon: Revision, now: number): void {
    this.#horizon = Math.max(this.#horizon, horizon);
    let garbage = 0;
    for (let i = 0; i < this.#slots; i++) if (this.#isDead(i, now)) garbage++;
    this.#garbage = garbage;
    const prune = (lists: Map<number, number[]>) => {
      for (const [key, list] of lists) {
        const kept = list.filter((slot) => !this.#isDead(slot, now));
        if (kept.length === 0) lists.delete(key);
        else if (kept.length !== list.length) lists.set(key, kept);
      }
    };
    prune(this.#rowOverlay);
    prune(this.#subjectOverlay);
    let overlay = 0;
    for (const list of this.#rowOverlay.values()) overlay += list.length;
    this.#overlaySlots = overlay;
    this.#young.clear();
    this.#old.clear();
    this.#cachedVersions = 0;
  }

  // ---- reading ------------------------------------------------------------------------------

  entry(type: string, relation: string, id: string): RelationEntry | undefined {
    const typeId = this.#nameIds.get(type);
    const relationId = this.#nameIds.get(relation);
    if (typeId === undefined || relationId === undefined) return undefined;
    const node = this.#nodes.get(typeId)?.get(id);
    if (node === undefined) return undefined;
    const key = node * ROW_KEY_BASE + relationId;
    const cached = this.#young.get(key);
    if (cached !== undefined) return cached;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#remember(key, old);
      return old;
    }
    const [from, to] = this.#baseRow(node, relationId);
    const overlay = this.#rowOverlay.get(key) ?? NO_SLOTS;
    let entry: RelationEntry;
    if (to - from > LARGE_ROW) {
      // A big group: answering "is this subject in it" must not build 100k objects first.
      entry = new LargeRowEntry(this, from, to, overlay);
    } else {
      const versions: TupleVersion[] = [];
      for (let slot = from; slot < to; slot++) {
        if (!this.#isHidden(slot)) versions.push(this.#version(slot));
      }
      for (const slot of overlay) {
        if (!this.#isHidden(slot)) versions.push(this.#version(slot));
      }
      if (versions.length === 0) return undefined;
      entry = relationEntryOf(versions);
    }
    this.#remember(key, entry);
    return entry;
  }

  *reverse(subject: SubjectRef, resourceType: string, relation: string): Generator<TupleVersion> {
    const node = this.#node(subject.type, subject.id);
    const typeId = this.#nameIds.get(resourceType);
    const relationId = this.#nameIds.get(relation);
    const subRel = subject.relation === undefined ? 0 : this.#nameIds.get(subject.relation);
    if (node < 0 || typeId === undefined || relationId === undefined || subRel === undefined) {
      return;
    }
    const matches = (slot: number) =>
      this.#relation[slot] === relationId &&
      this.#subRel[slot] === subRel &&
      this.#nodeType[this.#resNode[slot]!] === typeId &&
      !this.#isHidden(slot);
    if (node < this.#baseNodes) {
      const end = this.#revStart[node + 1]!;
      for (let i = this.#revStart[node]!; i < end; i++) {
        const slot = this.#revSlots[i]!;
        if (matches(slot)) yield this.#version(slot);
      }
    }
    for (const slot of this.#subjectOverlay.get(node) ?? NO_SLOTS) {
      if (matches(slot)) yield this.#version(slot);
    }
  }

  // ---- for LargeRowEntry --------------------------------------------------------------------

  /** The version in `slot`, or undefined when no reader can see it any more. */
  versionAt(slot: number): TupleVersion | undefined {
    return this.#isHidden(slot) ? undefined : this.#version(slot);
  }

  /** Whether `slot` holds a userset subject (`group:eng#member`), or a wildcard (`user:*`). */
  subjectKindAt(slot: number): "userset" | "wildcard" | "object" {
    if (this.#subRel[slot] !== 0) return "userset";
    return this.#nodeIds[this.#subNode[slot]!] === "*" ? "wildcard" : "object";
  }

  /**
   * The slots in `[from, to)` (a base row, sorted by subject) and in `overlay` that hold
   * exactly the subject of `subjectKey`.
   */
  slotsOfSubject(
    from: number,
    to: number,
    overlay: readonly number[],
    subjectKey: string,
  ): number[] {
    const colon = subjectKey.indexOf(":");
    const hash = subjectKey.indexOf("#", colon);
    const type = subjectKey.slice(0, colon);
    const id = hash < 0 ? subjectKey.slice(colon + 1) : subjectKey.slice(colon + 1, hash);
    const subNode = this.#node(type, id);
    const subRel = hash < 0 ? 0 : this.#nameIds.get(subjectKey.slice(hash + 1));
    if (subNode < 0 || subRel === undefined) return [];
    const out: number[] = [];
    let lo = from;
    let hi = to - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.#compareSlotSubject(mid, subNode, subRel);
      if (c === 0) {
        out.push(mid);
        break;
      }
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    for (const slot of overlay) {
      if (this.#subNode[slot] === subNode && this.#subRel[slot] === subRel) out.push(slot);
    }
    return out;
  }

  // ---- internals ------------------------------------------------------------------------

  #internName(name: string): number {
    let id = this.#nameIds.get(name);
    if (id === undefined) {
      id = this.#names.length;
      if (id >= ROW_KEY_BASE) bug("more than 65,535 type and relation names in one tenant");
      this.#names.push(name);
      this.#nameIds.set(name, id);
    }
    return id;
  }

  #internNode(type: string, id: string): number {
    const typeId = this.#internName(type);
    let byId = this.#nodes.get(typeId);
    if (byId === undefined) {
      byId = new Map();
      this.#nodes.set(typeId, byId);
    }
    let node = byId.get(id);
    if (node === undefined) {
      node = this.#nodeCount++;
      if (node >= this.#nodeType.length) this.#growNodes();
      this.#nodeType[node] = typeId;
      this.#nodeIds.push(id);
      byId.set(id, node);
    }
    return node;
  }

  /** The node of `type:id`, or -1 when the index has never seen it. */
  #node(type: string, id: string): number {
    const typeId = this.#nameIds.get(type);
    if (typeId === undefined) return -1;
    return this.#nodes.get(typeId)?.get(id) ?? -1;
  }

  /** Names compare as the store orders them (by UTF-8 bytes; names are ASCII). */
  #nameAfter(a: number, b: number): boolean {
    return this.#names[a]! > this.#names[b]!;
  }

  /** Orders the subject of `slot` against (subNode, subRel) as the store's stable order does. */
  #compareSlotSubject(slot: number, subNode: number, subRel: number): number {
    const other = this.#subNode[slot]!;
    if (other !== subNode) {
      const typeA = this.#names[this.#nodeType[other]!]!;
      const typeB = this.#names[this.#nodeType[subNode]!]!;
      if (typeA !== typeB) return typeA < typeB ? -1 : 1;
      const idA = this.#nodeIds[other]!;
      const idB = this.#nodeIds[subNode]!;
      return idA < idB ? -1 : 1;
    }
    const relA = this.#subRel[slot]!;
    if (relA === subRel) return 0;
    // No relation sorts first.
    if (relA === 0) return -1;
    if (subRel === 0) return 1;
    return this.#names[relA]! < this.#names[subRel]! ? -1 : 1;
  }

  #baseRow(node: number, relation: number): [number, number] {
    if (node >= this.#baseNodes) return EMPTY_RANGE;
    const first = this.#nodeFirstRow[node]!;
    if (first === NO_ROW) return EMPTY_RANGE;
    const end = first + this.#nodeRowCount[node]!;
    for (let r = first; r < end; r++) {
      if (this.#rowRelation[r] === relation) return [this.#rowStart[r]!, this.#rowStart[r + 1]!];
    }
    return EMPTY_RANGE;
  }

  /** The live slot of exactly this tuple, or -1. */
  #findLive(resNode: number, relation: number, subNode: number, subRel: number): number {
    const overlay = this.#rowOverlay.get(resNode * ROW_KEY_BASE + relation);
    if (overlay !== undefined) {
      for (let i = overlay.length - 1; i >= 0; i--) {
        const slot = overlay[i]!;
        if (
          this.#deleted[slot] === LIVE &&
          this.#subNode[slot] === subNode &&
          this.#subRel[slot] === subRel
        ) {
          return slot;
        }
      }
    }
    let [lo, hi] = this.#baseRow(resNode, relation);
    hi--;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.#compareSlotSubject(mid, subNode, subRel);
      if (c === 0) return this.#deleted[mid] === LIVE ? mid : -1;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #endVersion(slot: number, revision: Revision): void {
    if (slot < 0) return;
    this.#deleted[slot] = checkedRevision(revision);
    this.#live--;
  }

  #addOverlay(
    resNode: number,
    relation: number,
    subNode: number,
    subRel: number,
    rel: Relationship,
    revision: Revision,
  ): void {
    const slot = this.#pushSlot(resNode, relation, subNode, subRel, rel, revision);
    const key = resNode * ROW_KEY_BASE + relation;
    const row = this.#rowOverlay.get(key);
    if (row === undefined) this.#rowOverlay.set(key, [slot]);
    else row.push(slot);
    const bySubject = this.#subjectOverlay.get(subNode);
    if (bySubject === undefined) this.#subjectOverlay.set(subNode, [slot]);
    else bySubject.push(slot);
    this.#overlaySlots++;
    this.#forget(key);
  }

  #pushSlot(
    resNode: number,
    relation: number,
    subNode: number,
    subRel: number,
    rel: Relationship,
    revision: Revision,
  ): number {
    const slot = this.#slots++;
    if (slot >= this.#resNode.length) this.#trimColumns(this.#resNode.length * 2);
    this.#resNode[slot] = resNode;
    this.#relation[slot] = relation;
    this.#subNode[slot] = subNode;
    this.#subRel[slot] = subRel;
    this.#created[slot] = checkedRevision(revision);
    this.#deleted[slot] = LIVE;
    if (rel.caveat !== undefined || rel.expiration !== undefined) {
      this.#attrs[slot] = this.#attrList.length;
      this.#attrList.push({
        caveat: rel.caveat,
        expiresAt: rel.expiration?.getTime() ?? Number.POSITIVE_INFINITY,
      });
    } else {
      this.#attrs[slot] = NO_ATTRS;
    }
    this.#live++;
    return slot;
  }

  /** Not seen by any reader at or after the horizon (readers filter the rest by revision). */
  #isHidden(slot: number): boolean {
    return this.#deleted[slot]! <= this.#horizon;
  }

  #isDead(slot: number, now: number): boolean {
    if (this.#deleted[slot]! <= this.#horizon) return true;
    const a = this.#attrs[slot]!;
    return a !== NO_ATTRS && this.#attrList[a]!.expiresAt <= now;
  }

  #version(slot: number): TupleVersion {
    const subNode = this.#subNode[slot]!;
    const resNode = this.#resNode[slot]!;
    const subRel = this.#subRel[slot]!;
    const subjectType = this.#names[this.#nodeType[subNode]!]!;
    const subjectId = this.#nodeIds[subNode]!;
    const subjectRelation = subRel === 0 ? undefined : this.#names[subRel]!;
    const a = this.#attrs[slot]!;
    const attrs = a === NO_ATTRS ? undefined : this.#attrList[a]!;
    const deleted = this.#deleted[slot]!;
    return {
      resourceType: this.#names[this.#nodeType[resNode]!]!,
      resourceId: this.#nodeIds[resNode]!,
      relation: this.#names[this.#relation[slot]!]!,
      subjectType,
      subjectId,
      subjectRelation,
      subjectKey: subjectKeyOf(subjectType, subjectId, subjectRelation),
      caveat: attrs?.caveat,
      expiresAt: attrs?.expiresAt ?? Number.POSITIVE_INFINITY,
      createdRev: this.#created[slot]!,
      deletedRev: deleted === LIVE ? Number.POSITIVE_INFINITY : deleted,
    };
  }

  #remember(key: number, entry: RelationEntry): void {
    if (this.#young.size >= this.#maxCachedRows / 2) {
      this.#old = this.#young;
      this.#young = new Map();
      let versions = 0;
      for (const e of this.#old.values()) versions += cachedSize(e);
      this.#cachedVersions = versions;
    }
    this.#young.set(key, entry);
    this.#cachedVersions += cachedSize(entry);
  }

  #forget(key: number): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  #growNodes(): void {
    const size = this.#nodeType.length * 2;
    this.#nodeType = resized(this.#nodeType, size);
    if (!this.#sealed) {
      const first = new Int32Array(size).fill(NO_ROW);
      first.set(this.#nodeFirstRow);
      this.#nodeFirstRow = first;
      this.#nodeRowCount = resized(this.#nodeRowCount, size);
    }
  }

  #growRows(): void {
    const size = this.#rowRelation.length * 2;
    this.#rowRelation = resized(this.#rowRelation, size);
    this.#rowStart = resized(this.#rowStart, size);
  }

  #trimColumns(size: number): void {
    this.#resNode = resized(this.#resNode, size);
    this.#relation = resized(this.#relation, size);
    this.#subNode = resized(this.#subNode, size);
    this.#subRel = resized(this.#subRel, size);
    this.#created = resized(this.#created, size);
    this.#deleted = resized(this.#deleted, size);
    this.#attrs = resized(this.#attrs, size);
  }
}

/** Rows with more base versions than this are read through `LargeRowEntry`. */
const LARGE_ROW = 1024;

/**
 * The entry of a big row (a group of a hundred thousand members), built lazily: the subject
 * test is a binary search in the row's slots; the lists a traversal walks (usersets,
 * wildcards, every version) are made on first use.
 */
class LargeRowEntry implements RelationEntry {
  readonly #index: CompactIndex;
  readonly #from: number;
  readonly #to: number;
  readonly #overlay: readonly number[];
  #usersets: TupleVersion[] | undefined;
  #wildcards: TupleVersion[] | undefined;
  readonly bySubject: SubjectLookup;

  constructor(index: CompactIndex, from: number, to: number, overlay: readonly number[]) {
    this.#index = index;
    this.#from = from;
    this.#to = to;
    // The overlay list may grow after this entry is made; the entry is dropped when it does.
    this.#overlay = [...overlay];
    this.bySubject = {
      get: (key) => {
        const slots = index.slotsOfSubject(from, to, this.#overlay, key);
        const versions = slots.flatMap((s) => index.versionAt(s) ?? []);
        return versions.length === 0 ? undefined : versions;
      },
    };
  }

  /** Made as iterated (a walk may pause inside it), not kept. */
  *[Symbol.iterator](): Generator<TupleVersion> {
    for (let slot = this.#from; slot < this.#to; slot++) {
      const v = this.#index.versionAt(slot);
      if (v !== undefined) yield v;
    }
    for (const slot of this.#overlay) {
      const v = this.#index.versionAt(slot);
      if (v !== undefined) yield v;
    }
  }

  get all(): Iterable<TupleVersion> {
    return this;
  }

  get usersets(): readonly TupleVersion[] {
    this.#usersets ??= this.#collect((slot) => this.#index.subjectKindAt(slot) === "userset");
    return this.#usersets;
  }

  get wildcards(): readonly TupleVersion[] {
    this.#wildcards ??= this.#collect((slot) => this.#index.subjectKindAt(slot) === "wildcard");
    return this.#wildcards;
  }

  #collect(keep: (slot: number) => boolean): TupleVersion[] {
    const out: TupleVersion[] = [];
    const add = (slot: number) => {
      if (!keep(slot)) return;
      const v = this.#index.versionAt(slot);
      if (v !== undefined) out.push(v);
    };
    for (let slot = this.#from; slot < this.#to; slot++) add(slot);
    for (const slot of this.#overlay) add(slot);
    return out;
  }
}

/** Versions an entry holds as objects (a large row's lists are not counted until built). */
function cachedSize(entry: RelationEntry): number {
  return Array.isArray(entry.all) ? entry.all.length : 1;
}

const EMPTY_RANGE: [number, number] = [0, 0];
const NO_SLOTS: readonly number[] = Object.freeze([]);

type Column = Int32Array | Uint16Array;

function resized<T extends Column>(column: T, size: number): T {
  if (column.length === size) return column;
  const next = new (column.constructor as new (n: number) => T)(size);
  next.set(column.length <= size ? column : (column.subarray(0, size) as T));
  return next;
}

function checkedRevision(revision: Revision): number {
  if (!Number.isSafeInteger(revision) || revision < 0 || revision >= LIVE) {
    bug(`revision ${revision} cannot be indexed`);
  }
  return revision;
}
