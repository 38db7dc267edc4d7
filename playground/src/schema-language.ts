/**
 * CodeMirror support for the schema language, from Trellis's own lexer, parser and compiler:
 * highlighting (keywords, definition and member names, type references, operators, comments,
 * caveat bodies), errors at their line and column as the user types, and formatting.
 */
import { type Diagnostic, linter } from "@codemirror/lint";
import { type Extension, RangeSetBuilder } from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  type EditorView,
  ViewPlugin,
  type ViewUpdate,
} from "@codemirror/view";
import {
  compileSchema,
  formatSchema,
  Lexer,
  parseSchema,
  type SchemaDiagnostic,
  type Token,
} from "../../src/browser.js";

const KEYWORDS = new Set([
  "definition",
  "caveat",
  "relation",
  "permission",
  "use",
  "import",
  "partial",
  "with",
  "and",
  "nil",
  "self",
  "expiration",
  "any",
  "all",
]);

type Style =
  | "keyword"
  | "type"
  | "member"
  | "reference"
  | "operator"
  | "comment"
  | "cel"
  | "string";

const marks = new Map<Style, Decoration>(
  (["keyword", "type", "member", "reference", "operator", "comment", "cel", "string"] as const).map(
    (s) => [s, Decoration.mark({ class: `tok-${s}` })],
  ),
);

interface Span {
  readonly from: number;
  readonly to: number;
  readonly style: Style;
}

/** The highlighted spans of a schema, in order, from the lexer's tokens. */
export function schemaSpans(text: string): Span[] {
  const spans: Span[] = [];
  const lexer = new Lexer(text);
  let previousEnd = 0;
  let previous: Token | undefined;
  /** After `definition`/`caveat`: a type name; after `relation`/`permission`: a member name. */
  let naming: "type" | "member" | undefined;
  let inCaveatHeader = false;
  for (let guard = 0; guard < text.length + 2; guard++) {
    const token = lexer.next();
    // Comments ride on the token after them: find each in the gap before it.
    let from = previousEnd;
    for (const comment of token.comments) {
      const at = text.indexOf(comment, from);
      if (at < 0) break;
      spans.push({ from: at, to: at + comment.length, style: "comment" });
      from = at + comment.length;
    }
    if (token.kind === "eof") break;
    const start = token.start.offset;
    const end = token.end.offset;
    let style: Style | undefined;
    if (token.kind === "ident") {
      if (naming !== undefined) {
        style = naming;
        naming = undefined;
      } else if (KEYWORDS.has(token.text) && previous?.kind !== "#" && previous?.kind !== ".") {
        style = "keyword";
        if (token.text === "definition" || token.text === "caveat" || token.text === "partial") {
          naming = "type";
        } else if (token.text === "relation" || token.text === "permission") {
          naming = "member";
        }
        if (token.text === "caveat") inCaveatHeader = true;
      } else if (previous?.kind === "#" || previous?.kind === "->" || previous?.kind === ".") {
        style = "reference";
      } else if (previous?.kind === ":" || previous?.kind === "|" || previous?.kind === "/") {
        style = "type";
      }
    } else if (token.kind === "string") {
      style = "string";
    } else if (["+", "-", "&", "->", "...", "*", "="].includes(token.kind)) {
      style = "operator";
    }
    if (style !== undefined) spans.push({ from: start, to: end, style });
    previousEnd = end;
    previous = token;
    if (inCaveatHeader && token.kind === "{") {
      inCaveatHeader = false;
      const block = lexer.readBlock();
      if (block !== undefined && block.body.trim() !== "") {
        spans.push({ from: block.start.offset, to: block.end.offset, style: "cel" });
      }
      previousEnd = block === undefined ? text.length : block.end.offset + 1;
    }
  }
  return spans;
}

function decorate(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  let last = -1;
  for (const span of schemaSpans(view.state.doc.toString())) {
    if (span.from < last || span.to <= span.from) continue;
    builder.add(span.from, span.to, marks.get(span.style)!);
    last = span.to;
  }
  return builder.finish();
}

const highlighter = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorate(view);
    }
    update(update: ViewUpdate) {
      if (update.docChanged) this.decorations = decorate(update.view);
    }
  },
  { decorations: (plugin) => plugin.decorations },
);

/** Every problem of a schema, parse errors first; compile errors only once it parses. */
export function schemaDiagnostics(text: string): readonly SchemaDiagnostic[] {
  const parsed = parseSchema(text);
  if (parsed.diagnostics.length > 0) return parsed.diagnostics;
  return compileSchema(parsed.ast).diagnostics;
}

/** A CodeMirror diagnostic for a schema problem: from its position to the end of its word. */
export function toEditorDiagnostic(text: string, problem: SchemaDiagnostic): Diagnostic {
  const from = Math.min(problem.position.offset, text.length);
  const word = /^[\p{L}\p{N}_/]+/u.exec(text.slice(from));
  const to = Math.min(text.length, from + Math.max(1, word?.[0].length ?? 1));
  return {
    from,
    to: to > from ? to : from,
    severity: "error",
    message: `${problem.position.line}:${problem.position.column}: ${problem.message}`,
  };
}

/** Highlighting and live errors for a schema editor; `onDiagnostics` hears each new list. */
export function schemaLanguage(
  onDiagnostics: (problems: readonly SchemaDiagnostic[]) => void,
): Extension {
  return [
    highlighter,
    linter(
      (view) => {
        const text = view.state.doc.toString();
        const problems = schemaDiagnostics(text);
        onDiagnostics(problems);
        return problems.map((p) => toEditorDiagnostic(text, p));
      },
      { delay: 250 },
    ),
  ];
}

/** The canonical text of a schema, or the problems that keep it from being formatted. */
export function formatSchemaText(
  text: string,
): { text: string } | { problems: readonly SchemaDiagnostic[] } {
  const parsed = parseSchema(text);
  if (parsed.diagnostics.length > 0) return { problems: parsed.diagnostics };
  return { text: formatSchema(parsed.ast) };
}
