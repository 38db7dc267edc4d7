/**
 * The engine against the reference evaluator (test/support/reference-evaluator.ts), on random
 * schemas, tuples and request contexts (test/support/random-schema.ts), over a real SQLite
 * store: one store for the file, a fresh tenant and a fresh engine per case, so that a failing
 * case replays (and shrinks) on its own. One property serves two tenants from one engine, as a
 * server does, since caches shared between tenants must still keep them apart.
 *
 * Missing-parameter lists of CONDITIONAL answers are compared exactly, except for pairs whose
 * answer can lean on a cycle in the data: there the list depends on where the cycle is cut
 * (the engine cuts it where its traversal re-enters it; the reference over-approximates), so
 * only the permissionship is compared. The generator never makes a cycle through the
 * subtracted side of an exclusion, so every error the engine raises is a failure.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, test } from "vitest";
import {
  type CaveatContext,
  formatObjectRef,
  formatSubjectRef,
  type ObjectRef,
  type Relationship,
  relationshipKey,
  type SubjectRef,
} from "../src/core/relationship.js";
import type { Consistency } from "../src/core/revision.js";
import { Engine, type EngineOptions, type Permissionship } from "../src/engine/engine.js";
import { compileSchemaText } from "../src/schema/compiler.js";
import { ManualClock } from "./support/manual-clock.js";
import { fuzzRuns, propertyParameters } from "./support/property-runs.js";
import {
  buildContext,
  buildTuples,
  contextSeed,
  describeTuples,
  membersOf,
  NOW,
  type Scenario,
  scenario,
  type TupleSeed,
  tupleSeed,
  universe,
} from "./support/random-schema.js";
import { type RefAnswer, ReferenceEvaluator } from "./support/reference-evaluator.js";
import { openTestStore, STORE_KINDS, type TestStore } from "./support/test-stores.js";

const clock = new ManualClock(NOW);
let testStore: TestStore;

beforeAll(async () => {
  testStore = await openTestStore("sqlite", clock);
});

afterAll(async () => {
  await testStore?.close();
});

/** Time budget of one property: generous per case, so that `make fuzz` fits too. */
function timeout(runs: number): number {
  return Math.max(120_000, runs * 500);
}

/**
 * The running property's parameters (test/support/property-runs.ts: a fixed seed of its own in
 * `make test`, fresh seeds and many runs in `make fuzz`). Shrinking replays whole worlds and
 * can take minutes; past the budget fast-check stops and reports the smallest failing world
 * found so far, with its seed, rather than the test timing out silently.
 */
function options(runs: number): fc.Parameters<unknown> {
  return propertyParameters(runs, {
    interruptAfterTimeLimit: timeout(runs) - 15_000,
    markInterruptAsFailure: true,
  });
}

// ---- worlds -----------------------------------------------------------------------------

function newEngine(options: Partial<EngineOptions> = {}, store = testStore.store): Engine {
  return new Engine(store, {
    zookieSecret: "engine-properties-secret-0123456789",
    clock,
    // The universe is tiny; a deep limit keeps RESOURCE_EXHAUSTED out of the comparison.
    maxDepth: 1000,
    cache: { maxEntries: 5_000 },
    ...options,
  });
}

async function withEngine<T>(
  options: Partial<EngineOptions>,
  body: (engine: Engine) => Promise<T>,
  store = testStore.store,
): Promise<T> {
  const engine = newEngine(options, store);
  try {
    return await body(engine);
  } finally {
    await engine.close();
  }
}

let tenantCount = 0;

/** A fresh tenant holding the scenario's schema and tuples; the zookie of the last write. */
async function load(
  engine: Engine,
  s: Scenario,
  tuples: readonly Relationship[] = s.tuples,
): Promise<{ tenant: string; zookie: string }> {
  const tenant = `props_${++tenantCount}`;
  await engine.store.createTenant(tenant);
  let { zookie } = await engine.writeSchema(tenant, s.schemaText);
  if (tuples.length > 0) {
    ({ zookie } = await engine.writeRelationships(
      tenant,
      tuples.map((relationship) => ({ op: "TOUCH" as const, relationship })),
    ));
  }
  return { tenant, zookie };
}

interface World {
  readonly scenario: Scenario;
  readonly tuples: readonly Relationship[];
  readonly context: CaveatContext;
  readonly now: number;
  readonly reference: ReferenceEvaluator;
}

