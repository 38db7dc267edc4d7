/**
 * The recursive-descent parser of the schema language. It never throws on bad input: it
 * records a diagnostic, skips to the next statement and keeps going, so one run reports every
 * syntax error with its position, and the tree it returns holds everything that did parse.
 *
 * Precedence follows SpiceDB: `+` binds tightest, then `&`, then `-`; all are
 * left-associative (`a - b + c` is `a - (b + c)`). A line break after a complete statement
 * ends it, so an operator cannot begin a continuation line.
 *
 * `use` directives come before everything else, and the feature each one names is a keyword
 * from then on (`use expiration` makes a caveat or relation named `expiration` an error), as in
 * SpiceDB. The sizes of `schema-limits.ts` are enforced here, so no later pass meets a tree
 * deeper than they allow.
 */
import type { SchemaDiagnostic, SourcePosition } from "../core/errors.js";
import { utf8Length } from "../core/utf8-length.js";
import type {
  AnnotatedTypeNode,
  ArrowNode,
  CaveatNode,
  CaveatParamNode,
  CaveatTypeNode,
  Comments,
  DefinitionNode,
  ExprNode,
  ImportNode,
  MemberNode,
  PartialNode,
  PartialRefNode,
  PermissionNode,
  RelationNode,
  SchemaAst,
  Span,
  TopLevelNode,
  TypeRefNode,
  UseNode,
} from "./ast.js";
import { Lexer, type Token, type TokenKind } from "./lexer.js";
import {
  MAX_EXPRESSION_NESTING,
  MAX_PERMISSION_TERMS,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_ITEMS,
} from "./schema-limits.js";

export interface ParseResult {
  /** The tree of everything that parsed; complete when `diagnostics` is empty. */
  readonly ast: SchemaAst;
  /** Syntax errors in source order. */
  readonly diagnostics: readonly SchemaDiagnostic[];
}

export interface ParseOptions {
  /**
   * Added to every offset, so that positions from several files of one schema (its imports)
   * never collide; lines and columns stay those of the file. Default 0.
   */
  readonly offsetBase?: number;
}

/** Parses schema text. Never throws on any input. */
export function parseSchema(text: string, options: ParseOptions = {}): ParseResult {
  const offsetBase = options.offsetBase ?? 0;
  const bytes = utf8Length(text);
  if (bytes > MAX_SCHEMA_BYTES) {
    const at = { line: 1, column: 1, offset: offsetBase };
    return {
      ast: {
        kind: "schema",
        uses: [],
        imports: [],
        items: [],
        trailingComments: [],
        span: { start: at, end: at },
      },
      diagnostics: [
        {
          message: `schema of ${bytes} bytes is over the limit of ${MAX_SCHEMA_BYTES} bytes`,
          position: at,
        },
      ],
    };
  }
  const parser = new Parser(text, offsetBase);
  const ast = parser.parseFile();
  const diagnostics = [...parser.lexer.diagnostics, ...parser.diagnostics].sort(
    (a, b) => a.position.offset - b.position.offset,
  );
  return { ast, diagnostics };
}

/** Thrown inside the parser to abandon the current statement; never escapes `parseSchema`. */
class StatementFailed extends Error {}

/** Feature names that `use` turns into keywords (never names from then on). */
const KEYWORD_FEATURES: ReadonlySet<string> = new Set([
  "expiration",
  "self",
  "typechecking",
  "partial",
  "import",
]);

class Parser {
  readonly lexer: Lexer;
  readonly diagnostics: SchemaDiagnostic[] = [];
  tok: Token;
  prev: Token;
  #nesting = 0;
  /** Operands of the permission being parsed. */
  #terms = 0;
  /** Top-level definitions, caveats and partials parsed so far. */
  #itemCount = 0;
  /**
   * Features switched on by `use` so far. After `use self`, `self` is the object itself; before
   * it, a plain name (schemas with a relation called `self` predate the feature). Likewise
   * `partial`, `import` and `...` mean something only after their `use`.
   */
  readonly #features = new Set<string>();

