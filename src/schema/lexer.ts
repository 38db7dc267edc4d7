/**
 * The schema language's lexer. It yields tokens on demand, so the parser can switch it into
 * raw mode for a caveat's CEL body (`readBlock`). Comments are not tokens: they ride on the
 * token that follows them, so the parser can attach them to the node that token starts.
 * A newline matters only where the parser says so (`newlineBefore`): like SpiceDB, a line
 * break after a complete statement ends it.
 */
import type { SchemaDiagnostic, SourcePosition } from "../core/errors.js";

export type TokenKind =
  | "ident"
  | "{"
  | "}"
  | "("
  | ")"
  | "|"
  | "+"
  | "-"
  | "&"
  | "/"
  | "="
  | ":"
  | ";"
  | ","
  | "."
  | "->"
  | "#"
  | "..."
  | "*"
  | "<"
  | ">"
  /** A quoted string (`"…"` or `'…'`, one line, no escapes): the path of an `import`. */
  | "string"
  | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token (empty for eof). */
  readonly text: string;
  readonly start: SourcePosition;
  readonly end: SourcePosition;
  /** A line break occurs between the previous token and this one. */
  readonly newlineBefore: boolean;
  /** Comments between the previous token and this one, raw text, in order. */
  readonly comments: readonly string[];
}

const SINGLE: Record<string, TokenKind> = {
  "{": "{",
  "}": "}",
  "(": "(",
  ")": ")",
  "|": "|",
  "+": "+",
  "&": "&",
  "=": "=",
  ":": ":",
  ";": ";",
  ",": ",",
  "#": "#",
  "*": "*",
  "<": "<",
  ">": ">",
};

const IDENT_CHAR = /[\p{L}\p{N}_]/u;
/** A run of identifier characters starting at `lastIndex`. */
const IDENT_RUN = /[\p{L}\p{N}_]+/uy;

export class Lexer {
  readonly #text: string;
  readonly #offsetBase: number;
  #pos = 0;
  #line = 1;
  #lineStart = 0;
  readonly diagnostics: SchemaDiagnostic[] = [];

  /** `offsetBase` is added to every offset (see `ParseOptions`). */
  constructor(text: string, offsetBase = 0) {
    this.#text = text;
    this.#offsetBase = offsetBase;
  }

  position(): SourcePosition {
    return {
      line: this.#line,
      column: this.#pos - this.#lineStart + 1,
      offset: this.#offsetBase + this.#pos,
    };
  }

  /** Moves forward `n` characters, keeping the line bookkeeping. */
  #advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.#text.charCodeAt(this.#pos) === 10) {
        this.#line++;
        this.#lineStart = this.#pos + 1;
      }
      this.#pos++;
    }
  }

  #error(message: string, position: SourcePosition): void {
    this.diagnostics.push({ message, position });
  }

  next(): Token {
    const text = this.#text;
    const comments: string[] = [];
    let newlineBefore = false;
    for (;;) {
      const c = text[this.#pos];
      if (c === undefined) break;
      if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\uFEFF") {
        this.#advance(1);
      } else if (c === "\n") {
        newlineBefore = true;
        this.#advance(1);
      } else if (c === "/" && text[this.#pos + 1] === "/") {
        const start = this.#pos;
        let end = text.indexOf("\n", start);
        if (end < 0) end = text.length;
        comments.push(text.slice(start, end).replace(/\r$/, ""));
        this.#advance(end - start);
      } else if (c === "/" && text[this.#pos + 1] === "*") {
        const start = this.#pos;
        const startPos = this.position();
        const close = text.indexOf("*/", start + 2);
        if (close < 0) {
          this.#error("unterminated comment", startPos);
          this.#advance(text.length - start);
          break;
        }
        comments.push(text.slice(start, close + 2));
        this.#advance(close + 2 - start);
      } else {
        break;
      }
    }

    const start = this.position();
    const c = text[this.#pos];
    if (c === undefined) {
      return { kind: "eof", text: "", start, end: start, newlineBefore, comments };
    }
    let kind: TokenKind;
    let length = 1;
    if (IDENT_CHAR.test(c)) {
      kind = "ident";
      IDENT_RUN.lastIndex = this.#pos;
      length = IDENT_RUN.exec(text)![0].length;
    } else if (c === "-") {
      if (text[this.#pos + 1] === ">") {
        kind = "->";
        length = 2;
      } else {
        kind = "-";
      }
    } else if (c === ".") {
      if (text.startsWith("...", this.#pos)) {
        kind = "...";
        length = 3;
      } else {
        kind = ".";
      }
    } else if (c === "/") {
      kind = "/";
    } else if (c === '"' || c === "'") {
      kind = "string";
      let end = this.#pos + 1;
      while (end < text.length && text[end] !== c && text[end] !== "\n") end++;
      if (text[end] === c) {
        length = end + 1 - this.#pos;
      } else {
        this.#error("unterminated string: close it on the same line", start);
        length = end - this.#pos;
      }
    } else if (SINGLE[c] !== undefined) {
      kind = SINGLE[c];
    } else {
      const cp = text.codePointAt(this.#pos)!;
      this.#error(
        `unexpected character ${JSON.stringify(String.fromCodePoint(cp))} (U+${cp
          .toString(16)
          .toUpperCase()
          .padStart(4, "0")})`,
        start,
      );
      this.#advance(cp > 0xffff ? 2 : 1);
      // Skip the bad character; the comments and newline seen so far ride on the next token.
      const next = this.next();
      return {
        ...next,
        newlineBefore: next.newlineBefore || newlineBefore,
        comments: [...comments, ...next.comments],
      };
    }
    const tokenText = text.slice(this.#pos, this.#pos + length);
    this.#advance(length);
    return { kind, text: tokenText, start, end: this.position(), newlineBefore, comments };
  }

  /**
   * Reads raw text up to the `}` that closes a block whose `{` was the last token, and consumes
   * that `}`. Braces inside CEL string literals and `//` comments do not count. Returns the raw
   * body and where it starts, or undefined (with a diagnostic) when the block never closes.
   */
  readBlock(): { body: string; start: SourcePosition; end: SourcePosition } | undefined {
    const text = this.#text;
    const start = this.position();
    let depth = 0;
    let i = this.#pos;
    while (i < text.length) {
      const c = text[i];
      if (c === '"' || c === "'") {
        i = skipCelString(text, i);
        continue;
      }
      if (c === "/" && text[i + 1] === "/") {
        const nl = text.indexOf("\n", i);
        i = nl < 0 ? text.length : nl;
        continue;
      }
      if (c === "{") depth++;
      else if (c === "}") {
        if (depth === 0) {
          const body = text.slice(this.#pos, i);
          this.#advance(i - this.#pos);
          const end = this.position();
          this.#advance(1);
          return { body, start, end };
        }
        depth--;
      }
      i++;
    }
    this.#error("unterminated caveat expression: missing '}'", start);
    this.#advance(text.length - this.#pos);
    return undefined;
  }
}

/** Returns the index after a CEL string literal starting at `i` (quote, triple quote, escapes). */
function skipCelString(text: string, i: number): number {
  const q = text[i]!;
  const triple = text.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < text.length) {
    if (text[j] === "\\") {
      j += 2;
      continue;
    }
    if (text.startsWith(close, j)) return j + close.length;
    if (!triple && text[j] === "\n") return j;
    j++;
  }
  return j;
}