function world(
  s: Scenario,
  options: { tuples?: readonly Relationship[]; context?: CaveatContext; now?: number } = {},
): World {
  const tuples = options.tuples ?? s.tuples;
  const context = options.context ?? s.context;
  const now = options.now ?? NOW;
  return {
    scenario: s,
    tuples,
    context,
    now,
    reference: new ReferenceEvaluator({
      schema: compileSchemaText(s.schemaText),
      tuples,
      now,
      context,
    }),
  };
}

// ---- answers ----------------------------------------------------------------------------

interface EngineAnswer {
  readonly permissionship: Permissionship;
  readonly missingContext?: readonly string[];
}

type Outcome = EngineAnswer | { readonly error: string };

function show(a: Outcome | RefAnswer): string {
  if ("error" in a) return `error ${a.error}`;
  if (a.permissionship !== "CONDITIONAL") return a.permissionship;
  const missing = "missing" in a ? a.missing : (a as EngineAnswer).missingContext;
  return `CONDITIONAL missing [${(missing ?? []).join(", ")}]`;
}

function errorOf(err: unknown): { error: string } {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return { error: `${typeof code === "string" ? code : "(no code)"}: ${message}` };
}

/**
 * Whether the engine's answer is the reference's. Missing lists are compared as the engine
 * returns them (it promises them sorted), unless `exactMissing` is false (see the header).
 */
