/**
 * Evaluates a workspace in the page with Trellis's own engine on the in-memory store: the
 * schema compiled by our compiler, the relationships written through the engine's checks,
 * the assertions and expected relations answered by `runValidationFile` (what `trellis
 * validate` runs), and checks with their trace. Every problem is placed at the line of the
 * editor it comes from.
 */
import {
  type CaveatContext,
  type CompiledSchema,
  compileSchema,
  Engine,
  MemoryDatastore,
  type Permissionship,
  parseObjectRef,
  parseRelationship,
  parseSchema,
  parseSubjectRef,
  parseValidationText,
  type Relationship,
  runValidationFile,
  type SchemaDiagnostic,
  SchemaError,
  type TraceNode,
  TrellisError,
  updateValidationBlock,
  type ValidationFile,
  type ValidationReport,
} from "../../src/browser.js";
import {
  type BlockLines,
  type CheckInputs,
  toValidationYaml,
  type Workspace,
} from "./workspace.js";

/** A problem at a line (1-based) of one editor. */
export interface LineProblem {
  readonly line: number;
  readonly message: string;
}

/** One assertion of the workspace and whether it held. */
export interface AssertionResult {
  /** The line in the assertions editor. */
  readonly line: number;
  readonly text: string;
  readonly kind: string;
  readonly ok: boolean;
  readonly message?: string;
}

/** One `validation:` entry and whether the relations found are those it lists. */
export interface ExpectedResult {
  readonly line: number;
  readonly key: string;
  readonly ok: boolean;
  readonly messages: readonly string[];
}

export interface PlacedRelationship {
  readonly relationship: Relationship;
  /** The line in the relationships editor. */
  readonly line: number;
}

export interface Evaluation {
  readonly schemaProblems: readonly SchemaDiagnostic[];
  readonly schema?: CompiledSchema;
  /** The relationships written (those that parse and fit the schema). */
  readonly relationships: readonly PlacedRelationship[];
  readonly relationshipProblems: readonly LineProblem[];
  readonly assertionProblems: readonly LineProblem[];
  readonly validationProblems: readonly LineProblem[];
  readonly assertions: readonly AssertionResult[];
  readonly expected: readonly ExpectedResult[];
  /** The `validation:` block as `trellis validate --update` would write it, when it differs. */
  readonly updatedValidation?: string;
  /** Answers the check panel; absent while the schema has errors. */
  readonly engine?: Engine;
  readonly milliseconds: number;
}

export const TENANT = "playground";
/** The validation file runs in a tenant of its own, as `trellis validate` runs it. */
const VALIDATION_TENANT = "validation";
/** Zookies never leave the page, so the secret signs nothing anyone else sees. */
const ZOOKIE_SECRET = "trellis-playground-zookies-stay-in-the-page";

function lineOf(message: string): { line: number; rest: string } | undefined {
  const m = /^line (\d+): ([\s\S]*)$/.exec(message);
  return m === null ? undefined : { line: Number(m[1]), rest: m[2]! };
}

/** Which editor a line of the generated validation file belongs to, and its line there. */
function placeFileLine(
  lines: BlockLines,
  line: number,
): { editor: "assertions" | "validation" | "other"; line: number } {
  if (lines.validation > 0 && line >= lines.validation - 1) {
    return { editor: "validation", line: Math.max(1, line - lines.validation + 1) };
  }
  if (lines.assertions > 0 && line >= lines.assertions - 1) {
    return { editor: "assertions", line: Math.max(1, line - lines.assertions + 1) };
  }
  return { editor: "other", line };
}

/** Parses the relationship lines, skipping blank lines and `//` comments. */
function parseLines(text: string): { placed: PlacedRelationship[]; problems: LineProblem[] } {
  const placed: PlacedRelationship[] = [];
  const problems: LineProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) return;
    try {
      placed.push({ relationship: parseRelationship(line), line: i + 1 });
    } catch (err) {
      problems.push({ line: i + 1, message: (err as Error).message });
    }
  });
  return { placed, problems };
}

