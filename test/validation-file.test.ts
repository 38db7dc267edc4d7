// Validation files beyond the passing examples of test/validation/: how expected relations are
// read, how every kind of mismatch is reported (at its line), how `--update` rewrites only the
// `validation:` block, `schemaFile:` with imports, and a property tying the derived expected
// relations to Check on random worlds.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SchemaError, TrellisError } from "../src/core/errors.js";
import { formatSubjectRef } from "../src/core/relationship.js";
import { Engine } from "../src/engine/engine.js";
import {
  type ExpectedSubjects,
  parseExpectedSubject,
  parseValidationFile,
  runValidationFile,
  updateValidationBlock,
  type ValidationFile,
} from "../src/engine/validation-file.js";
import { ManualClock } from "./support/manual-clock.js";
import { fuzzRuns, propertyParameters } from "./support/property-runs.js";
import { membersOf, NOW, type Scenario, scenario, universe } from "./support/random-schema.js";
import { openTestStore, type TestStore } from "./support/test-stores.js";

const clock = new ManualClock(NOW);
let store: TestStore;
let engine: Engine;
let tenants = 0;

beforeAll(async () => {
  store = await openTestStore("sqlite", clock);
  engine = new Engine(store.store, { zookieSecret: "validation-file-secret-0123456789", clock });
});

afterAll(async () => {
  await engine.close();
  await store.close();
});

async function run(file: ValidationFile) {
  const tenant = `v${++tenants}`;
  await store.store.createTenant(tenant);
  return { tenant, report: await runValidationFile(engine, tenant, file) };
}

