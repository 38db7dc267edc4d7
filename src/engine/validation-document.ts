/**
 * Validation files, in SpiceDB's format, read from their text: a schema (inline, or
 * `schemaFile:`, either of which may import other files), relationships one a line,
 * assertions (`assertTrue`, `assertFalse`, `assertCaveated`, each line optionally
 * `with {json context}`) and expected relations per `resource#permission` (`validation:`).
 * Files are read by a `ValidationSchemaFiles` (`validation-file.ts` has the file system's);
 * without one, as in a browser, only an inline schema that imports nothing is read.
 * `runValidationFile` answers every assertion with the engine and reports each failure;
 * `updateValidationBlock` rewrites the `validation:` block from the current answers.
 *
 * Expected relations are derived as SpiceDB derives them (its developer tooling, which zed
 * and the playground use): the permission is expanded through the stored relationships, a
 * userset written in a relationship is a subject and is expanded in turn to its members, and
 * the subjects met are combined by the set algebra of `+`, `&` and `-` with wildcards and their
 * exclusions. A computed userset of a rewrite is never a subject: `permission view = child` on a
 * group does not make `group:x#child` a subject of its own. Each subject is listed with the
 * relations it was found under (`is <document:x#viewer>/<group:eng#member>`) and `[...]` when a
 * caveat is on its way, whatever the caveat's context would decide.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { ExpandedSubject } from "../core/permission.js";
import {
  type CaveatContext,
  formatObjectRef,
  type ObjectRef,
  parseObjectRef,
  parseRelationship,
  parseSubjectRef,
  type Relationship,
  type SubjectRef,
} from "../core/relationship.js";
import type { TenantId } from "../core/revision.js";
import { parseSchema } from "../schema/parser.js";
import type { CompiledSchema, Rewrite } from "../schema/types.js";
import type { Engine, Permissionship } from "./engine.js";

export type AssertionKind = "assertTrue" | "assertFalse" | "assertCaveated";

export interface Assertion {
  readonly kind: AssertionKind;
  /** The line as written. */
  readonly text: string;
  /** 1-based line in the validation file. */
  readonly line: number;
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly context?: CaveatContext;
}

/** A subject a wildcard leaves out: `user:a`, or `user:a[...]` when a caveat decides it. */
export interface ExpectedExclusion {
  readonly subject: SubjectRef;
  readonly caveated: boolean;
}

/** One line of a `validation:` entry: `[user:tom] is <document:x#viewer>`. */
export interface ExpectedSubject {
  readonly subject: SubjectRef;
  readonly caveated: boolean;
  readonly excluded: readonly ExpectedExclusion[];
  /** The relations after `is`, as `type:id#relation`; absent when the line has no `is`. */
  readonly reasons?: readonly string[];
  readonly line: number;
}

export interface ExpectedSubjects {
  readonly resource: ObjectRef;
  readonly permission: string;
  /** The entry's key as written (`document:x#view`). */
  readonly key: string;
  readonly subjects: readonly ExpectedSubject[];
  readonly line: number;
}

export interface ValidationFile {
  /** The schema text to write: as written, or compiled from the files it imports. */
  readonly schema: string;
  readonly relationships: readonly { relationship: Relationship; line: number }[];
  readonly assertions: readonly Assertion[];
  readonly validation: readonly ExpectedSubjects[];
  /** Where the `validation:` block is in the file's text (key to end of value), if present. */
  readonly validationBlock?: { readonly start: number; readonly end: number };
}

export interface ValidationFailure {
  /** What failed: an assertion, or a `validation:` entry. */
  readonly of: "assertion" | "validation";
  readonly line: number;
  readonly message: string;
}

export interface ValidationReport {
  readonly checked: number;
  readonly failures: readonly ValidationFailure[];
  /**
   * The expected relations as they are now, per `validation:` entry in file order: the lines
   * `updateValidationBlock` writes.
   */
  readonly found: readonly { readonly key: string; readonly lines: readonly string[] }[];
}

// ---- reading the file -------------------------------------------------------------------

/** Where a validation file's schema comes from when it names other files. */
export interface ValidationSchemaFiles {
  /** The single text an inline schema that imports other files compiles to. */
  composeInline(inline: string): string;
  /** The single text the schema file `reference` (as `schemaFile:` writes it) compiles to. */
  readSchemaFile(reference: string): string;
}

/**
 * Reads a validation file's text; INVALID_ARGUMENT naming the line when it is malformed, a
 * `SchemaError` (its diagnostics naming files) when the schema's imports do not compile.
 * `files` reads `schemaFile:` and the schema's imports; without it they are INVALID_ARGUMENT.
 */