  constructor(text: string, offsetBase: number) {
    this.lexer = new Lexer(text, offsetBase);
    this.tok = this.lexer.next();
    this.prev = this.tok;
  }

  // ---- token plumbing -------------------------------------------------------------------

  advance(): Token {
    const t = this.tok;
    this.prev = t;
    this.tok = this.lexer.next();
    return t;
  }

  /** The current token's kind, read through a call so narrowing does not outlive `advance`. */
  kind(): TokenKind {
    return this.tok.kind;
  }

  isWord(word: string): boolean {
    return this.tok.kind === "ident" && this.tok.text === word;
  }

  fail(message: string, at: SourcePosition = this.tok.start): never {
    this.diagnostics.push({ message, position: at });
    throw new StatementFailed(message);
  }

  expect(kind: TokenKind, what: string): Token {
    if (this.tok.kind !== kind) this.fail(`expected ${what}, found ${describe(this.tok)}`);
    return this.advance();
  }

  /** A name: an identifier that no `use` has made a keyword. */
  expectIdent(what: string): Token {
    const tok = this.expect("ident", what);
    if (this.#features.has(tok.text) && KEYWORD_FEATURES.has(tok.text)) {
      this.fail(
        `'${tok.text}' is a keyword after 'use ${tok.text}' and cannot name anything (expected ${what})`,
        tok.start,
      );
    }
    return tok;
  }

  spanFrom(start: SourcePosition): Span {
    return { start, end: this.prev.end };
  }

  /** A statement ends at `;`, `}`, end of input, or a line break. */
  expectStatementEnd(): void {
    if (this.tok.kind === ";") {
      this.advance();
      return;
    }
    if (this.tok.kind === "}" || this.tok.kind === "eof" || this.tok.newlineBefore) return;
    this.fail(`expected end of statement, found ${describe(this.tok)}`);
  }

  // ---- file -----------------------------------------------------------------------------

  parseFile(): SchemaAst {
    const start = this.tok.start;
    const uses: UseNode[] = [];
    const imports: ImportNode[] = [];
    const items: TopLevelNode[] = [];
    while (this.tok.kind !== "eof") {
      if (this.tok.kind === ";") {
        this.advance();
        continue;
      }
      try {
        if (this.isWord("use")) {
          uses.push(this.parseUse(items.length > 0));
          continue;
        }
        if (this.isWord("import") && this.#features.has("import")) {
          imports.push(this.parseImport());
          continue;
        }
        let item: TopLevelNode;
        if (this.isWord("definition")) item = this.parseDefinition();
        else if (this.isWord("caveat")) item = this.parseCaveat();
        else if (this.isWord("partial") && this.#features.has("partial")) {
          item = this.parsePartial();
        } else if (this.isWord("partial") || this.isWord("import")) {
          this.fail(`'${this.tok.text}' needs 'use ${this.tok.text}' at the top of the schema`);
        } else {
          this.fail(`expected 'definition', 'caveat' or 'use', found ${describe(this.tok)}`);
        }
        if (++this.#itemCount > MAX_SCHEMA_ITEMS) {
          this.diagnostics.push({
            message: `more than ${MAX_SCHEMA_ITEMS} definitions, caveats and partials in one schema`,
            position: item.span.start,
          });
          break;
        }
        items.push(item);
      } catch (err) {
        if (!(err instanceof StatementFailed)) throw err;
        this.recoverTopLevel();
      }
    }
    return {
      kind: "schema",
      uses,
      imports,
      items,
      trailingComments: this.tok.comments,
      span: { start, end: this.tok.end },
    };
  }

  /** Whether the current token starts a top-level statement (at the start of a line). */
  isTopLevelWord(): boolean {
    return (
      this.isWord("definition") ||
      this.isWord("caveat") ||
      this.isWord("use") ||
      this.isWord("partial") ||
      this.isWord("import")
    );
  }