describe("expected subject lines", () => {
  test.each([
    ["[user:tom] is <document:x#viewer>", "user:tom", false, [], ["document:x#viewer"]],
    ["[user:tom#...] is <document:x#viewer>", "user:tom", false, [], ["document:x#viewer"]],
    ["[user:tom[...]] is <document:x#viewer>", "user:tom", true, [], ["document:x#viewer"]],
    [
      "[group:eng#member] is <document:x#viewer>/<folder:f#viewer>",
      "group:eng#member",
      false,
      [],
      ["document:x#viewer", "folder:f#viewer"],
    ],
    [
      "[user:*[...] - {user:a, user:b[...]}] is <document:x#viewer>",
      "user:*",
      true,
      ["user:a", "user:b[...]"],
      ["document:x#viewer"],
    ],
    ["[user:tom]", "user:tom", false, [], undefined],
  ])("reads %j", (text, subject, caveated, excluded, reasons) => {
    const parsed = parseExpectedSubject(text);
    expect(formatSubjectRef(parsed.subject)).toBe(subject);
    expect(parsed.caveated).toBe(caveated);
    expect(
      parsed.excluded.map((x) => `${formatSubjectRef(x.subject)}${x.caveated ? "[...]" : ""}`),
    ).toEqual(excluded);
    expect(parsed.reasons).toEqual(reasons);
  });

  test.each([
    "user:tom is <document:x#viewer>",
    "[user:tom is <document:x#viewer>",
    "[user:tom] <document:x#viewer>",
    "[user:tom] is <document:x>",
    "[user:* - {user:a] is <document:x#viewer>",
    "[usertom] is <document:x#viewer>",
  ])("refuses %j as INVALID_ARGUMENT", (text) => {
    let caught: unknown;
    try {
      parseExpectedSubject(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TrellisError);
    expect((caught as TrellisError).code).toBe("INVALID_ARGUMENT");
  });
});

const BASE = `schema: |-
  definition user {}

  caveat weekday(day string) {
    day != "sunday"
  }

  definition document {
    relation viewer: user | user:* | user with weekday
    relation writer: user
    relation banned: user
    permission view = viewer + writer
    permission open = viewer - banned
  }
relationships: |-
  document:x#viewer@user:ann
  document:x#writer@user:ann
  document:x#writer@user:bob
  document:x#viewer@user:cat[weekday]
  document:y#viewer@user:*
  document:y#banned@user:dan
`;

describe("mismatches are failures at their line", () => {
  test.each([
    ["a subject not found", '    - "[user:zed] is <document:x#writer>"', 24, /not found/],
    [
      "a subject found under other relations",
      '    - "[user:bob] is <document:x#viewer>"',
      24,
      /found under <document:x#writer>/,
    ],
    ["a line without its relations", '    - "[user:bob]"', 24, /write: is/],
    ["a caveat not marked", '    - "[user:cat] is <document:x#viewer>"', 24, /behind a caveat/],
    [
      "a caveat marked where there is none",
      '    - "[user:bob[...]] is <document:x#writer>"',
      24,
      /not behind a caveat/,
    ],
    [
      "exclusions on a subject that is not a wildcard",
      '    - "[user:bob - {user:a}] is <document:x#writer>"',
      24,
      /not a wildcard/,
    ],
  ])("%s", async (_title, line, at, message) => {
    const lines = [
      '    - "[user:ann] is <document:x#viewer>/<document:x#writer>"',
      '    - "[user:bob] is <document:x#writer>"',
      '    - "[user:cat[...]] is <document:x#viewer>"',
    ].filter((l) => !l.includes(line.match(/\[user:([a-z]+)/)![1]!));
    const text = `${BASE}validation:\n  document:x#view:\n${[line, ...lines].join("\n")}\n`;
    const { report } = await run(parseValidationFile(text));
    expect(report.failures.map((f) => [f.of, f.line])).toContainEqual(["validation", at]);
    expect(report.failures.find((f) => f.line === at)?.message).toMatch(message);
  });

  test("a subject found but not listed is reported at the entry's key", async () => {
    const text = `${BASE}validation:\n  document:x#view:\n    - "[user:bob] is <document:x#writer>"\n`;
    const { report } = await run(parseValidationFile(text));
    const unlisted = report.failures.filter((f) => /not listed/.test(f.message));
    expect(unlisted.map((f) => f.line)).toEqual([23, 23]);
    expect(unlisted.map((f) => f.message).join("\n")).toContain(
      '"[user:cat[...]] is <document:x#viewer>"',
    );
  });

  test("wildcard exclusions are compared as a set", async () => {
    const text = (excluded: string) =>
      `${BASE}validation:\n  document:y#open:\n    - "[user:*${excluded}] is <document:y#viewer>"\n`;
    expect((await run(parseValidationFile(text(" - {user:dan}")))).report.failures).toEqual([]);
    const wrong = (await run(parseValidationFile(text(" - {user:eve}")))).report.failures;
    expect(wrong.map((f) => [f.line, /excludes \{user:dan\}/.test(f.message)])).toEqual([
      [24, true],
    ]);
  });

  test("an entry naming no permission of the type fails at its key", async () => {
    const text = `${BASE}validation:\n  document:x#nothing: []\n`;
    const { report } = await run(parseValidationFile(text));
    expect(report.failures.map((f) => f.line)).toEqual([23]);
  });
});

describe("rewriting the validation: block", () => {
  const FILE = `# A file whose other parts must survive byte for byte.
${BASE}validation:
  # this comment is inside the block and goes
  document:x#view:
    - "[user:ann] is <document:x#viewer>"
  "document:y#open": []

# a comment after the block stays
assertions:
  assertTrue:
    - document:x#view@user:ann   # trailing comment
`;

  test("rewrites only the block, keeps the order of its entries, and is then stable", async () => {
    const file = parseValidationFile(FILE);
    const { report } = await run(file);
    const updated = updateValidationBlock(FILE, file, report.found);
    const start = FILE.indexOf("validation:");
    expect(updated.slice(0, start)).toBe(FILE.slice(0, start));
    expect(updated.slice(updated.indexOf("\n# a comment after"))).toBe(
      FILE.slice(FILE.indexOf("\n# a comment after")),
    );
    expect(updated.slice(start, updated.indexOf("\n# a comment after"))).toBe(
      [
        "validation:",
        "  document:x#view:",
        '    - "[user:ann] is <document:x#viewer>/<document:x#writer>"',
        '    - "[user:bob] is <document:x#writer>"',
        '    - "[user:cat[...]] is <document:x#viewer>"',
        "  document:y#open:",
        '    - "[user:* - {user:dan}] is <document:y#viewer>"',
        "",
      ].join("\n"),
    );
    const again = parseValidationFile(updated);
    const second = await run(again);
    expect(second.report.failures).toEqual([]);
    expect(updateValidationBlock(updated, again, second.report.found)).toBe(updated);
  });

  test("a block at the very end, without a final newline, stays without one", async () => {
    const text = `${BASE}validation:\n  document:x#open: []`;
    const file = parseValidationFile(text);
    const { report } = await run(file);
    const updated = updateValidationBlock(text, file, report.found);
    expect(updated.endsWith('is <document:x#viewer>"')).toBe(true);
    expect(parseValidationFile(updated).validation[0]?.subjects).toHaveLength(2);
  });

  test("a file with no entries to rewrite is left as it is", async () => {
    for (const tail of ["", "validation: null\n", "validation: {}\n"]) {
      const text = `${BASE}${tail}`;
      const file = parseValidationFile(text);
      const { report } = await run(file);
      expect(updateValidationBlock(text, file, report.found)).toBe(text);
    }
  });
});

describe("schemaFile: and imports", () => {
  test("a schemaFile is read relative to the validation file, with its imports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-validation-"));
    mkdirSync(join(dir, "tests"));
    mkdirSync(join(dir, "schema"));
    writeFileSync(
      join(dir, "schema", "root.zed"),
      'use import\nimport "user.zed"\ndefinition doc {\n\trelation owner: user\n}\n',
    );
    writeFileSync(join(dir, "schema", "user.zed"), "definition user {}\n");
    const text =
      "schemaFile: ../schema/root.zed\nrelationships: |-\n  doc:d#owner@user:ann\nassertions:\n  assertTrue:\n    - doc:d#owner@user:ann\n";
    const file = parseValidationFile(text, join(dir, "tests", "check.yaml"));
    expect(file.schema).toContain("definition user {}");
    expect((await run(file)).report.failures).toEqual([]);
  });

  test("an inline schema may import, relative to the validation file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-validation-"));
    writeFileSync(join(dir, "user.zed"), "definition user {}\n");
    const text =
      'schema: |-\n  use import\n  import "user.zed"\n  definition doc {\n    relation owner: user\n  }\nrelationships: ""\n';
    const file = parseValidationFile(text, join(dir, "check.yaml"));
    expect((await run(file)).report.failures).toEqual([]);
  });

  test("an error in an imported file is a SchemaError naming that file", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-validation-"));
    writeFileSync(join(dir, "root.zed"), 'use import\nimport "user.zed"\n');
    writeFileSync(join(dir, "user.zed"), "definition user {\n\trelation friend: usr\n}\n");
    try {
      parseValidationFile("schemaFile: root.zed\n", join(dir, "check.yaml"));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SchemaError);
      const d = (err as SchemaError).diagnostics[0]!;
      expect(d.file).toMatch(/user\.zed$/);
      expect([d.position.line, d.position.column]).toEqual([2, 19]);
    }
  });

  test("a missing schemaFile is INVALID_ARGUMENT", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-validation-"));
    expect(() => parseValidationFile("schemaFile: nope.zed\n", join(dir, "x.yaml"))).toThrow(
      TrellisError,
    );
  });
});