export function parseValidationText(text: string, files?: ValidationSchemaFiles): ValidationFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw invalidArgument(`YAML error at line ${e.linePos?.[0].line ?? "?"}: ${e.message}`);
  }
  const lineOf = (node: Node | null | undefined): number =>
    node?.range ? lines.linePos(node.range[0]).line : 1;
  const root = doc.contents;
  if (!isMap(root)) throw invalidArgument("a validation file is a YAML mapping");

  const schema = readSchema(root, files);

  const relationships: { relationship: Relationship; line: number }[] = [];
  const relNode = root.get("relationships", true);
  const relText: unknown = isScalar(relNode) ? relNode.value : undefined;
  if (typeof relText === "string") {
    const first = lineOf(relNode as Node);
    // Block scalars start on the line after the key; count from the source text.
    const source = relText.split("\n");
    source.forEach((raw: string, i: number) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("//")) return;
      const at = findLine(text, line, first + i);
      try {
        relationships.push({ relationship: parseRelationship(line), line: at });
      } catch (err) {
        throw withLine(err, at);
      }
    });
  } else if (
    relNode !== undefined &&
    relNode !== null &&
    !(isScalar(relNode) && relNode.value === null)
  ) {
    throw invalidArgument("`relationships:` is a block of text, one relationship a line");
  }

  const assertions: Assertion[] = [];
  const assertionsNode = root.get("assertions", true);
  if (isMap(assertionsNode)) {
    for (const pair of assertionsNode.items) {
      const kind = isScalar(pair.key) ? String(pair.key.value) : "";
      if (kind !== "assertTrue" && kind !== "assertFalse" && kind !== "assertCaveated") {
        throw withLine(
          invalidArgument(`unknown assertion list '${kind}'`),
          lineOf(pair.key as Node),
        );
      }
      const seq = pair.value;
      if (seq === null || (isScalar(seq) && seq.value === null)) continue;
      if (!isSeq(seq))
        throw withLine(invalidArgument(`${kind} is a list`), lineOf(pair.key as Node));
      for (const item of seq.items) {
        const line = lineOf(item as Node);
        if (!isScalar(item) || typeof item.value !== "string") {
          throw withLine(invalidArgument("an assertion is a string"), line);
        }
        try {
          assertions.push({ kind, text: item.value, line, ...parseAssertion(item.value) });
        } catch (err) {
          throw withLine(err, line);
        }
      }
    }
  }

  const validation: ExpectedSubjects[] = [];
  let validationBlock: ValidationFile["validationBlock"];
  const validationPair = root.items.find((p) => isScalar(p.key) && p.key.value === "validation");
  if (validationPair !== undefined) {
    const keyRange = (validationPair.key as Node).range!;
    const value = validationPair.value as Node | null;
    validationBlock = { start: keyRange[0], end: value?.range?.[1] ?? keyRange[1] };
  }
  const validationNode = root.get("validation", true);
  if (isMap(validationNode)) {
    for (const pair of validationNode.items) {
      const line = lineOf(pair.key as Node);
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const hash = key.lastIndexOf("#");
      if (hash < 0)
        throw withLine(invalidArgument(`expected resource#permission, got "${key}"`), line);
      let resource: ObjectRef;
      try {
        resource = parseObjectRef(key.slice(0, hash));
      } catch (err) {
        throw withLine(err, line);
      }
      const subjects: ExpectedSubject[] = [];
      const seq = pair.value;
      if (isSeq(seq)) {
        for (const item of seq.items) {
          const itemLine = lineOf(item as Node);
          if (!isScalar(item) || typeof item.value !== "string") {
            throw withLine(invalidArgument("an expected subject is a string"), itemLine);
          }
          try {
            subjects.push({ ...parseExpectedSubject(item.value), line: itemLine });
          } catch (err) {
            throw withLine(err, itemLine);
          }
        }
      }
      validation.push({ resource, permission: key.slice(hash + 1), key, subjects, line });
    }
  }
  return {
    schema,
    relationships,
    assertions,
    validation,
    ...(validationBlock !== undefined ? { validationBlock } : {}),
  };
}

/**
 * The schema text: `schema:` as written, or `schemaFile:`; a schema that imports other files,
 * and `schemaFile:`, are read and compiled by `files`.
 */
function readSchema(root: YAMLMap, files: ValidationSchemaFiles | undefined): string {
  const schemaNode = root.get("schema", true);
  const schemaFileNode = root.get("schemaFile", true);
  const noFiles = (what: string) =>
    invalidArgument(
      `${what} reads other files, and here there are none: give the schema inline, compiled into one text (trellis schema compile)`,
    );
  if (isScalar(schemaNode) && typeof schemaNode.value === "string") {
    const inline = schemaNode.value;
    if (parseSchema(inline).ast.imports.length === 0) return inline;
    if (files === undefined) throw noFiles("the schema's import");
    return files.composeInline(inline);
  }
  if (isScalar(schemaFileNode) && typeof schemaFileNode.value === "string") {
    if (files === undefined) throw noFiles("schemaFile:");
    return files.readSchemaFile(schemaFileNode.value);
  }
  throw invalidArgument("the file needs `schema:` or `schemaFile:`");
}

