import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SortedList } from "./sorted-list.js";

const byValue = (a: { v: number }, b: { v: number }) => a.v - b.v;

type Step =
  | { op: "insert"; v: number }
  | { op: "insertAll"; vs: number[] }
  | { op: "delete"; at: number }
  | { op: "deleteAll"; every: number };

const value = fc.integer({ min: -20_000, max: 20_000 });

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("insert" as const), v: value }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("insertAll" as const),
      vs: fc.array(value, { maxLength: 400 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("deleteAll" as const),
      every: fc.integer({ min: 1, max: 5 }),
    }),
  },
);

function items<T>(list: SortedList<T>, before: (item: T) => boolean = () => false): T[] {
  const out: T[] = [];
  list.scan(before, (item) => {
    out.push(item);
    return true;
  });
  return out;
}

describe("SortedList", () => {
  it("keeps its items sorted through inserts and removals, as a sorted array would", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 3000 }), value, (steps, probe) => {
        const list = new SortedList(byValue);
        const model: { v: number }[] = [];
        const seen = new Set<number>();
        for (const s of steps) {
          if (s.op === "insert") {
            if (seen.has(s.v)) continue;
            seen.add(s.v);
            const item = { v: s.v };
            list.insert(item);
            model.push(item);
          } else if (s.op === "insertAll") {
            const fresh = [...new Set(s.vs)].filter((v) => !seen.has(v)).map((v) => ({ v }));
            for (const item of fresh) seen.add(item.v);
            list.insertAll([...fresh]);
            model.push(...fresh);
          } else if (s.op === "delete") {
            if (model.length === 0) {
              expect(list.delete({ v: 0 })).toBe(false);
              continue;
            }
            const [item] = model.splice(s.at % model.length, 1);
            seen.delete(item!.v);
            expect(list.delete(item!)).toBe(true);
            expect(list.delete(item!)).toBe(false);
          } else {
            const gone = new Set(model.filter((_, i) => i % s.every === 0));
            list.deleteAll(gone);
            for (const item of gone) {
              seen.delete(item.v);
              model.splice(model.indexOf(item), 1);
            }
          }
        }
        model.sort(byValue);
        expect(list.size).toBe(model.length);
        expect(items(list)).toEqual(model);
        expect(items(list, (item) => item.v < probe)).toEqual(model.filter((m) => m.v >= probe));
        const three: { v: number }[] = [];
        list.scan(
          () => false,
          (item) => three.push(item) < 3,
        );
        expect(three).toEqual(model.slice(0, 3));
      }),
      { numRuns: 200 },
    );
  });

  it("finds only the very item to delete, not an equal-looking one", () => {
    const list = new SortedList(byValue);
    const item = { v: 1 };
    list.insert(item);
    expect(list.delete({ v: 1 })).toBe(false);
    expect(list.delete(item)).toBe(true);
    expect(list.size).toBe(0);
  });

  it("keeps 100,000 items inserted in scattered order sorted, across many chunk splits", () => {
    const list = new SortedList(byValue);
    const values = Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_003);
    for (const v of values) list.insert({ v });
    expect(list.size).toBe(values.length);
    const read = items(list).map((item) => item.v);
    expect(read).toEqual([...values].sort((a, b) => a - b));
  });
});
