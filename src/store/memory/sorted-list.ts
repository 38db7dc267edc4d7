/**
 * A sorted list of distinct items kept in chunks (arrays of at most `2 × CHUNK` items, in
 * order): an insert or a removal costs a binary search plus a splice inside one chunk, so a
 * list of a million rows takes single inserts as cheaply as appends, and a range read starts
 * with a binary search. Plain arrays and no dependency, so it runs wherever JavaScript does.
 */

/** Chunks split in halves past twice this size. */
const CHUNK = 512;

export class SortedList<T> {
  readonly #compare: (a: T, b: T) => number;
  #chunks: T[][] = [];
  #size = 0;

  /** `compare` orders every two distinct items strictly (0 only for an item and itself). */
  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#size;
  }

  insert(item: T): void {
    const chunks = this.#chunks;
    if (chunks.length === 0) {
      chunks.push([item]);
      this.#size = 1;
      return;
    }
    // The first chunk whose last item comes after `item`; past the end, the last chunk.
    let c = this.#firstChunk((last) => this.#compare(last, item) < 0);
    if (c === chunks.length) c--;
    const chunk = chunks[c]!;
    chunk.splice(
      lowerBound(chunk, (other) => this.#compare(other, item) < 0),
      0,
      item,
    );
    this.#size++;
    if (chunk.length > 2 * CHUNK) chunks.splice(c, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK));
  }

  /**
   * Inserts every item of `items` (which it sorts). When they are many against the list's
   * size, one merge pass replaces the searches: a search per item touches rows all over the
   * heap, a merge walks the list once, in order.
   */
  insertAll(items: T[]): void {
    if (items.length * 32 < this.#size) {
      for (const item of items) this.insert(item);
      return;
    }
    const compare = this.#compare;
    items.sort(compare);
    const merged: T[] = [];
    let next = 0;
    for (const chunk of this.#chunks) {
      for (const item of chunk) {
        while (next < items.length && compare(items[next]!, item) < 0) {
          merged.push(items[next++]!);
        }
        merged.push(item);
      }
    }
    while (next < items.length) merged.push(items[next++]!);
    const chunks: T[][] = [];
    for (let i = 0; i < merged.length; i += CHUNK) chunks.push(merged.slice(i, i + CHUNK));
    this.#chunks = chunks;
    this.#size = merged.length;
  }

  /** Removes `item` (the very item, found by the order); false when it is not in the list. */
  delete(item: T): boolean {
    const chunks = this.#chunks;
    const c = this.#firstChunk((last) => this.#compare(last, item) < 0);
    const chunk = chunks[c];
    if (chunk === undefined) return false;
    const i = lowerBound(chunk, (other) => this.#compare(other, item) < 0);
    if (chunk[i] !== item) return false;
    chunk.splice(i, 1);
    this.#size--;
    if (chunk.length === 0) chunks.splice(c, 1);
    return true;
  }

  /** Removes every item of `items` that is in the list, in one pass over the list. */
  deleteAll(items: ReadonlySet<T>): void {
    if (items.size === 0) return;
    const kept: T[][] = [];
    let size = 0;
    for (const chunk of this.#chunks) {
      const rest = chunk.filter((item) => !items.has(item));
      if (rest.length > 0) {
        kept.push(rest);
        size += rest.length;
      }
    }
    this.#chunks = kept;
    this.#size = size;
  }

  /**
   * Visits the items in order from the first one for which `before` is false, until `visit`
   * returns false or the list ends. `before` must hold for a leading run of the list and for
   * nothing after it (a lower bound by a key, say). The list must not change meanwhile.
   */
  scan(before: (item: T) => boolean, visit: (item: T) => boolean): void {
    const chunks = this.#chunks;
    const first = this.#firstChunk(before);
    for (let c = first; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      for (let i = c === first ? lowerBound(chunk, before) : 0; i < chunk.length; i++) {
        if (!visit(chunk[i]!)) return;
      }
    }
  }

  /** The index of the first chunk whose last item is not `before`. */
  #firstChunk(before: (last: T) => boolean): number {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (before(chunk[chunk.length - 1]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The index of the first item of `items` for which `before` is false (true for a prefix). */
export function lowerBound<T>(items: readonly T[], before: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(items[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