/** The line of `content` at or after `hint` (block scalars fold and shift lines). */
function findLine(text: string, content: string, hint: number): number {
  const all = text.split("\n");
  for (let i = Math.max(0, hint - 1); i < all.length; i++) {
    if (all[i]!.includes(content)) return i + 1;
  }
  return hint;
}

function withLine(err: unknown, line: number): TrellisError {
  if (err instanceof TrellisError) {
    return new TrellisError(err.code, `line ${line}: ${err.message}`, {
      cause: err,
      ...(err.field !== undefined ? { field: err.field } : {}),
    });
  }
  return new TrellisError("INVALID_ARGUMENT", `line ${line}: ${String(err)}`, { cause: err });
}

/** `resource#permission@subject` optionally followed by ` with {json}`. */
export function parseAssertion(text: string): {
  resource: ObjectRef;
  permission: string;
  subject: SubjectRef;
  context?: CaveatContext;
} {
  const withAt = text.indexOf(" with ");
  const head = (withAt < 0 ? text : text.slice(0, withAt)).trim();
  let context: CaveatContext | undefined;
  if (withAt >= 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.slice(withAt + 6));
    } catch (cause) {
      throw new TrellisError("INVALID_ARGUMENT", "assertion context is not valid JSON", { cause });
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw invalidArgument("assertion context must be a JSON object");
    }
    context = parsed as CaveatContext;
  }
  const hash = head.indexOf("#");
  const at = head.indexOf("@", hash);
  if (hash < 0 || at < 0)
    throw invalidArgument(`expected resource#permission@subject, got "${head}"`);
  return {
    resource: parseObjectRef(head.slice(0, hash)),
    permission: head.slice(hash + 1, at),
    subject: parseSubjectRef(head.slice(at + 1)),
    ...(context !== undefined ? { context } : {}),
  };
}

/**
 * One line of a `validation:` entry, in SpiceDB's format: `[user:tom] is <document:x#viewer>`,
 * a caveated subject `[user:tom[...]]`, a wildcard with exclusions
 * `[user:* - {user:a, user:b[...]}]`, and after `is` the relations the subject was found
 * under, `<…>/<…>`. An explicit `#...` on an object subject means the object itself.
 */
export function parseExpectedSubject(text: string): Omit<ExpectedSubject, "line"> {
  const open = text.indexOf("[");
  if (open < 0) throw invalidArgument(`expected "[subject] is <...>", got "${text}"`);
  let depth = 0;
  let close = -1;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "[") depth++;
    else if (text[i] === "]" && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0) throw invalidArgument(`unclosed "[" in "${text}"`);
  let inner = text.slice(open + 1, close).trim();
  let excluded: ExpectedExclusion[] = [];
  const minus = inner.indexOf(" - {");
  if (minus >= 0) {
    if (!inner.endsWith("}")) throw invalidArgument(`unclosed "{" in "${text}"`);
    excluded = inner
      .slice(minus + 4, -1)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => {
        const caveated = s.endsWith("[...]");
        return { subject: expectedRef(caveated ? s.slice(0, -5) : s), caveated };
      });
    inner = inner.slice(0, minus).trim();
  }
  const caveated = inner.endsWith("[...]");
  if (caveated) inner = inner.slice(0, -5).trim();
  const rest = text.slice(close + 1).trim();
  let reasons: string[] | undefined;
  if (rest !== "") {
    if (!rest.startsWith("is ")) {
      throw invalidArgument(`expected "is <...>" after "]" in "${text}"`);
    }
    reasons = [];
    for (const m of rest.slice(3).matchAll(/<([^<>]*)>/g)) {
      const onr = m[1]!;
      const hash = onr.lastIndexOf("#");
      if (hash < 0) throw invalidArgument(`expected <type:id#relation>, got <${onr}>`);
      reasons.push(`${formatObjectRef(parseObjectRef(onr.slice(0, hash)))}#${onr.slice(hash + 1)}`);
    }
  }
  return {
    subject: expectedRef(inner),
    caveated,
    excluded,
    ...(reasons !== undefined ? { reasons } : {}),
  };
}

/** A subject as an expected line writes it; `#...` is the object itself. */
function expectedRef(text: string): SubjectRef {
  return parseSubjectRef(text.endsWith("#...") ? text.slice(0, -4) : text);
}

// ---- subject sets: SpiceDB's membership algebra -----------------------------------------

/**
 * A subject found, or a subject a wildcard excludes: whether a caveat stands in its way, and
 * the relations (`type:id#relation`) it was found under.
 */