/** Writes what fits the schema; each relationship the engine refuses becomes a problem. */
async function writeRelationships(
  engine: Engine,
  tenant: string,
  candidates: readonly PlacedRelationship[],
  problems: LineProblem[],
): Promise<PlacedRelationship[]> {
  let remaining = [...candidates];
  while (remaining.length > 0) {
    try {
      await engine.writeRelationships(
        tenant,
        remaining.map((p) => ({ op: "TOUCH" as const, relationship: p.relationship })),
      );
      return remaining;
    } catch (err) {
      const index = /^mutations\[(\d+)\]/.exec(
        err instanceof TrellisError ? (err.field ?? "") : "",
      );
      if (index === null) throw err;
      const refused = remaining[Number(index[1])]!;
      problems.push({ line: refused.line, message: (err as Error).message });
      remaining = remaining.filter((p) => p !== refused);
    }
  }
  return remaining;
}

/** Compiles, writes and answers the whole workspace; never throws for a user's mistake. */
export async function evaluate(ws: Workspace): Promise<Evaluation> {
  const started = performance.now();
  const empty = {
    relationships: [],
    relationshipProblems: [],
    assertionProblems: [],
    validationProblems: [],
    assertions: [],
    expected: [],
  };
  const parsed = parseSchema(ws.schema);
  const compiled = parsed.diagnostics.length === 0 ? compileSchema(parsed.ast) : undefined;
  const schemaProblems = parsed.diagnostics.length > 0 ? parsed.diagnostics : compiled!.diagnostics;
  if (schemaProblems.length > 0 || compiled?.schema === undefined) {
    return { ...empty, schemaProblems, milliseconds: performance.now() - started };
  }

  const store = new MemoryDatastore();
  await store.createTenant(TENANT);
  await store.createTenant(VALIDATION_TENANT);
  const engine = new Engine(store, { zookieSecret: ZOOKIE_SECRET, gc: false, cache: false });
  try {
    await engine.writeSchema(TENANT, ws.schema);
  } catch (err) {
    await engine.close();
    if (err instanceof SchemaError) {
      return {
        ...empty,
        schemaProblems: err.diagnostics,
        milliseconds: performance.now() - started,
      };
    }
    const at = { line: 1, column: 1, offset: 0 };
    return {
      ...empty,
      schemaProblems: [{ message: (err as Error).message, position: at }],
      milliseconds: performance.now() - started,
    };
  }

  const { placed, problems: relationshipProblems } = parseLines(ws.relationships);
  const written = await writeRelationships(engine, TENANT, placed, relationshipProblems);
  relationshipProblems.sort((a, b) => a.line - b.line);

  const assertionProblems: LineProblem[] = [];
  const validationProblems: LineProblem[] = [];
  const assertions: AssertionResult[] = [];
  const expected: ExpectedResult[] = [];
  let updatedValidation: string | undefined;
  if (ws.assertions.trim() !== "" || ws.validation.trim() !== "") {
    const goodLines = ws.relationships
      .split("\n")
      .map((line, i) => (written.some((p) => p.line === i + 1) ? line.trim() : ""))
      .filter((line) => line !== "")
      .join("\n");
    const { text, lines } = toValidationYaml(ws, goodLines);
    const place = (line: number, message: string) => {
      const at = placeFileLine(lines, line);
      (at.editor === "validation" ? validationProblems : assertionProblems).push({
        line: at.line,
        message,
      });
    };
    let file: ValidationFile | undefined;
    try {
      file = parseValidationText(text);
    } catch (err) {
      const message = (err as Error).message;
      const at = lineOf(message);
      if (at === undefined) assertionProblems.push({ line: 1, message });
      else place(at.line, at.rest);
    }
    if (file !== undefined) {
      let report: ValidationReport | undefined;
      try {
        report = await runValidationFile(engine, VALIDATION_TENANT, file);
      } catch (err) {
        assertionProblems.push({ line: 1, message: (err as Error).message });
      }
      if (report !== undefined) {
        for (const f of report.failures) place(f.line, f.message);
        for (const a of file.assertions) {
          const failure = report.failures.find((f) => f.of === "assertion" && f.line === a.line);
          assertions.push({
            line: placeFileLine(lines, a.line).line,
            text: a.text,
            kind: a.kind,
            ok: failure === undefined,
            ...(failure !== undefined ? { message: failure.message } : {}),
          });
        }
        for (const entry of file.validation) {
          const first = entry.line;
          const last = Math.max(first, ...entry.subjects.map((s) => s.line));
          const messages = report.failures
            .filter((f) => f.of === "validation" && f.line >= first && f.line <= last)
            .map((f) => f.message);
          expected.push({
            line: placeFileLine(lines, first).line,
            key: entry.key,
            ok: messages.length === 0,
            messages,
          });
        }
        if (file.validation.length > 0) {
          const updated = updateValidationBlock(text, file, report.found);
          if (updated !== text) {
            const block = updated.slice(
              updated.indexOf("\nvalidation:\n") + "\nvalidation:\n".length,
            );
            updatedValidation = block
              .split("\n")
              .map((line) => line.replace(/^ {2}/, ""))
              .join("\n")
              .replace(/\s+$/, "");
          }
        }
      }
    }
  }
  return {
    schemaProblems: [],
    schema: compiled.schema,
    relationships: written,
    relationshipProblems,
    assertionProblems,
    validationProblems,
    assertions,
    expected,
    ...(updatedValidation !== undefined ? { updatedValidation } : {}),
    engine,
    milliseconds: performance.now() - started,
  };
}