  /** Skips to the next line that starts a top-level statement. */
  recoverTopLevel(): void {
    if (this.tok.kind !== "eof") this.advance();
    while (this.tok.kind !== "eof") {
      if (this.tok.newlineBefore && this.isTopLevelWord()) return;
      this.advance();
    }
  }

  parseUse(afterItems: boolean): UseNode {
    const first = this.advance();
    // Not `expectIdent`: repeating a `use` names a word that is already a keyword.
    const feature = this.expect("ident", "a feature name after 'use'");
    if (afterItems) {
      this.diagnostics.push({
        message: "'use' must come before every definition, caveat and partial",
        position: first.start,
      });
    }
    this.#features.add(feature.text);
    // No terminator is required: folded YAML puts `use self definition user {` on one line,
    // and SpiceDB accepts it.
    return {
      kind: "use",
      feature: feature.text,
      comments: first.comments,
      span: { start: first.start, end: feature.end },
    };
  }

  parseImport(): ImportNode {
    const first = this.advance();
    if (this.tok.kind !== "string" || this.tok.newlineBefore) {
      this.fail(`expected a quoted path after 'import', found ${describe(this.tok)}`);
    }
    const path = this.advance();
    this.expectStatementEnd();
    return {
      kind: "import",
      path: path.text.slice(1, -1),
      pathSpan: { start: path.start, end: path.end },
      comments: first.comments,
      span: { start: first.start, end: path.end },
    };
  }

  parseTypePath(what: string): { name: string; span: Span } {
    const first = this.expectIdent(what);
    let name = first.text;
    while (this.tok.kind === "/" && !this.tok.newlineBefore) {
      this.advance();
      name += `/${this.expectIdent("a name after '/'").text}`;
    }
    return { name, span: this.spanFrom(first.start) };
  }

  // ---- definitions ----------------------------------------------------------------------

  parseDefinition(): DefinitionNode {
    const first = this.advance();
    const name = this.parseTypePath("a definition name");
    const body = this.parseBody(`definition ${name.name}`);
    return {
      kind: "definition",
      name: name.name,
      nameSpan: name.span,
      comments: first.comments,
      members: body.members,
      trailingComments: body.trailingComments,
      span: this.spanFrom(first.start),
    };
  }

  parsePartial(): PartialNode {
    const first = this.advance();
    const name = this.expectIdent("a partial name");
    const body = this.parseBody(`partial ${name.text}`);
    return {
      kind: "partial",
      name: name.text,
      nameSpan: { start: name.start, end: name.end },
      comments: first.comments,
      members: body.members,
      trailingComments: body.trailingComments,
      span: this.spanFrom(first.start),
    };
  }

  /** `{ member… }` of a definition or a partial. */
  parseBody(what: string): { members: MemberNode[]; trailingComments: Comments } {
    this.expect("{", `'{' to open the body of ${what}`);
    const members: MemberNode[] = [];
    let trailingComments: Comments = [];
    for (;;) {
      if (this.tok.kind === "}") {
        trailingComments = this.tok.comments;
        this.advance();
        break;
      }
      if (this.tok.kind === "eof" || this.isTopLevelStart()) {
        this.diagnostics.push({
          message: `missing '}' at the end of ${what}`,
          position: this.tok.start,
        });
        break;
      }
      if (this.tok.kind === ";") {
        this.advance();
        continue;
      }
      try {
        if (this.isWord("relation")) members.push(this.parseRelation());
        else if (this.isWord("permission")) members.push(this.parsePermission());
        else if (this.tok.kind === "..." && this.#features.has("partial")) {
          members.push(this.parsePartialRef());
        } else if (this.tok.kind === "...") {
          this.fail("a partial reference '...name' needs 'use partial' at the top of the schema");
        } else this.fail(`expected 'relation' or 'permission', found ${describe(this.tok)}`);
        this.expectStatementEnd();
      } catch (err) {
        if (!(err instanceof StatementFailed)) throw err;
        this.recoverMember();
      }
    }
    return { members, trailingComments };
  }