interface Found {
  readonly caveated: boolean;
  readonly reasons: ReadonlySet<string>;
}

interface FoundWildcard extends Found {
  /** Subject ids the wildcard does not reach (a caveated exclusion may yet let them in). */
  readonly excluded: ReadonlyMap<string, Found>;
}

/** The subjects of one subject type and relation: concrete ids and perhaps the wildcard. */
interface SubjectSet {
  readonly concrete: ReadonlyMap<string, Found>;
  readonly wildcard?: FoundWildcard;
}

/** Subject sets by `type#relation` (`user#...` for the objects themselves). */
type Membership = ReadonlyMap<string, SubjectSet>;

const EMPTY: Membership = new Map();

function merged(caveated: boolean, ...sources: Found[]): Found {
  const reasons = new Set<string>();
  for (const s of sources) for (const r of s.reasons) reasons.add(r);
  return { caveated, reasons };
}

/**
 * The set algebra, on caveats as present or not (SpiceDB keeps their expressions; whether an
 * expression remains is what a validation file shows). A union keeps a subject uncaveated when
 * either side has it so; an intersection or a subtraction that a caveat takes part in leaves it
 * caveated. A subject in both a wildcard and the concrete set is listed in both.
 */
class SetBuilder {
  concrete = new Map<string, Found>();
  wildcard: FoundWildcard | undefined;

  constructor(from?: SubjectSet) {
    if (from !== undefined) {
      this.concrete = new Map(from.concrete);
      this.wildcard = from.wildcard;
    }
  }

  build(): SubjectSet {
    return {
      concrete: this.concrete,
      ...(this.wildcard !== undefined ? { wildcard: this.wildcard } : {}),
    };
  }

  addConcrete(id: string, c: Found): void {
    const existing = this.concrete.get(id);
    this.concrete.set(id, existing ? merged(existing.caveated && c.caveated, existing, c) : c);
    this.#unexclude(id, c);
  }

  /** A concrete subject added beside a wildcard lifts its exclusion, or makes it caveated. */
  #unexclude(id: string, c: Found): void {
    const w = this.wildcard;
    const x = w?.excluded.get(id);
    if (w === undefined || x === undefined) return;
    const excluded = new Map(w.excluded);
    if (c.caveated) excluded.set(id, merged(true, x, c));
    else excluded.delete(id);
    this.wildcard = { ...w, excluded };
  }

  addWildcard(w: FoundWildcard): void {
    const existing = this.wildcard;
    if (existing === undefined) {
      this.wildcard = w;
    } else {
      // Excluded only where both wildcards exclude.
      const excluded = new Map<string, Found>();
      for (const [id, x] of existing.excluded) {
        const y = w.excluded.get(id);
        if (y !== undefined) excluded.set(id, merged(x.caveated || y.caveated, x, y));
      }
      this.wildcard = { ...merged(existing.caveated && w.caveated, existing, w), excluded };
    }
    for (const [id, c] of this.concrete) this.#unexclude(id, c);
  }

  union(other: SubjectSet): void {
    for (const [id, c] of other.concrete) this.addConcrete(id, c);
    if (other.wildcard !== undefined) this.addWildcard(other.wildcard);
  }

  subtract(other: SubjectSet): void {
    for (const [id, r] of other.concrete) this.#subtractConcrete(id, r);
    if (other.wildcard !== undefined) this.#subtractWildcard(other.wildcard);
  }

  #subtractConcrete(id: string, r: Found): void {
    const existing = this.concrete.get(id);
    if (existing !== undefined) {
      if (r.caveated) this.concrete.set(id, merged(true, existing, r));
      else this.concrete.delete(id);
    }
    const w = this.wildcard;
    if (w !== undefined) {
      const excluded = new Map(w.excluded);
      const x = excluded.get(id);
      excluded.set(id, x === undefined ? r : merged(x.caveated && r.caveated, x, r));
      this.wildcard = { ...w, excluded };
    }
  }

  #subtractWildcard(rw: FoundWildcard): void {
    for (const [id, e] of [...this.concrete]) {
      const x = rw.excluded.get(id);
      if (x === undefined) {
        if (rw.caveated) this.concrete.set(id, { caveated: true, reasons: e.reasons });
        else this.concrete.delete(id);
      } else if (x.caveated) {
        this.concrete.set(id, { caveated: true, reasons: e.reasons });
      }
    }
    const w = this.wildcard;
    if (w === undefined) return;
    if (!rw.caveated && rw.excluded.size === 0) {
      this.wildcard = undefined;
      return;
    }
    // What the subtracted wildcard excludes and this one does not stays, as concrete subjects.
    for (const [id, y] of rw.excluded) {
      const x = w.excluded.get(id);
      if (x === undefined || x.caveated) {
        const caveated = w.caveated || rw.caveated || y.caveated || x !== undefined;
        this.concrete.set(id, { caveated, reasons: y.reasons });
      }
    }
    this.wildcard =
      w.caveated || rw.caveated ? { ...merged(true, w, rw), excluded: w.excluded } : undefined;
  }
}

