/**
 * The Trellis playground: a schema editor, relationships, assertions and expected relations,
 * a check panel with the answer's trace, and the relationship graph — all evaluated in this
 * page by Trellis's own engine on the in-memory store. Plain DOM, no framework: the page is a
 * handful of panels that each redraw from the latest evaluation.
 */

import { PRESETS } from "virtual:trellis-presets";
import {
  defaultKeymap,
  history as editHistory,
  historyKeymap,
  indentWithTab,
} from "@codemirror/commands";
import { type Diagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  placeholder,
} from "@codemirror/view";
import { parseSubjectRef, type SchemaDiagnostic } from "../../src/browser.js";
import {
  type CheckAnswer,
  type Evaluation,
  evaluate,
  type LineProblem,
  readCheckInputs,
  runCheck,
} from "./evaluation.js";
import { drawGraph } from "./relationship-graph.js";
import { formatSchemaText, schemaLanguage } from "./schema-language.js";
import { loadFromServer, type ServerTarget, saveToServer } from "./server-sync.js";
import { explainTrace } from "./trace-explanation.js";
import { drawTrace } from "./trace-view.js";
import {
  type CheckInputs,
  EMPTY_CHECK,
  fromFragment,
  fromValidationYaml,
  normalizeWorkspace,
  toFragment,
  toValidationYaml,
  type Workspace,
} from "./workspace.js";

const STORAGE_KEY = "trellis-playground-workspace";
const SERVER_KEY = "trellis-playground-server";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

// ---- editors ----------------------------------------------------------------------------

function editor(host: HTMLElement, text: string, extra: Extension[], hint: string): EditorView {
  return new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightActiveLine(),
        drawSelection(),
        editHistory(),
        lintGutter(),
        placeholder(hint),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) scheduleEvaluation();
        }),
        ...extra,
      ],
    }),
  });
}

const schemaProblemsList = $("schema-problems");
const schemaEditor = editor(
  $("schema-editor"),
  "",
  [schemaLanguage(showSchemaProblems)],
  "definition user {}",
);
const relationshipsEditor = editor(
  $("relationships-editor"),
  "",
  [],
  "document:readme#viewer@user:alice",
);
const assertionsEditor = editor(
  $("assertions-editor"),
  "",
  [],
  "assertTrue:\n  - document:readme#view@user:alice",
);
const validationEditor = editor(
  $("validation-editor"),
  "",
  [],
  'document:readme#view:\n  - "[user:alice] is <document:readme#viewer>"',
);

function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

function lineDiagnostics(view: EditorView, problems: readonly LineProblem[]): Diagnostic[] {
  const doc = view.state.doc;
  return problems.map((p) => {
    const line = doc.line(Math.min(Math.max(1, p.line), doc.lines));
    return { from: line.from, to: line.to, severity: "error", message: p.message };
  });
}

function showSchemaProblems(problems: readonly SchemaDiagnostic[]): void {
  schemaProblemsList.replaceChildren(
    ...problems.map((p) => {
      const li = document.createElement("li");
      li.className = "problem";
      li.dataset.line = String(p.position.line);
      li.dataset.column = String(p.position.column);
      li.textContent = `${p.position.line}:${p.position.column}: ${p.message}`;
      li.addEventListener("click", () => {
        schemaEditor.dispatch({
          selection: { anchor: Math.min(p.position.offset, schemaEditor.state.doc.length) },
          scrollIntoView: true,
        });
        schemaEditor.focus();
      });
      return li;
    }),
  );
  $("schema-status").textContent =
    problems.length === 0
      ? "compiles"
      : `${problems.length} problem${problems.length > 1 ? "s" : ""}`;
  $("schema-status").className = problems.length === 0 ? "badge ok" : "badge bad";
}

// ---- the workspace ----------------------------------------------------------------------

const checkForm = $<HTMLFormElement>("check-form");
const field = (name: keyof CheckInputs) =>
  checkForm.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement;

function currentWorkspace(): Workspace {
  return {
    schema: schemaEditor.state.doc.toString(),
    relationships: relationshipsEditor.state.doc.toString(),
    assertions: assertionsEditor.state.doc.toString(),
    validation: validationEditor.state.doc.toString(),
    check: {
      resource: field("resource").value,
      permission: field("permission").value,
      subject: field("subject").value,
      context: field("context").value,
    },
  };
}