  parsePartialRef(): PartialRefNode {
    const first = this.advance();
    const name = this.expectIdent("a partial name after '...'");
    return {
      kind: "partialRef",
      name: name.text,
      nameSpan: { start: name.start, end: name.end },
      comments: first.comments,
      span: { start: first.start, end: name.end },
    };
  }

  isTopLevelStart(): boolean {
    return (
      this.tok.newlineBefore &&
      (this.isWord("definition") ||
        this.isWord("caveat") ||
        (this.isWord("partial") && this.#features.has("partial")))
    );
  }

  /** Skips to the next member of the current definition, or to its closing brace. */
  recoverMember(): void {
    if (this.tok.kind !== "}" && this.tok.kind !== "eof") this.advance();
    while (this.tok.kind !== "}" && this.tok.kind !== "eof") {
      if (this.tok.kind === ";") {
        this.advance();
        return;
      }
      if (
        this.tok.newlineBefore &&
        (this.isWord("relation") || this.isWord("permission") || this.tok.kind === "...")
      ) {
        return;
      }
      if (this.isTopLevelStart()) return;
      this.advance();
    }
  }

  parseRelation(): RelationNode {
    const first = this.advance();
    const name = this.expectIdent("a relation name");
    this.expect(":", "':' after the relation name");
    const types: TypeRefNode[] = [this.parseTypeRef()];
    while (this.tok.kind === "|" && !this.tok.newlineBefore) {
      this.advance();
      types.push(this.parseTypeRef());
    }
    return {
      kind: "relation",
      name: name.text,
      nameSpan: { start: name.start, end: name.end },
      comments: first.comments,
      types,
      span: this.spanFrom(first.start),
    };
  }

  parseTypeRef(): TypeRefNode {
    const start = this.tok.start;
    if (this.tok.newlineBefore && (this.isWord("relation") || this.isWord("permission"))) {
      this.fail(`expected a subject type, found ${describe(this.tok)}`);
    }
    const type = this.parseTypePath("a subject type");
    let relation: string | undefined;
    let wildcard = false;
    if (this.tok.kind === ":" && !this.tok.newlineBefore) {
      this.advance();
      this.expect("*", "'*' after ':' (a wildcard subject type is written type:*)");
      wildcard = true;
    } else if (this.tok.kind === "#" && !this.tok.newlineBefore) {
      this.advance();
      if (this.kind() === "...") relation = this.advance().text;
      else relation = this.expectIdent("a relation name or '...' after '#'").text;
    }
    if ((this.kind() === "#" || this.kind() === ":") && !this.tok.newlineBefore) {
      this.fail(
        wildcard
          ? "a wildcard subject type cannot carry a relation: write type:* alone"
          : "a userset subject type cannot be a wildcard: write type#relation or type:*",
      );
    }
    let caveat: string | undefined;
    let expiration = false;
    if (this.isWord("with") && !this.tok.newlineBefore) {
      this.advance();
      if (this.isWord("expiration")) {
        this.advance();
        expiration = true;
        if (this.isWord("and") && !this.tok.newlineBefore) {
          this.fail("write the caveat before expiration: 'with caveat_name and expiration'");
        }
      } else {
        caveat = this.parseTypePath("a caveat name or 'expiration' after 'with'").name;
        if (this.isWord("and") && !this.tok.newlineBefore) {
          this.advance();
          if (!this.isWord("expiration")) {
            this.fail(`expected 'expiration' after 'and', found ${describe(this.tok)}`);
          }
          this.advance();
          expiration = true;
        }
      }
    }
    return {
      kind: "typeRef",
      type: type.name,
      ...(relation !== undefined ? { relation } : {}),
      wildcard,
      ...(caveat !== undefined ? { caveat } : {}),
      expiration,
      span: this.spanFrom(start),
    };
  }

  parsePermission(): PermissionNode {
    const first = this.advance();
    const name = this.expectIdent("a permission name");
    let annotation: AnnotatedTypeNode[] | undefined;
    if (this.tok.kind === ":") {
      this.advance();
      annotation = [this.parseAnnotatedType()];
      while (this.kind() === "|" && !this.tok.newlineBefore) {
        this.advance();
        annotation.push(this.parseAnnotatedType());
      }
      this.expect("=", "'|' or '=' after the type annotation");
    } else {
      this.expect("=", "'=' (or ':' and a type annotation) after the permission name");
    }
    this.#terms = 0;
    this.#nesting = 0;
    const expr = this.parseExpr();
    return {
      kind: "permission",
      name: name.text,
      nameSpan: { start: name.start, end: name.end },
      comments: first.comments,
      ...(annotation !== undefined ? { annotation } : {}),
      expr,
      span: this.spanFrom(first.start),
    };
  }

  /** A type of a permission's annotation: a plain definition name, as SpiceDB reads it. */
  parseAnnotatedType(): AnnotatedTypeNode {
    const type = this.expectIdent("a type name in the permission's type annotation");
    return { kind: "annotatedType", type: type.text, span: { start: type.start, end: type.end } };
  }

  // ---- expressions ----------------------------------------------------------------------

  parseExpr(): ExprNode {
    return this.parseBinary("-", "exclusion", () =>
      this.parseBinary("&", "intersection", () =>
        this.parseBinary("+", "union", () => this.parseTerm()),
      ),
    );
  }

  parseBinary(
    op: "+" | "&" | "-",
    kind: "union" | "intersection" | "exclusion",
    operand: () => ExprNode,
  ): ExprNode {
    let left = operand();
    while (this.tok.kind === op && !this.tok.newlineBefore) {
      this.advance();
      const right = operand();
      left = { kind, left, right, span: { start: left.span.start, end: right.span.end } };
    }
    return left;
  }

  parseTerm(): ExprNode {
    const start = this.tok.start;
    if (this.tok.kind === "(") {
      if (++this.#nesting > MAX_EXPRESSION_NESTING) {
        this.fail(`parentheses nested more than ${MAX_EXPRESSION_NESTING} deep`);
      }
      this.advance();
      const inner = this.parseExpr();
      this.expect(")", "')' to close the parenthesis");
      this.#nesting--;
      return inner;
    }
    if (++this.#terms > MAX_PERMISSION_TERMS) {
      this.fail(`a permission of more than ${MAX_PERMISSION_TERMS} operands`);
    }
    if (this.isWord("nil")) {
      this.advance();
      return { kind: "nil", span: this.spanFrom(start) };
    }
    if (this.isWord("self") && this.#features.has("self")) {
      this.advance();
      return { kind: "self", span: this.spanFrom(start) };
    }
    const name = this.expectIdent("a relation or permission name, 'nil' or '('");
    const nameSpan = { start: name.start, end: name.end };
    let arrow: ArrowNode | undefined;
    if (this.tok.kind === "->" && !this.tok.newlineBefore) {
      this.advance();
      const target = this.expectIdent("a relation or permission name after '->'");
      arrow = {
        kind: "arrow",
        op: "->",
        relation: name.text,
        relationSpan: nameSpan,
        target: target.text,
        targetSpan: { start: target.start, end: target.end },
        span: this.spanFrom(start),
      };
    } else if (this.tok.kind === "." && !this.tok.newlineBefore) {
      this.advance();
      const fn = this.expectIdent("'any' or 'all' after '.'");
      if (fn.text !== "any" && fn.text !== "all") {
        this.fail(`unknown arrow function '${fn.text}': expected 'any' or 'all'`, fn.start);
      }
      this.expect("(", `'(' after '.${fn.text}'`);
      const target = this.expectIdent(`a relation or permission name inside '.${fn.text}()'`);
      this.expect(")", "')'");
      arrow = {
        kind: "arrow",
        op: fn.text,
        relation: name.text,
        relationSpan: nameSpan,
        target: target.text,
        targetSpan: { start: target.start, end: target.end },
        span: this.spanFrom(start),
      };
    }
    if (arrow !== undefined) {
      if ((this.tok.kind === "->" || this.tok.kind === ".") && !this.tok.newlineBefore) {
        this.fail("nested arrows are not supported: walk one relation per arrow");
      }
      return arrow;
    }
    return { kind: "ref", name: name.text, span: nameSpan };
  }

  // ---- caveats --------------------------------------------------------------------------

  parseCaveat(): CaveatNode {
    const first = this.advance();
    const name = this.parseTypePath("a caveat name");
    this.expect("(", "'(' to open the caveat parameters");
    const params: CaveatParamNode[] = [];
    if (this.tok.kind !== ")") {
      for (;;) {
        params.push(this.parseCaveatParam());
        if (this.tok.kind !== ",") break;
        this.advance();
      }
    }
    this.expect(")", "')' to close the caveat parameters");
    if (this.tok.kind !== "{") {
      this.fail(`expected '{' to open the caveat expression, found ${describe(this.tok)}`);
    }
    // The lexer stands right after '{': read the CEL body raw, then resume tokenizing.
    const block = this.lexer.readBlock();
    if (block === undefined) {
      this.tok = this.lexer.next();
      throw new StatementFailed("unterminated caveat");
    }
    const endOfCaveat = {
      ...block.end,
      column: block.end.column + 1,
      offset: block.end.offset + 1,
    };
    this.tok = this.lexer.next();
    const { expression, start: exprStart } = trimBlock(block.body, block.start);
    const exprEnd = advancePosition(exprStart, expression);
    if (expression === "") {
      this.diagnostics.push({
        message: `caveat ${name.name} has an empty expression`,
        position: block.start,
      });
    }
    return {
      kind: "caveat",
      name: name.name,
      nameSpan: name.span,
      comments: first.comments,
      params,
      expression,
      expressionSpan: { start: exprStart, end: exprEnd },
      span: { start: first.start, end: endOfCaveat },
    };
  }

  parseCaveatParam(): CaveatParamNode {
    const name = this.expectIdent("a parameter name");
    this.#nesting = 0;
    const type = this.parseCaveatType();
    return {
      kind: "caveatParam",
      name: name.text,
      type,
      span: this.spanFrom(name.start),
    };
  }

  parseCaveatType(): CaveatTypeNode {
    if (++this.#nesting > MAX_EXPRESSION_NESTING) {
      this.fail(`parameter type nested more than ${MAX_EXPRESSION_NESTING} deep`);
    }
    const name = this.expectIdent("a parameter type");
    const args: CaveatTypeNode[] = [];
    if (this.tok.kind === "<") {
      this.advance();
      for (;;) {
        args.push(this.parseCaveatType());
        if (this.kind() !== ",") break;
        this.advance();
      }
      this.expect(">", "'>' to close the type arguments");
    }
    this.#nesting--;
    return { kind: "caveatType", name: name.text, args, span: this.spanFrom(name.start) };
  }
}

/** Strips surrounding whitespace from a CEL body and finds where the kept text starts. */
function trimBlock(
  body: string,
  start: SourcePosition,
): { expression: string; start: SourcePosition } {
  const leading = body.length - body.trimStart().length;
  return {
    expression: body.trim(),
    start: advancePosition(start, body.slice(0, leading)),
  };
}

function advancePosition(from: SourcePosition, text: string): SourcePosition {
  let { line, column } = from;
  for (const ch of text) {
    if (ch === "\n") {
      line++;
      column = 1;
    } else {
      column += ch.length;
    }
  }
  return { line, column, offset: from.offset + text.length };
}

function describe(tok: Token): string {
  if (tok.kind === "eof") return "end of input";
  if (tok.kind === "ident") return `'${tok.text}'`;
  return `'${tok.text}'`;
}