function intersectSets(a: SubjectSet, b: SubjectSet): SubjectSet {
  const out = new SetBuilder();
  if (a.wildcard !== undefined && b.wildcard !== undefined) {
    // Excluded where either excludes.
    const excluded = new Map(a.wildcard.excluded);
    for (const [id, y] of b.wildcard.excluded) {
      const x = excluded.get(id);
      excluded.set(id, x === undefined ? y : merged(x.caveated && y.caveated, x, y));
    }
    out.wildcard = {
      ...merged(a.wildcard.caveated || b.wildcard.caveated, a.wildcard, b.wildcard),
      excluded,
    };
  }
  for (const [id, e] of a.concrete) {
    const f = b.concrete.get(id);
    const both = f === undefined ? undefined : merged(e.caveated || f.caveated, e, f);
    const viaWildcard = b.wildcard === undefined ? undefined : withinWildcard(e, id, b.wildcard);
    const result =
      both !== undefined && viaWildcard !== undefined
        ? merged(both.caveated && viaWildcard.caveated, both, viaWildcard)
        : (both ?? viaWildcard);
    if (result !== undefined) out.concrete.set(id, result);
  }
  if (a.wildcard !== undefined) {
    for (const [id, f] of b.concrete) {
      const viaWildcard = withinWildcard(f, id, a.wildcard);
      if (viaWildcard === undefined) continue;
      const existing = out.concrete.get(id);
      out.concrete.set(
        id,
        existing === undefined
          ? viaWildcard
          : merged(existing.caveated && viaWildcard.caveated, existing, viaWildcard),
      );
    }
  }
  return out.build();
}

/** A concrete subject intersected with a wildcard: kept unless excluded outright. */
function withinWildcard(c: Found, id: string, w: FoundWildcard): Found | undefined {
  const x = w.excluded.get(id);
  if (x === undefined) return w.caveated ? merged(true, c, w) : c;
  return x.caveated ? merged(true, c, w, x) : undefined;
}

function union(a: Membership, b: Membership): Membership {
  if (a.size === 0) return b;
  if (b.size === 0) return a;
  const out = new Map(a);
  for (const [key, set] of b) {
    const existing = out.get(key);
    if (existing === undefined) out.set(key, set);
    else {
      const builder = new SetBuilder(existing);
      builder.union(set);
      out.set(key, builder.build());
    }
  }
  return out;
}

function intersect(a: Membership, b: Membership): Membership {
  const out = new Map<string, SubjectSet>();
  for (const [key, set] of a) {
    const other = b.get(key);
    if (other !== undefined) out.set(key, intersectSets(set, other));
  }
  return out;
}

function exclude(a: Membership, b: Membership): Membership {
  const out = new Map<string, SubjectSet>();
  for (const [key, set] of a) {
    const other = b.get(key);
    if (other === undefined) out.set(key, set);
    else {
      const builder = new SetBuilder(set);
      builder.subtract(other);
      out.set(key, builder.build());
    }
  }
  return out;
}

/** Every subject of `m` behind a caveat (a caveated relationship on the way to them). */
function caveatAll(m: Membership): Membership {
  const out = new Map<string, SubjectSet>();
  const behind = (f: Found): Found => ({ caveated: true, reasons: f.reasons });
  for (const [key, set] of m) {
    const concrete = new Map([...set.concrete].map(([id, f]) => [id, behind(f)] as const));
    out.set(key, {
      concrete,
      ...(set.wildcard !== undefined
        ? { wildcard: { ...behind(set.wildcard), excluded: set.wildcard.excluded } }
        : {}),
    });
  }
  return out;
}

// ---- expansion --------------------------------------------------------------------------

/**
 * Expands `resource#member` through the stored relationships, as SpiceDB's recursive Expand
 * does, into the subjects met. Relationships are read through the engine (Expand of a
 * relation: its visible subjects at the head revision). A userset or object met again on its
 * own path contributes nothing more there (SpiceDB gives up on such data at its depth limit;
 * Trellis answers with what the cycle reaches, the least fixed point).
 */
/**
 * Most expansions of one validation file's entries. What no cycle cuts short is expanded once;
 * inside a cycle an expansion is repeated along each path into it, which dense cycles make
 * many.
 */
const MAX_EXPANSIONS = 50_000;

class Expander {
  readonly #engine: Engine;
  readonly #tenant: TenantId;
  readonly #schema: CompiledSchema;
  readonly #reads = new Map<string, Promise<readonly ExpandedSubject[]>>();
  /** Finished expansions that no cycle cut short. */
  readonly #done = new Map<string, Membership>();
  /** Expansions begun, against `MAX_EXPANSIONS`. */
  #expansions = 0;