describe("expected relations agree with Check", () => {
  /** Every permission and relation of every object the world names, as validation entries. */
  function entries(s: Scenario): ExpectedSubjects[] {
    return universe(s).objects.flatMap((o) =>
      membersOf(s.model, o.type).map((m) => ({
        resource: o,
        permission: m,
        key: `${o.type}:${o.id}#${m}`,
        subjects: [],
        line: 0,
      })),
    );
  }

  test("a subject listed without a caveat is allowed, one covered by nothing is denied, and the lines read back as a passing block", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const validation = entries(s);
        const file: ValidationFile = {
          schema: s.schemaText,
          relationships: s.tuples.map((relationship) => ({ relationship, line: 0 })),
          assertions: [],
          validation,
        };
        const { tenant, report } = await run(file);
        const subjects = universe(s).subjects.filter((x) => x.relation === undefined);
        for (const [i, entry] of validation.entries()) {
          const lines = report.found[i]!.lines.map((l) => parseExpectedSubject(l));
          for (const subject of subjects) {
            const concrete = lines.find(
              (l) =>
                l.subject.type === subject.type &&
                l.subject.id === subject.id &&
                l.subject.relation === undefined,
            );
            const wildcard = lines.find(
              (l) => l.subject.type === subject.type && l.subject.id === "*",
            );
            const exclusion = wildcard?.excluded.find((x) => x.subject.id === subject.id);
            let expected: string | undefined;
            if (concrete !== undefined && !concrete.caveated) expected = "ALLOWED";
            else if (wildcard !== undefined && !wildcard.caveated && exclusion === undefined) {
              expected = "ALLOWED";
            } else if (
              concrete === undefined &&
              (wildcard === undefined || exclusion?.caveated === false)
            ) {
              expected = "DENIED";
            }
            if (expected === undefined) continue;
            const got = await engine.check(tenant, {
              resource: entry.resource,
              permission: entry.permission,
              subject,
              consistency: "fully_consistent",
            });
            expect(
              got.permissionship,
              `${entry.key} for ${formatSubjectRef(subject)}: ${report.found[i]!.lines.join(" ; ")}`,
            ).toBe(expected);
          }
        }
        const back: ValidationFile = {
          ...file,
          validation: validation.map((e, i) => ({
            ...e,
            subjects: report.found[i]!.lines.map((l) => ({ ...parseExpectedSubject(l), line: 1 })),
          })),
        };
        expect((await run(back)).report.failures).toEqual([]);
      }),
      propertyParameters(fuzzRuns(60)),
    );
  }, 300_000);
});

describe("cycles in the data", () => {
  test("a dense cycle of groups is expanded to its least fixed point, or refused when too large", async () => {
    const groups = (n: number) => {
      const tuples: string[] = [];
      for (let i = 0; i < n; i++) {
        tuples.push(`group:g${i}#member@user:u${i}`);
        for (let j = 0; j < n; j++)
          if (i !== j) tuples.push(`group:g${i}#member@group:g${j}#member`);
      }
      return `schema: |-\n  definition user {}\n  definition group {\n    relation member: user | group#member\n  }\nrelationships: |-\n${tuples.map((t) => `  ${t}`).join("\n")}\nvalidation:\n  group:g0#member: []\n`;
    };
    const small = await run(parseValidationFile(groups(3)));
    const lines = small.report.found[0]!.lines;
    expect(lines.filter((l) => l.startsWith("[user:"))).toEqual([
      "[user:u0] is <group:g0#member>",
      "[user:u1] is <group:g1#member>",
      "[user:u2] is <group:g2#member>",
    ]);
    let caught: unknown;
    try {
      await run(parseValidationFile(groups(12)));
    } catch (err) {
      caught = err;
    }
    expect((caught as TrellisError).code).toBe("RESOURCE_EXHAUSTED");
  });
});