function agrees(actual: Outcome, expected: RefAnswer, exactMissing: boolean): boolean {
  if ("error" in actual || actual.permissionship !== expected.permissionship) return false;
  if (expected.permissionship !== "CONDITIONAL" || !exactMissing) return true;
  const missing = actual.missingContext ?? [];
  return (
    missing.length === expected.missing.length && missing.every((m, i) => m === expected.missing[i])
  );
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

/** Throws the readable account of one disagreement: the world, the query, both answers. */
function disagreement(w: World, query: string, engine: string, reference: string): never {
  throw new Error(
    [
      `the engine disagrees with the reference on ${query}`,
      `  engine:    ${engine}`,
      `  reference: ${reference}`,
      "  schema:",
      indent(w.scenario.schemaText),
      "  tuples:",
      indent(describeTuples(w.tuples)),
      `  request context: ${JSON.stringify(w.context)}`,
      `  now: ${new Date(w.now).toISOString()}`,
    ].join("\n"),
  );
}

function checkQuery(resource: ObjectRef, member: string, subject: SubjectRef): string {
  return `check ${formatObjectRef(resource)}#${member}@${formatSubjectRef(subject)}`;
}

/** Every (object, member, subject) of the scenario's universe. */
function* allChecks(s: Scenario): Generator<[ObjectRef, string, SubjectRef]> {
  const { objects, subjects } = universe(s);
  for (const o of objects) {
    for (const m of membersOf(s.model, o.type)) {
      for (const subject of subjects) yield [o, m, subject];
    }
  }
}

async function engineCheck(
  engine: Engine,
  tenant: string,
  w: World,
  resource: ObjectRef,
  permission: string,
  subject: SubjectRef,
  consistency: Consistency,
): Promise<Outcome> {
  try {
    const r = await engine.check(tenant, {
      resource,
      permission,
      subject,
      context: w.context,
      consistency,
    });
    return r.missingContext === undefined
      ? { permissionship: r.permissionship }
      : { permissionship: r.permissionship, missingContext: r.missingContext };
  } catch (err) {
    return errorOf(err);
  }
}

/** Checks the whole universe against the reference; returns the engine's answers in order. */
async function checkEverything(
  engine: Engine,
  tenant: string,
  w: World,
  consistency: Consistency = "fully_consistent",
): Promise<Outcome[]> {
  const answers: Outcome[] = [];
  for (const [o, m, subject] of allChecks(w.scenario)) {
    const actual = await engineCheck(engine, tenant, w, o, m, subject, consistency);
    const expected = w.reference.check(o, m, subject);
    if (!agrees(actual, expected, !w.reference.dependsOnCycle(o, m))) {
      disagreement(w, checkQuery(o, m, subject), show(actual), show(expected));
    }
    answers.push(actual);
  }
  return answers;
}

// ---- properties -------------------------------------------------------------------------

describe("the engine agrees with the reference evaluator", () => {
  const checkRuns = fuzzRuns(100);
  test(
    "Check answers every question of a random world as the reference does",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          withEngine({}, async (engine) => {
            const { tenant } = await load(engine, s);
            await checkEverything(engine, tenant, world(s));
          }),
        ),
        options(checkRuns),
      );
    },
    timeout(checkRuns),
  );

  const uncachedRuns = fuzzRuns(60);
  test(
    "Check answers the same with the shared cache turned off",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          withEngine({ cache: false }, async (engine) => {
            const { tenant } = await load(engine, s);
            await checkEverything(engine, tenant, world(s));
          }),
        ),
        options(uncachedRuns),
      );
    },
    timeout(uncachedRuns),
  );

  const listObjectsRuns = fuzzRuns(80);
  test(
    "ListObjects returns exactly the objects Check allows, with Check's permissionship",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          withEngine({}, async (engine) => {
            const { tenant } = await load(engine, s);
            await listObjectsEverywhere(engine, tenant, world(s));
          }),
        ),
        options(listObjectsRuns),
      );
    },
    timeout(listObjectsRuns),
  );

  const listSubjectsRuns = fuzzRuns(80);
  test(
    "ListSubjects lists exactly the subjects Check allows, and its wildcard covers the rest",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          withEngine({}, async (engine) => {
            const { tenant } = await load(engine, s);
            await listSubjectsEverywhere(engine, tenant, world(s));
          }),
        ),
        options(listSubjectsRuns),
      );
    },
    timeout(listSubjectsRuns),
  );

  const snapshotRuns = fuzzRuns(60);
  test(
    "answers at an exact snapshot do not change when later writes add and delete tuples",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, laterWrites, (s, writes) =>
          withEngine({}, async (engine) => {
            const before = world(s);
            const { tenant, zookie } = await load(engine, s);
            const at = { atExactSnapshot: zookie };
            const first = await checkEverything(engine, tenant, before, at);
            const { mutations, after } = applyWrites(s, writes);
            if (mutations.length === 0) return;
            const written = await engine.writeRelationships(tenant, mutations);
            const again = await checkEverything(engine, tenant, before, at);
            for (let i = 0; i < first.length; i++) {
              if (show(first[i]!) !== show(again[i]!)) {
                const [o, m, subject] = [...allChecks(s)][i]!;
                disagreement(
                  before,
                  `${checkQuery(o, m, subject)} at the first snapshot, asked again after a write`,
                  show(again[i]!),
                  `the engine's first answer, ${show(first[i]!)}`,
                );
              }
            }
            await checkEverything(engine, tenant, world(s, { tuples: after }), {
              atExactSnapshot: written.zookie,
            });
          }),
        ),
        options(snapshotRuns),
      );
    },
    timeout(snapshotRuns),
  );

  const bulkRuns = fuzzRuns(40);
  test(
    "CheckBulk answers each item as the single Check does, and a failing item disturbs no other",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, contextSeed, fc.nat(), (s, otherSeed, brokenPick) =>
          withEngine({}, async (engine) => {
            const { tenant, zookie } = await load(engine, s);
            // Three request contexts: the scenario's, another, and one with a value of the wrong
            // type, on which items that reach a caveat with that parameter fail alone.
            const worlds = [
              world(s),
              world(s, { context: buildContext(otherSeed) }),
              world(s, { context: { ...s.context, [illTypedParam(s, brokenPick)]: "ill-typed" } }),
            ];
            const items = [...allChecks(s)].map(([resource, permission, subject], i) => ({
              resource,
              permission,
              subject,
              w: worlds[i % worlds.length]!,
            }));
            const consistency = { atExactSnapshot: zookie };
            const bulk = await engine.checkBulk(
              tenant,
              items.map(({ resource, permission, subject, w }) => ({
                resource,
                permission,
                subject,
                context: w.context,
              })),
              consistency,
            );
            // Singles come after the whole batch: they also see what the batch left in the cache.
            for (let i = 0; i < items.length; i++) {
              const { resource, permission, subject, w } = items[i]!;
              const r = bulk.results[i]!;
              const fromBulk: Outcome =
                "error" in r
                  ? errorOf(r.error)
                  : r.missingContext === undefined
                    ? { permissionship: r.permissionship }
                    : { permissionship: r.permissionship, missingContext: r.missingContext };
              const single = await engineCheck(
                engine,
                tenant,
                w,
                resource,
                permission,
                subject,
                consistency,
              );
              const expected = referenceOrError(w, resource, permission, subject);
              // With the ill-typed value, whether an item fails depends on evaluation order.
              if (expected === undefined) continue;
              const query = `${checkQuery(resource, permission, subject)} (item ${i} of a CheckBulk)`;
              const exact = !w.reference.dependsOnCycle(resource, permission);
              if (!agrees(fromBulk, expected, exact)) {
                disagreement(w, query, show(fromBulk), show(expected));
              }
              if (!agrees(single, expected, exact)) {
                disagreement(w, `${query}, asked again alone`, show(single), show(expected));
              }
              if (exact && show(fromBulk) !== show(single)) {
                disagreement(w, query, show(fromBulk), `the single Check's ${show(single)}`);
              }
            }
          }),
        ),
        options(bulkRuns),
      );
    },
    timeout(bulkRuns),
  );

  const clockRuns = fuzzRuns(60);
  test(
    "answers follow the clock: tuples stop granting when they expire, cached or not",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          withEngine({}, async (engine) => {
            clock.set(NOW);
            try {
              const { tenant } = await load(engine, s);
              // Every answer is cached first; then each step lets some expirations pass
              // (EXPIRATION_OFFSETS_MS: +1 ms, then +60 s).
              await checkEverything(engine, tenant, world(s));
              for (const step of [1, 60_000]) {
                clock.advance(step);
                await checkEverything(engine, tenant, world(s, { now: clock.now() }));
              }
            } finally {
              clock.set(NOW);
            }
          }),
        ),
        options(clockRuns),
      );
    },
    timeout(clockRuns),
  );

  const tenantRuns = fuzzRuns(40);
  test(
    "one engine serving two tenants answers each from its own tuples",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, scenario, (a, b) =>
          withEngine({}, async (engine) => {
            const first = await load(engine, a);
            const second = await load(engine, b);
            await checkEverything(engine, first.tenant, world(a));
            await checkEverything(engine, second.tenant, world(b));
          }),
        ),
        options(tenantRuns),
      );
    },
    timeout(tenantRuns),
  );
});