  constructor(engine: Engine, tenant: TenantId, schema: CompiledSchema) {
    this.#engine = engine;
    this.#tenant = tenant;
    this.#schema = schema;
  }

  async expand(resource: ObjectRef, member: string): Promise<Membership> {
    return (await this.#member(resource, member, new Set())).membership;
  }

  /** The visible subjects of one relation of one object. */
  #read(resource: ObjectRef, relation: string): Promise<readonly ExpandedSubject[]> {
    const key = `${formatObjectRef(resource)}#${relation}`;
    let read = this.#reads.get(key);
    if (read === undefined) {
      read = this.#engine
        .expand(this.#tenant, {
          resource,
          permission: relation,
          consistency: "fully_consistent",
        })
        .then(({ tree }) => (tree.kind === "leaf" ? tree.subjects : []));
      this.#reads.set(key, read);
    }
    return read;
  }

  async #member(
    resource: ObjectRef,
    member: string,
    path: ReadonlySet<string>,
  ): Promise<{ membership: Membership; cut: boolean }> {
    const onr = `${formatObjectRef(resource)}#${member}`;
    const done = this.#done.get(onr);
    if (done !== undefined) return { membership: done, cut: false };
    if (path.has(onr)) return { membership: EMPTY, cut: true };
    if (++this.#expansions > MAX_EXPANSIONS) {
      throw new TrellisError(
        "RESOURCE_EXHAUSTED",
        `expanding ${onr} for the validation: block took over ${MAX_EXPANSIONS} steps: the relationships form cycles with many paths (SpiceDB refuses cycles here)`,
      );
    }
    const definition = this.#schema.definitions.get(resource.type)?.members.get(member);
    if (definition === undefined) return { membership: EMPTY, cut: false };
    const inner = new Set(path).add(onr);
    const result =
      definition.kind === "relation"
        ? await this.#relation(resource, member, onr, inner)
        : await this.#rewrite(definition.rewrite, resource, onr, inner);
    if (!result.cut) this.#done.set(onr, result.membership);
    return result;
  }

  /** A relation's subjects, each userset among them expanded in turn (behind its caveat). */
  async #relation(
    resource: ObjectRef,
    relation: string,
    onr: string,
    path: ReadonlySet<string>,
  ): Promise<{ membership: Membership; cut: boolean }> {
    const direct = new Map<string, SetBuilder>();
    let membership: Membership = EMPTY;
    let cut = false;
    for (const s of await this.#read(resource, relation)) {
      const key = `${s.subject.type}#${s.subject.relation ?? "..."}`;
      let builder = direct.get(key);
      if (builder === undefined) {
        builder = new SetBuilder();
        direct.set(key, builder);
      }
      const found: Found = { caveated: s.caveat !== undefined, reasons: new Set([onr]) };
      if (s.subject.id === "*") builder.addWildcard({ ...found, excluded: new Map() });
      else builder.addConcrete(s.subject.id, found);
      if (s.subject.relation !== undefined) {
        const members = await this.#member(s.subject, s.subject.relation, path);
        cut ||= members.cut;
        membership = union(
          membership,
          s.caveat !== undefined ? caveatAll(members.membership) : members.membership,
        );
      }
    }
    const own = new Map([...direct].map(([key, b]) => [key, b.build()] as const));
    return { membership: union(own, membership), cut };
  }

  async #rewrite(
    r: Rewrite,
    at: ObjectRef,
    onr: string,
    path: ReadonlySet<string>,
  ): Promise<{ membership: Membership; cut: boolean }> {
    switch (r.kind) {
      case "computed":
        return this.#member(at, r.member, path);
      case "nil":
        return { membership: EMPTY, cut: false };
      case "self": {
        const found = { caveated: false, reasons: new Set([onr]) };
        const set = { concrete: new Map([[at.id, found]]) };
        return { membership: new Map([[`${at.type}#...`, set]]), cut: false };
      }
      case "union":
      case "intersection": {
        let membership: Membership | undefined;
        let cut = false;
        for (const child of r.children) {
          const next = await this.#rewrite(child, at, onr, path);
          cut ||= next.cut;
          membership =
            membership === undefined
              ? next.membership
              : r.kind === "union"
                ? union(membership, next.membership)
                : intersect(membership, next.membership);
        }
        return { membership: membership ?? EMPTY, cut };
      }
      case "exclusion": {
        const base = await this.#rewrite(r.base, at, onr, path);
        const subtract = await this.#rewrite(r.subtract, at, onr, path);
        return {
          membership: exclude(base.membership, subtract.membership),
          cut: base.cut || subtract.cut,
        };
      }
      case "arrow": {
        let membership: Membership | undefined;
        let cut = false;
        for (const s of await this.#read(at, r.tupleset)) {
          const target = { type: s.subject.type, id: s.subject.id };
          if (!this.#schema.definitions.get(target.type)?.members.has(r.computed)) {
            // `.all()` needs every object to have the target, as Check does; `->` skips it.
            if (r.mode === "all") return { membership: EMPTY, cut };
            continue;
          }
          const next = await this.#member(target, r.computed, path);
          cut ||= next.cut;
          const found = s.caveat !== undefined ? caveatAll(next.membership) : next.membership;
          membership =
            membership === undefined
              ? found
              : r.mode === "all"
                ? intersect(membership, found)
                : union(membership, found);
        }
        return { membership: membership ?? EMPTY, cut };
      }
    }
  }
}