function loadWorkspace(ws: Workspace): void {
  setText(schemaEditor, ws.schema);
  setText(relationshipsEditor, ws.relationships);
  setText(assertionsEditor, ws.assertions);
  setText(validationEditor, ws.validation);
  for (const name of ["resource", "permission", "subject", "context"] as const) {
    field(name).value = ws.check[name];
  }
  checkRequested = ws.check.resource !== "" && ws.check.subject !== "";
  scheduleEvaluation(0);
}

/** The check inputs of a workspace's first `assertTrue`, to start from. */
function checkFromAssertions(assertions: string): CheckInputs {
  const m = /^\s*-\s*"?([^\s#"]+)#([^\s@"]+)@([^\s"]+?)"?\s*$/m.exec(
    assertions.slice(Math.max(0, assertions.indexOf("assertTrue"))),
  );
  return m === null
    ? EMPTY_CHECK
    : { resource: m[1]!, permission: m[2]!, subject: m[3]!, context: "" };
}

function presetWorkspace(name: string): Workspace | undefined {
  const preset = PRESETS.find((p) => p.name === name);
  if (preset === undefined) return undefined;
  if (preset.validation === "") {
    return {
      schema: preset.schema,
      relationships: "",
      assertions: "",
      validation: "",
      check: EMPTY_CHECK,
    };
  }
  const ws = fromValidationYaml(
    preset.validation,
    EMPTY_CHECK,
    new Map([[preset.schemaFile, preset.schema]]),
  );
  return { ...ws, check: checkFromAssertions(ws.assertions) };
}

// ---- evaluation -------------------------------------------------------------------------

let latest: Evaluation | undefined;
let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let checkRequested = false;

function scheduleEvaluation(delay = 250): void {
  if (timer !== undefined) clearTimeout(timer);
  document.body.dataset.evaluating = "true";
  timer = setTimeout(() => void runEvaluation(), delay);
}

interface ResultItem {
  readonly text: string;
  readonly ok: boolean;
  readonly line: number;
  readonly title?: string;
  /** Runs when the item is clicked (an assertion: check it in the panel). */
  readonly open?: () => void;
}

function listItems(host: HTMLElement, items: readonly ResultItem[]) {
  host.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement("li");
      li.className = item.ok ? "pass" : "fail";
      li.dataset.line = String(item.line);
      li.textContent = `${item.ok ? "✓" : "✗"} ${item.text}`;
      if (item.title !== undefined) li.title = item.title;
      if (item.open !== undefined) {
        li.classList.add("openable");
        li.addEventListener("click", item.open);
      }
      return li;
    }),
  );
}