// The same answers from the store, with no index loaded: each snapshot is read through
// `StoreReader` rounds, on every store engine.
for (const kind of STORE_KINDS) {
  describe(`the engine answered from the ${kind} store agrees with the reference evaluator`, () => {
    let kindStore: TestStore;
    beforeAll(async () => {
      kindStore = await openTestStore(kind, clock);
    });
    afterAll(async () => {
      await kindStore?.close();
    });
    const storeBacked = <T>(body: (engine: Engine) => Promise<T>) =>
      withEngine({ indexTenants: false }, body, kindStore.store);

    const checkRuns = fuzzRuns(40);
    test(
      "Check, at head and at an exact snapshot after later writes",
      async () => {
        await fc.assert(
          fc.asyncProperty(scenario, laterWrites, (s, writes) =>
            storeBacked(async (engine) => {
              const { tenant, zookie } = await load(engine, s);
              await checkEverything(engine, tenant, world(s));
              const { mutations } = applyWrites(s, writes);
              if (mutations.length > 0) await engine.writeRelationships(tenant, mutations);
              await checkEverything(engine, tenant, world(s), { atExactSnapshot: zookie });
            }),
          ),
          options(checkRuns),
        );
      },
      timeout(checkRuns),
    );

    const listRuns = fuzzRuns(30);
    test(
      "ListObjects and ListSubjects",
      async () => {
        await fc.assert(
          fc.asyncProperty(scenario, (s) =>
            storeBacked(async (engine) => {
              const { tenant } = await load(engine, s);
              await listObjectsEverywhere(engine, tenant, world(s));
              await listSubjectsEverywhere(engine, tenant, world(s));
            }),
          ),
          options(listRuns),
        );
      },
      timeout(listRuns),
    );
  });
}

/** A parameter of one of the schema's caveats, which a request context will get wrong. */
function illTypedParam(s: Scenario, pick: number): string {
  const params = [...new Set(s.model.caveats.flatMap((c) => c.params))].sort();
  return params.length === 0 ? "x" : params[pick % params.length]!;
}