// ---- found subjects, as lines -----------------------------------------------------------

interface FoundLine {
  /** `user:tom`, `group:eng#member`, `user:*`. */
  readonly subject: string;
  readonly caveated: boolean;
  /** For a wildcard: what it excludes, `user:a` or `user:a[...]`, sorted. */
  readonly excluded: readonly string[];
  /** `type:id#relation`, sorted. */
  readonly reasons: readonly string[];
}

function subjectText(type: string, id: string, relation: string): string {
  return relation === "..." ? `${type}:${id}` : `${type}:${id}#${relation}`;
}

function foundLines(m: Membership): Map<string, FoundLine> {
  const out = new Map<string, FoundLine>();
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  for (const [key, set] of m) {
    const hash = key.lastIndexOf("#");
    const type = key.slice(0, hash);
    const relation = key.slice(hash + 1);
    const add = (id: string, f: Found, excluded: readonly string[]) => {
      const subject = subjectText(type, id, relation);
      out.set(subject, {
        subject,
        caveated: f.caveated,
        excluded,
        reasons: [...f.reasons].sort(byName),
      });
    };
    for (const [id, f] of set.concrete) add(id, f, []);
    if (set.wildcard !== undefined) {
      const excluded = [...set.wildcard.excluded]
        .map(([id, x]) => `${subjectText(type, id, relation)}${x.caveated ? "[...]" : ""}`)
        .sort(byName);
      add("*", set.wildcard, excluded);
    }
  }
  return out;
}

/** The line SpiceDB's tooling writes for a found subject. */
export function formatFoundLine(f: FoundLine): string {
  const caveat = f.caveated ? "[...]" : "";
  const excluded = f.excluded.length > 0 ? ` - {${f.excluded.join(", ")}}` : "";
  return `[${f.subject}${caveat}${excluded}] is ${f.reasons.map((r) => `<${r}>`).join("/")}`;
}

function expectedText(s: SubjectRef): string {
  return subjectText(s.type, s.id, s.relation ?? "...");
}

// ---- running ----------------------------------------------------------------------------

const EXPECTED: Record<AssertionKind, Permissionship> = {
  assertTrue: "ALLOWED",
  assertFalse: "DENIED",
  assertCaveated: "CONDITIONAL",
};

/**
 * Loads the file's schema and relationships into `tenant` (which must be empty), answers every
 * assertion, and derives the expected relations of every `validation:` entry, comparing them
 * with what the file expects.
 */
export async function runValidationFile(
  engine: Engine,
  tenant: TenantId,
  file: ValidationFile,
): Promise<ValidationReport> {
  const { schema } = await engine.writeSchema(tenant, file.schema);
  if (file.relationships.length > 0) {
    const mutations = file.relationships.map((r) => ({
      op: "TOUCH" as const,
      relationship: r.relationship,
    }));
    for (let i = 0; i < mutations.length; i += 1000) {
      try {
        await engine.writeRelationships(tenant, mutations.slice(i, i + 1000));
      } catch (err) {
        const line = failingLine(err, file, i);
        throw line === undefined ? err : withLine(err, line);
      }
    }
  }
  const consistency = "fully_consistent" as const;
  const failures: ValidationFailure[] = [];
  for (const a of file.assertions) {
    let got: Permissionship;
    try {
      got = (
        await engine.check(tenant, {
          resource: a.resource,
          permission: a.permission,
          subject: a.subject,
          ...(a.context !== undefined ? { context: a.context } : {}),
          consistency,
        })
      ).permissionship;
    } catch (err) {
      failures.push({
        of: "assertion",
        line: a.line,
        message: `${a.kind} "${a.text}": ${(err as Error).message}`,
      });
      continue;
    }
    if (got !== EXPECTED[a.kind]) {
      failures.push({
        of: "assertion",
        line: a.line,
        message: `${a.kind} failed: "${a.text}" is ${got}, expected ${EXPECTED[a.kind]}`,
      });
    }
  }
  const expander = new Expander(engine, tenant, schema);
  const found: { key: string; lines: string[] }[] = [];
  for (const entry of file.validation) {
    const where = `${formatObjectRef(entry.resource)}#${entry.permission}`;
    const definition = schema.definitions.get(entry.resource.type);
    if (definition?.members.get(entry.permission) === undefined) {
      failures.push({
        of: "validation",
        line: entry.line,
        message: `validation of ${where}: ${definition === undefined ? `no definition ${entry.resource.type}` : `no relation or permission ${entry.permission} on ${entry.resource.type}`}`,
      });
      found.push({ key: entry.key, lines: [] });
      continue;
    }
    const lines = foundLines(await expander.expand(entry.resource, entry.permission));
    found.push({ key: entry.key, lines: [...lines.values()].map(formatFoundLine).sort() });
    failures.push(...compareExpected(entry, where, lines));
  }
  return { checked: file.assertions.length + file.validation.length, failures, found };
}