/** Puts an assertion (`resource#permission@subject with {context}`) in the check panel. */
function checkAssertion(text: string): void {
  const m = /^\s*([^\s#]+)#([^\s@]+)@(\S+?)(?:\s+with\s+([\s\S]*))?\s*$/.exec(text);
  if (m === null) return;
  field("resource").value = m[1]!;
  field("permission").value = m[2]!;
  field("subject").value = m[3]!;
  field("context").value = m[4] ?? "";
  checkRequested = true;
  void answerCheck();
}

async function runEvaluation(): Promise<void> {
  const mine = ++generation;
  const ws = currentWorkspace();
  localStorage.setItem(STORAGE_KEY, JSON.stringify(ws));
  let evaluation: Evaluation;
  try {
    evaluation = await evaluate(ws);
  } catch (err) {
    if (mine === generation) showStatus(`evaluation failed: ${(err as Error).message}`, "bad");
    return;
  }
  if (mine !== generation) {
    await evaluation.engine?.close();
    return;
  }
  const previous = latest;
  latest = evaluation;
  void previous?.engine?.close();
  relationshipsEditor.dispatch(
    setDiagnostics(
      relationshipsEditor.state,
      lineDiagnostics(relationshipsEditor, evaluation.relationshipProblems),
    ),
  );
  assertionsEditor.dispatch(
    setDiagnostics(
      assertionsEditor.state,
      lineDiagnostics(assertionsEditor, evaluation.assertionProblems),
    ),
  );
  validationEditor.dispatch(
    setDiagnostics(
      validationEditor.state,
      lineDiagnostics(validationEditor, evaluation.validationProblems),
    ),
  );
  $("relationship-problems").replaceChildren(
    ...evaluation.relationshipProblems.map((p) => {
      const li = document.createElement("li");
      li.className = "problem";
      li.dataset.line = String(p.line);
      li.textContent = `line ${p.line}: ${p.message}`;
      return li;
    }),
  );
  listItems($("assertion-results"), [
    ...evaluation.assertionProblems.map((p) => ({
      text: `line ${p.line}: ${p.message}`,
      ok: false,
      line: p.line,
    })),
    ...evaluation.assertions.map((a) => ({
      text: `${a.kind} ${a.text}`,
      ok: a.ok,
      line: a.line,
      title: `${a.message ?? "holds"} (click to check it)`,
      open: () => checkAssertion(a.text),
    })),
  ]);
  listItems($("validation-results"), [
    ...evaluation.validationProblems
      .filter((p) => !evaluation.expected.some((e) => e.messages.includes(p.message)))
      .map((p) => ({ text: `line ${p.line}: ${p.message}`, ok: false, line: p.line })),
    ...evaluation.expected.map((e) => ({
      text: e.ok ? e.key : `${e.key}: ${e.messages.join("; ")}`,
      ok: e.ok,
      line: e.line,
    })),
  ]);
  $<HTMLButtonElement>("update-validation").disabled = evaluation.updatedValidation === undefined;
  const passed = evaluation.assertions.filter((a) => a.ok).length;
  const failing =
    evaluation.assertions.length -
    passed +
    evaluation.expected.filter((e) => !e.ok).length +
    evaluation.assertionProblems.length +
    evaluation.validationProblems.length;
  showStatus(
    evaluation.engine === undefined
      ? "the schema has errors: fix them to evaluate"
      : `evaluated in ${evaluation.milliseconds.toFixed(0)} ms · ${evaluation.relationships.length} relationships · ${passed}/${evaluation.assertions.length} assertions hold${failing > 0 ? ` · ${failing} failing` : ""}`,
    evaluation.engine === undefined || failing > 0 || evaluation.relationshipProblems.length > 0
      ? "bad"
      : "ok",
  );
  if (checkRequested) await answerCheck();
  else redrawGraph(undefined);
  delete document.body.dataset.evaluating;
}

function showStatus(text: string, tone: "ok" | "bad" | "info"): void {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${tone}`;
}

// ---- the check panel --------------------------------------------------------------------

let lastPath: ReadonlySet<string> = new Set();

function redrawGraph(marked: ReadonlySet<string> | undefined): void {
  drawGraph(
    $("graph"),
    (latest?.relationships ?? []).map((p) => p.relationship),
    lastPath,
    marked ?? new Set(),
  );
}

function listAnswer(host: HTMLElement, title: string, names: readonly string[]): void {
  const heading = document.createElement("h4");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.className = "answers";
  for (const name of names) {
    const li = document.createElement("li");
    li.textContent = name;
    list.append(li);
  }
  if (names.length === 0) {
    const li = document.createElement("li");
    li.className = "hint";
    li.textContent = "none";
    list.append(li);
  }
  host.append(heading, list);
}

async function answerCheck(): Promise<void> {
  const answerBox = $("check-answer");
  const traceBox = $("trace");
  const lists = $("lists");
  const engine = latest?.engine;
  const ws = currentWorkspace();
  lists.replaceChildren();
  if (engine === undefined || latest?.schema === undefined) {
    answerBox.textContent = "The schema has errors: fix them to check.";
    answerBox.className = "answer error";
    answerBox.dataset.permissionship = "";
    drawTrace(traceBox, undefined);
    lastPath = new Set();
    redrawGraph(undefined);
    return;
  }
  let answer: CheckAnswer;
  try {
    answer = await runCheck(engine, ws.check);
  } catch (err) {
    answerBox.textContent = (err as Error).message;
    answerBox.className = "answer error";
    answerBox.dataset.permissionship = "";
    drawTrace(traceBox, undefined);
    lastPath = new Set();
    redrawGraph(undefined);
    return;
  }
  const subject = parseSubjectRef(ws.check.subject.trim());
  const missing =
    answer.missingContext !== undefined && answer.missingContext.length > 0
      ? ` — missing context: ${answer.missingContext.join(", ")}`
      : "";
  answerBox.textContent = `${answer.permissionship}${missing}`;
  answerBox.className = `answer ${answer.permissionship.toLowerCase()}`;
  answerBox.dataset.permissionship = answer.permissionship;
  // Browsers round performance.now() (to 0.1 ms in Chromium without cross-origin isolation).
  $("check-time").textContent =
    answer.milliseconds < 0.1
      ? "checked in under 0.1 ms, in this page"
      : `checked in ${answer.milliseconds.toFixed(1)} ms, in this page`;
  $("check-time").dataset.milliseconds = String(answer.milliseconds);
  const explanation =
    answer.trace === undefined
      ? undefined
      : explainTrace(
          answer.trace,
          latest.schema,
          latest.relationships.map((p) => p.relationship),
          subject,
        );
  drawTrace(traceBox, explanation?.root);
  lastPath = explanation?.path ?? new Set();
  const { resource } = readCheckInputs(ws.check);
  const tag = (p: string) => (p === "CONDITIONAL" ? " (conditional)" : "");
  listAnswer(
    lists,
    `ListObjects: every ${resource.type} on which ${ws.check.subject.trim()} has ${ws.check.permission.trim()}`,
    answer.objects.map((o) => `${resource.type}:${o.id}${tag(o.permissionship)}`),
  );
  listAnswer(
    lists,
    `ListSubjects: every ${subject.type}${subject.relation !== undefined ? `#${subject.relation}` : ""} with ${ws.check.permission.trim()} on ${ws.check.resource.trim()}`,
    [
      ...(answer.wildcard !== undefined
        ? [
            `${subject.type}:*${tag(answer.wildcard.permissionship)}${answer.wildcard.excluded.length > 0 ? ` except ${answer.wildcard.excluded.join(", ")}` : ""}`,
          ]
        : []),
      ...answer.subjects.map((s) => `${subject.type}:${s.id}${tag(s.permissionship)}`),
    ],
  );
  redrawGraph(new Set([ws.check.resource.trim(), `${subject.type}:${subject.id}`]));
}

checkForm.addEventListener("submit", (event) => {
  event.preventDefault();
  checkRequested = true;
  localStorage.setItem(STORAGE_KEY, JSON.stringify(currentWorkspace()));
  void answerCheck();
});

// ---- import, export, share --------------------------------------------------------------

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

$("export").addEventListener("click", () => {
  const { text } = toValidationYaml(currentWorkspace());
  download("playground.yaml", text, "application/yaml");
  showStatus("exported playground.yaml: run it with trellis validate playground.yaml", "info");
});

const importDialog = $<HTMLDialogElement>("import-dialog");
$("import").addEventListener("click", () => {
  $<HTMLTextAreaElement>("import-text").value = "";
  $("import-error").textContent = "";
  importDialog.showModal();
});
$<HTMLInputElement>("import-file").addEventListener("change", async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (file !== undefined) $<HTMLTextAreaElement>("import-text").value = await file.text();
});
$("import-confirm").addEventListener("click", (event) => {
  event.preventDefault();
  try {
    const ws = fromValidationYaml($<HTMLTextAreaElement>("import-text").value);
    loadWorkspace({ ...ws, check: checkFromAssertions(ws.assertions) });
    importDialog.close();
    showStatus("imported the validation file", "info");
  } catch (err) {
    $("import-error").textContent = (err as Error).message;
  }
});
$("import-cancel").addEventListener("click", () => importDialog.close());

$("share").addEventListener("click", async () => {
  const fragment = await toFragment(currentWorkspace());
  history.replaceState(null, "", fragment);
  const link = $<HTMLInputElement>("share-link");
  link.value = location.href;
  link.hidden = false;
  link.select();
  try {
    await navigator.clipboard.writeText(location.href);
    showStatus(
      "link copied: the workspace is in its #fragment, which browsers never send to a server",
      "info",
    );
  } catch {
    showStatus(
      "copy the link: the workspace is in its #fragment, which browsers never send to a server",
      "info",
    );
  }
});

$("format").addEventListener("click", () => {
  const result = formatSchemaText(schemaEditor.state.doc.toString());
  if ("text" in result) setText(schemaEditor, result.text);
  else showStatus("fix the syntax errors before formatting", "bad");
});

$("update-validation").addEventListener("click", () => {
  if (latest?.updatedValidation !== undefined) setText(validationEditor, latest.updatedValidation);
});

const presetSelect = $<HTMLSelectElement>("preset");
for (const preset of PRESETS) {
  const option = document.createElement("option");
  option.value = preset.name;
  option.textContent = preset.title === "" ? preset.name : `${preset.name} — ${preset.title}`;
  presetSelect.append(option);
}
presetSelect.addEventListener("change", () => {
  const ws = presetWorkspace(presetSelect.value);
  if (ws !== undefined) loadWorkspace(ws);
  presetSelect.value = "";
});

// ---- the server -------------------------------------------------------------------------

const serverDialog = $<HTMLDialogElement>("server-dialog");
const serverField = (name: "url" | "token" | "tenant") =>
  serverDialog.querySelector<HTMLInputElement>(`[name=${name}]`)!;

function serverTarget(): ServerTarget {
  return {
    url: serverField("url").value,
    token: serverField("token").value,
    tenant: serverField("tenant").value,
  };
}

$("server").addEventListener("click", () => {
  const saved = JSON.parse(sessionStorage.getItem(SERVER_KEY) ?? "{}") as Partial<ServerTarget>;
  serverField("url").value = saved.url ?? "";
  serverField("url").placeholder = location.protocol.startsWith("http")
    ? location.origin
    : "http://127.0.0.1:8080";
  serverField("token").value = saved.token ?? "";
  serverField("tenant").value = saved.tenant ?? "";
  $("server-result").textContent = "";
  $("server-result").className = "";
  serverDialog.showModal();
});
$("server-close").addEventListener("click", () => serverDialog.close());

async function serverAction(action: () => Promise<string>): Promise<void> {
  // The token is kept for this tab only (sessionStorage), never in the link or the export.
  sessionStorage.setItem(SERVER_KEY, JSON.stringify(serverTarget()));
  const result = $("server-result");
  // No verdict class while the request runs: the last one's green or red is no longer true.
  result.className = "";
  result.textContent = "…";
  try {
    result.textContent = await action();
    result.className = "ok";
  } catch (err) {
    result.textContent = (err as Error).message;
    result.className = "bad";
  }
}

$("server-load").addEventListener("click", () =>
  serverAction(async () => {
    const loaded = await loadFromServer(serverTarget());
    const ws = currentWorkspace();
    loadWorkspace({ ...ws, schema: loaded.schema, relationships: loaded.relationships.join("\n") });
    return `loaded the schema and ${loaded.relationships.length} relationships`;
  }),
);
$("server-save").addEventListener("click", () =>
  serverAction(async () => {
    if (latest?.engine === undefined) throw new Error("fix the schema's errors before saving");
    if (latest.relationshipProblems.length > 0) {
      throw new Error("fix the relationships marked in red before saving");
    }
    const saved = await saveToServer(
      serverTarget(),
      currentWorkspace().schema,
      latest.relationships.map((p) => p.relationship),
    );
    return `saved: the schema, ${saved.written} relationships written, ${saved.deleted} deleted`;
  }),
);

// ---- start ------------------------------------------------------------------------------

async function start(): Promise<void> {
  let ws: Workspace | undefined;
  try {
    ws = await fromFragment(location.hash);
  } catch {
    showStatus("the link's workspace could not be read; starting from the last one", "bad");
  }
  if (ws === undefined) {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored !== null) {
      try {
        ws = normalizeWorkspace(JSON.parse(stored));
      } catch {
        ws = undefined;
      }
    }
  }
  ws ??= presetWorkspace("docs") ?? presetWorkspace(PRESETS[0]?.name ?? "");
  if (ws !== undefined) loadWorkspace(ws);
  document.body.dataset.ready = "true";
}

window.addEventListener("hashchange", async () => {
  const ws = await fromFragment(location.hash).catch(() => undefined);
  if (ws !== undefined) loadWorkspace(ws);
});

void start();