/** The reference's answer, or undefined where the request context makes caveats fail. */
function referenceOrError(
  w: World,
  resource: ObjectRef,
  member: string,
  subject: SubjectRef,
): RefAnswer | undefined {
  try {
    return w.reference.check(resource, member, subject);
  } catch (err) {
    if ((err as { code?: unknown }).code === "INVALID_ARGUMENT") return undefined;
    throw err;
  }
}

// ---- ListObjects and ListSubjects -------------------------------------------------------

async function listObjectsEverywhere(engine: Engine, tenant: string, w: World): Promise<void> {
  const s = w.scenario;
  const { objects, subjects } = universe(s);
  for (const type of s.model.types) {
    const known = objects.filter((o) => o.type === type.name).map((o) => o.id);
    for (const permission of membersOf(s.model, type.name)) {
      for (const subject of subjects) {
        const query = `listObjects ${type.name}#${permission}@${formatSubjectRef(subject)}`;
        const request = {
          resourceType: type.name,
          permission,
          subject,
          context: w.context,
          consistency: "fully_consistent" as const,
        };
        let listed: {
          id: string;
          permissionship: Permissionship;
          missingContext?: readonly string[];
        }[];
        try {
          listed = (await engine.listObjects(tenant, request)).objects;
        } catch (err) {
          disagreement(w, query, show(errorOf(err)), "a list");
        }
        const byId = new Map(listed.map((o) => [o.id, o]));
        // Unique ids in id order: the order a cursor resumes in.
        const listedIds = listed.map((o) => o.id);
        const sortedIds = [...byId.keys()].sort(compareIds);
        if (sortedIds.join("\u0000") !== listedIds.join("\u0000")) {
          disagreement(
            w,
            query,
            listedIds.join(", "),
            `unique ids in id order: ${sortedIds.join(", ")}`,
          );
        }
        const ids = new Set([...known, ...byId.keys()]);
        if (subject.type === type.name) ids.add(subject.id);
        for (const id of ids) {
          const resource = { type: type.name, id };
          const expected = w.reference.check(resource, permission, subject);
          const actual: Outcome = byId.get(id) ?? { permissionship: "DENIED" };
          const exact = !w.reference.dependsOnCycle(resource, permission);
          if (!agrees(actual, expected, exact)) {
            disagreement(w, `${query}, object ${id}`, show(actual), show(expected));
          }
        }
        if (listed.length >= 2) await pagesAgree(engine, tenant, w, request, listed, query);
      }
    }
  }
}

/** Paging one object at a time through the same snapshot yields the same list. */
async function pagesAgree(
  engine: Engine,
  tenant: string,
  w: World,
  request: {
    resourceType: string;
    permission: string;
    subject: SubjectRef;
    context: CaveatContext;
  },
  whole: readonly { id: string }[],
  query: string,
): Promise<void> {
  const first = await engine.listObjects(tenant, { ...request, limit: 1 });
  const ids = first.objects.map((o) => o.id);
  let cursor = first.cursor;
  while (cursor !== undefined && ids.length <= whole.length) {
    const page = await engine.listObjects(tenant, {
      ...request,
      limit: 1,
      cursor,
      consistency: { atExactSnapshot: first.zookie },
    });
    ids.push(...page.objects.map((o) => o.id));
    cursor = page.cursor;
  }
  const expected = whole.map((o) => o.id).join(", ");
  if (ids.join(", ") !== expected) {
    disagreement(w, `${query}, one object a page`, ids.join(", "), `the unpaged list ${expected}`);
  }
}