// ---- the check panel --------------------------------------------------------------------

export interface CheckAnswer {
  readonly permissionship: Permissionship;
  readonly missingContext?: readonly string[];
  readonly trace?: TraceNode;
  /** Objects of the resource's type on which the subject has the permission. */
  readonly objects: readonly { id: string; permissionship: Permissionship }[];
  /** Subjects of the subject's type with the permission on the resource. */
  readonly subjects: readonly { id: string; permissionship: Permissionship }[];
  readonly wildcard?: { permissionship: Permissionship; excluded: readonly string[] };
  /** How long the check took in the page, in milliseconds. */
  readonly milliseconds: number;
}

/** Parses the check inputs; throws `Error` naming the field that is wrong. */
export function readCheckInputs(inputs: CheckInputs): {
  resource: ReturnType<typeof parseObjectRef>;
  permission: string;
  subject: ReturnType<typeof parseSubjectRef>;
  context?: CaveatContext;
} {
  const resource = parseObjectRef(inputs.resource.trim(), "resource");
  const subject = parseSubjectRef(inputs.subject.trim(), "subject");
  const permission = inputs.permission.trim();
  if (permission === "") throw new Error("permission: name a relation or permission");
  let context: CaveatContext | undefined;
  if (inputs.context.trim() !== "") {
    let value: unknown;
    try {
      value = JSON.parse(inputs.context);
    } catch (err) {
      throw new Error(`caveat context: not JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Error('caveat context: a JSON object, such as {"user_ip": "10.0.0.1"}');
    }
    context = value as CaveatContext;
  }
  return { resource, permission, subject, ...(context !== undefined ? { context } : {}) };
}

/** Checks, with its trace, then lists both ways; throws the engine's error for a bad request. */
export async function runCheck(engine: Engine, inputs: CheckInputs): Promise<CheckAnswer> {
  const { resource, permission, subject, context } = readCheckInputs(inputs);
  const withContext = context !== undefined ? { context } : {};
  const consistency = "fully_consistent" as const;
  const started = performance.now();
  const answer = await engine.check(TENANT, {
    resource,
    permission,
    subject,
    ...withContext,
    consistency,
    trace: true,
  });
  const milliseconds = performance.now() - started;
  const objects = await engine.listObjects(TENANT, {
    resourceType: resource.type,
    permission,
    subject,
    ...withContext,
    consistency,
  });
  const subjects = await engine.listSubjects(TENANT, {
    resource,
    permission,
    subjectType: subject.type,
    ...(subject.relation !== undefined ? { subjectRelation: subject.relation } : {}),
    ...withContext,
    consistency,
  });
  return {
    permissionship: answer.permissionship,
    ...(answer.missingContext !== undefined ? { missingContext: answer.missingContext } : {}),
    ...(answer.trace !== undefined ? { trace: answer.trace } : {}),
    objects: objects.objects,
    subjects: subjects.subjects,
    ...(subjects.wildcard !== undefined ? { wildcard: subjects.wildcard } : {}),
    milliseconds,
  };
}
