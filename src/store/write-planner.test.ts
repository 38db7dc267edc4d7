import { describe, expect, it } from "vitest";
import { PreconditionFailedError, parseRelationship, TrellisError } from "../core/index.js";
import type { ImportBatch } from "./import-batches.js";
import { normalizeFilter } from "./relationship-filter.js";
import type { Mutation, MutationOp } from "./relationship-writer.js";
import { validatePreconditions } from "./validate-write.js";
import {
  checkPreconditions,
  checkSchemaGuards,
  deleteByFilterCountBound,
  isPresent,
  type LiveRow,
  planDeleteByFilter,
  planImportBatch,
  planImportConflict,
  planWrite,
} from "./write-planner.js";

const NOW = Date.UTC(2030, 0, 1);

const mutation = (op: MutationOp, text: string): Mutation => ({
  op,
  relationship: parseRelationship(text),
});
const live = (id: string, expiresAt: number | null = null): LiveRow<string> => ({ id, expiresAt });
const rows = (...entries: [number, LiveRow<string>][]) => new Map(entries);

function thrown(fn: () => unknown): TrellisError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    return err as TrellisError;
  }
  throw new Error("expected the call to throw");
}

function batch(texts: string[], firstLine = 1): ImportBatch {
  return { number: 1, firstLine, relationships: texts.map((t) => parseRelationship(t)) };
}

describe("planWrite", () => {
  it("inserts new tuples at their mutation's position and ends nothing", () => {
    const plan = planWrite(
      [mutation("CREATE", "doc:a#viewer@user:x"), mutation("TOUCH", "doc:b#viewer@user:x")],
      rows(),
      NOW,
    );
    expect(plan.ends).toEqual([]);
    expect(plan.inserts.map((i) => i.seq)).toEqual([0, 1]);
    expect(plan.inserts[1]!.relationship).toEqual(parseRelationship("doc:b#viewer@user:x"));
  });

  it("refuses to CREATE a present tuple, naming the mutation", () => {
    const err = thrown(() =>
      planWrite(
        [mutation("TOUCH", "doc:a#viewer@user:x"), mutation("CREATE", "doc:b#viewer@user:x")],
        rows([1, live("r1")]),
        NOW,
      ),
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err.field).toBe("mutations[1]");
    expect(err.message).toContain("doc:b#viewer@user:x");
  });

  it("replaces an expired tuple on CREATE without a DELETE entry", () => {
    const plan = planWrite(
      [mutation("CREATE", "doc:a#viewer@user:x")],
      rows([0, live("r1", NOW)]),
      NOW,
    );
    expect(plan).toEqual({
      ends: [{ id: "r1", seq: null }],
      inserts: [{ relationship: parseRelationship("doc:a#viewer@user:x"), seq: 0 }],
    });
  });

  it("replaces a present or expired tuple on TOUCH, as one TOUCH entry", () => {
    for (const expiresAt of [null, NOW - 1, NOW + 1]) {
      const plan = planWrite(
        [mutation("TOUCH", "doc:a#viewer@user:x[cav]")],
        rows([0, live("r1", expiresAt)]),
        NOW,
      );
      expect(plan.ends).toEqual([{ id: "r1", seq: null }]);
      expect(plan.inserts).toHaveLength(1);
    }
  });

  it("ends a present tuple on DELETE as a DELETE entry at its position", () => {
    const plan = planWrite(
      [mutation("CREATE", "doc:a#viewer@user:x"), mutation("DELETE", "doc:b#viewer@user:x")],
      rows([1, live("r9", NOW + 1)]),
      NOW,
    );
    expect(plan.ends).toEqual([{ id: "r9", seq: 1 }]);
    expect(plan.inserts.map((i) => i.seq)).toEqual([0]);
  });

  it("leaves absent and expired tuples alone on DELETE", () => {
    const plan = planWrite(
      [mutation("DELETE", "doc:a#viewer@user:x"), mutation("DELETE", "doc:b#viewer@user:x")],
      rows([1, live("r1", NOW)]),
      NOW,
    );
    expect(plan).toEqual({ ends: [], inserts: [] });
  });
});

describe("isPresent", () => {
  it("counts a tuple as absent from the instant it expires", () => {
    expect(isPresent(undefined, NOW)).toBe(false);
    expect(isPresent(live("r"), NOW)).toBe(true);
    expect(isPresent(live("r", NOW + 1), NOW)).toBe(true);
    expect(isPresent(live("r", NOW), NOW)).toBe(false);
  });
});