async function listSubjectsEverywhere(engine: Engine, tenant: string, w: World): Promise<void> {
  const s = w.scenario;
  const { objects, subjects } = universe(s);
  // The subject kinds to list: each type's objects, and each userset kind the universe has.
  const kinds = new Map<string, { type: string; relation?: string }>();
  for (const subject of subjects) {
    const key = `${subject.type}#${subject.relation ?? ""}`;
    if (!kinds.has(key)) {
      kinds.set(
        key,
        subject.relation === undefined
          ? { type: subject.type }
          : { type: subject.type, relation: subject.relation },
      );
    }
  }
  for (const resource of objects) {
    for (const permission of membersOf(s.model, resource.type)) {
      const exact = !w.reference.dependsOnCycle(resource, permission);
      for (const kind of kinds.values()) {
        const query = `listSubjects ${formatObjectRef(resource)}#${permission}@${kind.type}${
          kind.relation === undefined ? "" : `#${kind.relation}`
        }`;
        let result: Awaited<ReturnType<Engine["listSubjects"]>>;
        try {
          result = await engine.listSubjects(tenant, {
            resource,
            permission,
            subjectType: kind.type,
            ...(kind.relation !== undefined ? { subjectRelation: kind.relation } : {}),
            context: w.context,
            consistency: "fully_consistent",
          });
        } catch (err) {
          disagreement(w, query, show(errorOf(err)), "a list");
        }
        const byId = new Map(result.subjects.map((x) => [x.id, x]));
        const listedIds = result.subjects.map((x) => x.id);
        const sortedIds = [...byId.keys()].sort(compareIds);
        if (sortedIds.join("\u0000") !== listedIds.join("\u0000")) {
          disagreement(
            w,
            query,
            listedIds.join(", "),
            `unique ids in id order: ${sortedIds.join(", ")}`,
          );
        }
        const wildcard = result.wildcard;
        if (wildcard !== undefined && kind.relation !== undefined) {
          disagreement(w, query, `a wildcard (${show(wildcard)})`, "no wildcard for usersets");
        }
        const excluded = new Set(wildcard?.excluded ?? []);
        const ids = new Set([...byId.keys(), ...excluded]);
        for (const x of subjects) {
          if (x.type === kind.type && x.relation === kind.relation) ids.add(x.id);
        }
        for (const id of ids) {
          const subject: SubjectRef =
            kind.relation === undefined
              ? { type: kind.type, id }
              : { type: kind.type, id, relation: kind.relation };
          const expected = w.reference.check(resource, permission, subject);
          const listed = byId.get(id);
          const what = `${query}, subject ${formatSubjectRef(subject)}`;
          if (listed !== undefined) {
            if (!agrees(listed, expected, exact)) {
              disagreement(w, `${what} (listed)`, show(listed), show(expected));
            }
          } else if (wildcard !== undefined && !excluded.has(id)) {
            if (!agrees(wildcard, expected, exact)) {
              disagreement(w, `${what} (covered by the wildcard)`, show(wildcard), show(expected));
            }
          } else if (expected.permissionship !== "DENIED") {
            const how = excluded.has(id) ? "excluded from the wildcard" : "not listed";
            disagreement(w, `${what} (${how})`, "DENIED", show(expected));
          }
        }
      }
    }
  }
}

// ---- later writes -----------------------------------------------------------------------

interface WriteSeed {
  readonly op: "TOUCH" | "DELETE";
  readonly tuple: TupleSeed;
  readonly victim: number;
}

const laterWrites: fc.Arbitrary<readonly WriteSeed[]> = fc.array(
  fc.record({ op: fc.constantFrom("TOUCH", "DELETE"), tuple: tupleSeed, victim: fc.nat() }),
  { minLength: 1, maxLength: 8 },
);

/** The mutations the seeds describe (one per tuple key) and the tuples that exist after them. */
function applyWrites(
  s: Scenario,
  writes: readonly WriteSeed[],
): {
  mutations: { op: "TOUCH" | "DELETE"; relationship: Relationship }[];
  after: Relationship[];
} {
  const current = new Map(s.tuples.map((t) => [relationshipKey(t), t]));
  const mutations: { op: "TOUCH" | "DELETE"; relationship: Relationship }[] = [];
  const touched = new Set<string>();
  for (const w of writes) {
    let relationship: Relationship | undefined;
    if (w.op === "TOUCH") {
      relationship = buildTuples(s.model, [w.tuple], s.idCount)[0];
    } else if (s.tuples.length > 0) {
      relationship = s.tuples[w.victim % s.tuples.length];
    }
    if (relationship === undefined) continue;
    const key = relationshipKey(relationship);
    // The store refuses one write that names a tuple twice.
    if (touched.has(key)) continue;
    touched.add(key);
    mutations.push({ op: w.op, relationship });
    if (w.op === "TOUCH") current.set(key, relationship);
    else current.delete(key);
  }
  return { mutations, after: [...current.values()] };
}
