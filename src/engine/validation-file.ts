/**
 * Validation files, in SpiceDB's format: a schema (inline or `schemaFile`), relationships one a
 * line, assertions (`assertTrue`, `assertFalse`, `assertCaveated`, each line optionally
 * `with {json context}`) and expected subjects per `resource#permission` (`validation`).
 * `runValidationFile` answers every assertion with the engine and reports each failure.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { invalidArgument, TrellisError } from "../core/errors.js";
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

/** One expected subject of a `validation:` entry: `[user:tom]`, `[user:tom[...]]`, `[user:* - {user:a}]`. */
export interface ExpectedSubject {
  readonly subject: SubjectRef;
  readonly caveated: boolean;
  readonly excluded: readonly SubjectRef[];
  readonly line: number;
}

export interface ExpectedSubjects {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subjects: readonly ExpectedSubject[];
  readonly line: number;
}

export interface ValidationFile {
  readonly schema: string;
  readonly relationships: readonly { relationship: Relationship; line: number }[];
  readonly assertions: readonly Assertion[];
  readonly validation: readonly ExpectedSubjects[];
}

export interface ValidationFailure {
  readonly line: number;
  readonly message: string;
}

export interface ValidationReport {
  readonly checked: number;
  readonly failures: readonly ValidationFailure[];
}

/** Reads a validation file; INVALID_ARGUMENT naming the line when it is malformed. */
export function parseValidationFile(text: string, path?: string): ValidationFile {
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

  let schema: string | undefined;
  const schemaNode = root.get("schema", true);
  const schemaFileNode = root.get("schemaFile", true);
  if (isScalar(schemaNode) && typeof schemaNode.value === "string") schema = schemaNode.value;
  else if (isScalar(schemaFileNode) && typeof schemaFileNode.value === "string") {
    const base = path === undefined ? process.cwd() : dirname(path);
    try {
      schema = readFileSync(resolve(base, schemaFileNode.value), "utf8");
    } catch (cause) {
      throw new TrellisError("INVALID_ARGUMENT", `cannot read schemaFile ${schemaFileNode.value}`, {
        cause,
      });
    }
  }
  if (schema === undefined) throw invalidArgument("the file needs `schema:` or `schemaFile:`");

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
      validation.push({ resource, permission: key.slice(hash + 1), subjects, line });
    }
  }
  return { schema, relationships, assertions, validation };
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

/** `[user:tom] is <…>`, `[user:tom[...]]`, `[user:* - {user:a, user:b}]`; the reasons are ignored. */
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
  let caveated = false;
  if (inner.endsWith("[...]")) {
    caveated = true;
    inner = inner.slice(0, -5).trim();
  }
  let excluded: SubjectRef[] = [];
  const minus = inner.indexOf(" - {");
  if (minus >= 0) {
    const list = inner.slice(minus + 4, inner.lastIndexOf("}"));
    excluded = list
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => parseSubjectRef(s.replace(/\[\.\.\.\]$/, "")));
    inner = inner.slice(0, minus).trim();
  }
  return { subject: parseSubjectRef(inner), caveated, excluded };
}

const EXPECTED: Record<AssertionKind, Permissionship> = {
  assertTrue: "ALLOWED",
  assertFalse: "DENIED",
  assertCaveated: "CONDITIONAL",
};

/**
 * Loads the file's schema and relationships into `tenant` (which must be empty) and answers
 * every assertion and expected-subjects entry at the resulting revision.
 */
export async function runValidationFile(
  engine: Engine,
  tenant: TenantId,
  file: ValidationFile,
): Promise<ValidationReport> {
  await engine.writeSchema(tenant, file.schema);
  let zookie: string | undefined;
  if (file.relationships.length > 0) {
    const mutations = file.relationships.map((r) => ({
      op: "TOUCH" as const,
      relationship: r.relationship,
    }));
    for (let i = 0; i < mutations.length; i += 1000) {
      try {
        zookie = (await engine.writeRelationships(tenant, mutations.slice(i, i + 1000))).zookie;
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
      failures.push({ line: a.line, message: `${a.kind} "${a.text}": ${(err as Error).message}` });
      continue;
    }
    if (got !== EXPECTED[a.kind]) {
      failures.push({
        line: a.line,
        message: `${a.kind} failed: "${a.text}" is ${got}, expected ${EXPECTED[a.kind]}`,
      });
    }
  }
  for (const entry of file.validation) {
    failures.push(...(await compareExpected(engine, tenant, entry)));
  }
  void zookie;
  return { checked: file.assertions.length + file.validation.length, failures };
}

function failingLine(err: unknown, file: ValidationFile, offset: number): number | undefined {
  const field = err instanceof TrellisError ? err.field : undefined;
  const m = field?.match(/^mutations\[(\d+)\]/);
  if (m === null || m === undefined) return undefined;
  return file.relationships[offset + Number(m[1])]?.line;
}

function subjectText(s: SubjectRef): string {
  return s.relation === undefined ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

async function compareExpected(
  engine: Engine,
  tenant: TenantId,
  entry: ExpectedSubjects,
): Promise<ValidationFailure[]> {
  const where = `${formatObjectRef(entry.resource)}#${entry.permission}`;
  const expected = new Map<string, string>();
  const kinds = new Map<string, { type: string; relation?: string }>();
  for (const e of entry.subjects) {
    const s = e.subject;
    kinds.set(`${s.type}#${s.relation ?? ""}`, {
      type: s.type,
      ...(s.relation !== undefined ? { relation: s.relation } : {}),
    });
    const excluded = e.excluded.map(subjectText).sort().join(", ");
    expected.set(
      subjectText(s),
      `${e.caveated ? "caveated" : "allowed"}${excluded ? ` except ${excluded}` : ""}`,
    );
  }
  const actual = new Map<string, string>();
  for (const kind of kinds.values()) {
    const result = await engine.listSubjects(tenant, {
      resource: entry.resource,
      permission: entry.permission,
      subjectType: kind.type,
      ...(kind.relation !== undefined ? { subjectRelation: kind.relation } : {}),
      consistency: "fully_consistent",
    });
    for (const s of result.subjects) {
      const ref = {
        type: kind.type,
        id: s.id,
        ...(kind.relation !== undefined ? { relation: kind.relation } : {}),
      };
      actual.set(subjectText(ref), s.permissionship === "CONDITIONAL" ? "caveated" : "allowed");
    }
    if (result.wildcard !== undefined) {
      const excluded = result.wildcard.excluded
        .map((id) => `${kind.type}:${id}`)
        .sort()
        .join(", ");
      actual.set(
        `${kind.type}:*`,
        `${result.wildcard.permissionship === "CONDITIONAL" ? "caveated" : "allowed"}${excluded ? ` except ${excluded}` : ""}`,
      );
    }
  }
  const failures: ValidationFailure[] = [];
  for (const [subject, how] of expected) {
    const got = actual.get(subject);
    if (got === undefined) {
      failures.push({
        line: entry.line,
        message: `validation of ${where}: expected [${subject}] (${how}), not found`,
      });
    } else if (got !== how) {
      failures.push({
        line: entry.line,
        message: `validation of ${where}: [${subject}] is ${got}, expected ${how}`,
      });
    }
  }
  for (const [subject, how] of actual) {
    if (!expected.has(subject)) {
      failures.push({
        line: entry.line,
        message: `validation of ${where}: unexpected [${subject}] (${how})`,
      });
    }
  }
  return failures;
}