describe("checkPreconditions", () => {
  const preconditions = validatePreconditions([
    { op: "MUST_MATCH", filter: { resourceType: "doc" } },
    { op: "MUST_NOT_MATCH", filter: { resourceType: "folder", resourceId: "f" } },
  ]);

  it("passes when MUST_MATCH matched and MUST_NOT_MATCH did not", () => {
    expect(() => checkPreconditions(preconditions, [true, false])).not.toThrow();
  });

  it("fails on the first precondition that does not hold, naming it", () => {
    const err = thrown(() => checkPreconditions(preconditions, [false, true]));
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err.field).toBe("preconditions[0]");
    const second = thrown(() => checkPreconditions(preconditions, [true, true]));
    expect(second.field).toBe("preconditions[1]");
    expect(second.message).toContain("folder:f");
  });
});

describe("planDeleteByFilter", () => {
  const filter = normalizeFilter({ resourceType: "doc" });

  it("needs no count and ends every match without a limit", () => {
    expect(deleteByFilterCountBound({})).toBeUndefined();
    expect(planDeleteByFilter(filter, {}, undefined)).toEqual({ limit: undefined, partial: false });
  });

  it("counts one past the limit and ends everything when no more than the limit match", () => {
    expect(deleteByFilterCountBound({ limit: 3 })).toBe(4);
    expect(planDeleteByFilter(filter, { limit: 3 }, 3)).toEqual({ limit: 3, partial: false });
    expect(planDeleteByFilter(filter, { limit: 3 }, 0)).toEqual({ limit: 3, partial: false });
  });

  it("refuses more matches than the limit unless partial deletion is allowed", () => {
    const err = thrown(() => planDeleteByFilter(filter, { limit: 3 }, 4));
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.field).toBe("limit");
    expect(planDeleteByFilter(filter, { limit: 3, allowPartial: true }, 4)).toEqual({
      limit: 3,
      partial: true,
    });
  });
});

describe("planImportBatch", () => {
  it("inserts every line at its position in the batch when nothing exists", () => {
    const plan = planImportBatch(
      batch(["doc:a#viewer@user:x", "doc:b#viewer@user:x"]),
      rows(),
      5,
      NOW,
    );
    expect(plan.ends).toEqual([]);
    expect(plan.inserts.map((i) => i.seq)).toEqual([0, 1]);
  });

  it("refuses a line that repeats an earlier one of the batch, naming both lines", () => {
    const err = thrown(() =>
      planImportBatch(
        batch(["doc:a#viewer@user:x", "doc:b#viewer@user:x", "doc:a#viewer@user:x[cav]"], 11),
        rows(),
        5,
        NOW,
      ),
    );
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.field).toBe("line 13");
    expect(err.message).toContain("line 11");
  });

  it("refuses the first line whose tuple exists, and replaces expired ones", () => {
    const lines = batch(["doc:a#viewer@user:x", "doc:b#viewer@user:x", "doc:c#viewer@user:x"], 21);
    const err = thrown(() =>
      planImportBatch(lines, rows([2, live("r2")], [1, live("r1")]), 5, NOW),
    );
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.field).toBe("line 22");
    const plan = planImportBatch(
      lines,
      rows([2, live("r2", NOW)], [0, live("r0", NOW - 5)]),
      5,
      NOW,
    );
    expect(plan.ends).toEqual([
      { id: "r0", seq: null },
      { id: "r2", seq: null },
    ]);
    expect(plan.inserts).toHaveLength(3);
  });
});

describe("planImportConflict", () => {
  const lines = batch(["doc:a#viewer@user:x", "doc:b#viewer@user:x", "doc:a#viewer@user:x"], 7);

  it("names a repeat when the live row was inserted by this batch's revision", () => {
    const row = { id: 1, expiresAt: null, createdRev: 5, createdSeq: 0 };
    const err = thrown(() => planImportConflict(lines, 2, row, 5, NOW));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.field).toBe("line 9");
    expect(err.message).toContain("line 7");
  });

  it("refuses an existing tuple and replaces an expired one", () => {
    const existing = { id: 1, expiresAt: null, createdRev: 2, createdSeq: 0 };
    expect(thrown(() => planImportConflict(lines, 1, existing, 5, NOW)).field).toBe("line 8");
    const expired = { id: 1, expiresAt: NOW, createdRev: 2, createdSeq: 0 };
    expect(planImportConflict(lines, 1, expired, 5, NOW)).toEqual({ id: 1, seq: null });
  });
});

describe("checkSchemaGuards", () => {
  it("refuses a schema write when a guard matches, naming only the matching filters", () => {
    const viewer = normalizeFilter({ resourceType: "doc", relation: "viewer" });
    const owner = normalizeFilter({ resourceType: "doc", relation: "owner" });
    expect(() => checkSchemaGuards([{ filter: viewer, count: 0 }])).not.toThrow();
    const err = thrown(() =>
      checkSchemaGuards([
        { filter: viewer, count: 0 },
        { filter: owner, count: 2 },
      ]),
    );
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toContain("2 relationships of doc#owner");
    expect(err.message).not.toContain("viewer");
  });
});