/** Every difference between an entry's lines and the subjects found, as SpiceDB reports them. */
function compareExpected(
  entry: ExpectedSubjects,
  where: string,
  found: ReadonlyMap<string, FoundLine>,
): ValidationFailure[] {
  const failures: ValidationFailure[] = [];
  const listed = new Set<string>();
  for (const e of entry.subjects) {
    const subject = expectedText(e.subject);
    listed.add(subject);
    const f = found.get(subject);
    const fail = (message: string) =>
      failures.push({
        of: "validation",
        line: e.line,
        message: `validation of ${where}: ${message}`,
      });
    if (f === undefined) {
      fail(`expected [${subject}], which is not found`);
      continue;
    }
    const reasons = [...(e.reasons ?? [])].sort();
    if (reasons.join("/") !== f.reasons.join("/")) {
      fail(
        `[${subject}] is found under ${f.reasons.map((r) => `<${r}>`).join("/")}, the file says ${
          e.reasons === undefined
            ? "nothing (write: is <…>)"
            : reasons.map((r) => `<${r}>`).join("/")
        }`,
      );
    }
    const excluded = e.excluded
      .map((x) => `${expectedText(x.subject)}${x.caveated ? "[...]" : ""}`)
      .sort();
    if (subject.endsWith(":*")) {
      if (excluded.join(", ") !== f.excluded.join(", ")) {
        fail(
          `[${subject}] excludes {${f.excluded.join(", ")}}, the file says {${excluded.join(", ")}}`,
        );
      }
    } else if (excluded.length > 0) {
      fail(`[${subject}] is not a wildcard and excludes nothing`);
    }
    if (e.caveated !== f.caveated) {
      fail(
        f.caveated
          ? `[${subject}] is behind a caveat: write [${subject}[...]]`
          : `[${subject}] is not behind a caveat: drop its [...]`,
      );
    }
  }
  for (const f of found.values()) {
    if (!listed.has(f.subject)) {
      failures.push({
        of: "validation",
        line: entry.line,
        message: `validation of ${where}: ${f.subject} is found but not listed: "${formatFoundLine(f)}"`,
      });
    }
  }
  return failures;
}

function failingLine(err: unknown, file: ValidationFile, offset: number): number | undefined {
  const field = err instanceof TrellisError ? err.field : undefined;
  const m = field?.match(/^mutations\[(\d+)\]/);
  if (m === null || m === undefined) return undefined;
  return file.relationships[offset + Number(m[1])]?.line;
}

// ---- updating ---------------------------------------------------------------------------

/** A mapping key as YAML reads it back: plain where that is safe, quoted otherwise. */
function yamlKey(key: string): string {
  return /^[A-Za-z][A-Za-z0-9/_|\-=+@.:#*]*$/.test(key) && !key.endsWith(":")
    ? key
    : JSON.stringify(key);
}

/**
 * The file's text with its `validation:` block rewritten from `found` (a report's), every
 * other byte as it was. Entries keep their order; each entry's lines are sorted, as SpiceDB's
 * tooling writes them. A file without a `validation:` entry is returned unchanged.
 */
export function updateValidationBlock(
  text: string,
  file: ValidationFile,
  found: ValidationReport["found"],
): string {
  const block = file.validationBlock;
  if (block === undefined || found.length === 0) return text;
  const lines = ["validation:"];
  for (const entry of found) {
    if (entry.lines.length === 0) {
      lines.push(`  ${yamlKey(entry.key)}: []`);
      continue;
    }
    lines.push(`  ${yamlKey(entry.key)}:`);
    for (const line of entry.lines) lines.push(`    - ${JSON.stringify(line)}`);
  }
  const original = text.slice(block.start, block.end);
  const replacement = `${lines.join("\n")}${original.endsWith("\n") ? "\n" : ""}`;
  return text.slice(0, block.start) + replacement + text.slice(block.end);
}
