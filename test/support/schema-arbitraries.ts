/**
 * fast-check generators of schema syntax trees, shaped exactly as the parser builds them
 * (spans aside), for round-trip and robustness properties.
 */
import fc from "fast-check";
import type {
  CaveatNode,
  CaveatTypeNode,
  DefinitionNode,
  ExprNode,
  MemberNode,
  SchemaAst,
  Span,
  TypeRefNode,
  UseNode,
} from "../../src/schema/ast.js";

const pos = { line: 1, column: 1, offset: 0 };
const span: Span = { start: pos, end: pos };

/** Words the grammar gives meaning to in some position; never generated as names. */
const RESERVED = new Set([
  "nil",
  "with",
  "and",
  "expiration",
  "definition",
  "relation",
  "permission",
  "caveat",
  "use",
  "any",
  "all",
  "self",
]);

export const identifier = fc
  .stringMatching(/^[a-z][a-z0-9_]{1,8}[a-z0-9]$/)
  .filter((s) => !RESERVED.has(s));

export const typeName = fc
  .array(identifier, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join("/"));

const commentText = fc.stringMatching(/^[a-z ]{0,20}$/);
export const comment = fc.oneof(
  commentText.map((t) => `//${t}`),
  commentText.map((t) => `/*${t}*/`),
  commentText.map((t) => `/**${t}*/`),
);
const comments = fc.array(comment, { maxLength: 2 });

const typeRef: fc.Arbitrary<TypeRefNode> = fc
  .record({
    type: typeName,
    shape: fc.constantFrom("plain", "wildcard", "userset", "ellipsis"),
    relation: identifier,
    caveat: fc.option(typeName, { nil: undefined }),
    expiration: fc.boolean(),
  })
  .map(({ type, shape, relation, caveat, expiration }) => ({
    kind: "typeRef",
    type,
    ...(shape === "userset" ? { relation } : shape === "ellipsis" ? { relation: "..." } : {}),
    wildcard: shape === "wildcard",
    ...(caveat !== undefined ? { caveat } : {}),
    expiration,
    span,
  }));

export const expr: fc.Arbitrary<ExprNode> = fc.letrec<{ expr: ExprNode }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    identifier.map((name): ExprNode => ({ kind: "ref", name, span })),
    fc.constant<ExprNode>({ kind: "nil", span }),
    fc
      .record({
        op: fc.constantFrom("->" as const, "any" as const, "all" as const),
        relation: identifier,
        target: identifier,
      })
      .map(
        ({ op, relation, target }): ExprNode => ({
          kind: "arrow",
          op,
          relation,
          relationSpan: span,
          target,
          targetSpan: span,
          span,
        }),
      ),
    fc
      .record({
        kind: fc.constantFrom("union" as const, "intersection" as const, "exclusion" as const),
        left: tie("expr"),
        right: tie("expr"),
      })
      .map(({ kind, left, right }): ExprNode => ({ kind, left, right, span })),
  ),
})).expr;

const member: fc.Arbitrary<MemberNode> = fc.oneof(
  fc
    .record({
      name: identifier,
      comments,
      types: fc.array(typeRef, { minLength: 1, maxLength: 4 }),
    })
    .map(
      ({ name, comments, types }): MemberNode => ({
        kind: "relation",
        name,
        nameSpan: span,
        comments,
        types,
        span,
      }),
    ),
  fc.record({ name: identifier, comments, expr }).map(
    ({ name, comments, expr }): MemberNode => ({
      kind: "permission",
      name,
      nameSpan: span,
      comments,
      expr,
      span,
    }),
  ),
);

const definition: fc.Arbitrary<DefinitionNode> = fc
  .record({
    name: typeName,
    comments,
    members: fc.array(member, { maxLength: 5 }),
    trailingComments: comments,
  })
  .map((d) => ({ kind: "definition", ...d, nameSpan: span, span }));

const caveatType: fc.Arbitrary<CaveatTypeNode> = fc.letrec<{ t: CaveatTypeNode }>((tie) => ({
  t: fc.oneof(
    { depthSize: "small" },
    fc
      .constantFrom("int", "uint", "bool", "string", "double", "bytes", "duration", "timestamp")
      .map((name): CaveatTypeNode => ({ kind: "caveatType", name, args: [], span })),
    fc
      .record({ name: fc.constantFrom("list", "map"), arg: tie("t") })
      .map(({ name, arg }): CaveatTypeNode => ({ kind: "caveatType", name, args: [arg], span })),
  ),
})).t;

const celExpression = fc
  .array(
    fc.oneof(
      identifier.map((p) => `${p} == 1`),
      identifier.map((p) => `"}{" in ${p}`),
      fc.constant("true"),
      identifier.map((p) => `${p}["k"] > 2.5`),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .chain((parts) =>
    fc
      .array(fc.constantFrom(" && ", " ||\n\t  "), {
        minLength: parts.length - 1,
        maxLength: parts.length - 1,
      })
      .map((ops) => parts.map((p, i) => (i === 0 ? p : `${ops[i - 1]}${p}`)).join("")),
  );

const caveat: fc.Arbitrary<CaveatNode> = fc
  .record({
    name: typeName,
    comments,
    params: fc.array(
      fc.record({ name: identifier, type: caveatType }).map(({ name, type }) => ({
        kind: "caveatParam" as const,
        name,
        type,
        span,
      })),
      { minLength: 1, maxLength: 3 },
    ),
    expression: celExpression,
  })
  .map((c) => ({ kind: "caveat", ...c, nameSpan: span, expressionSpan: span, span }));

const use: fc.Arbitrary<UseNode> = fc
  .record({ feature: identifier, comments })
  .map(({ feature, comments }) => ({ kind: "use", feature, comments, span }));

/** Any syntactically valid schema tree (names may not resolve: syntax only). */
export const schemaAst: fc.Arbitrary<SchemaAst> = fc
  .record({
    uses: fc.array(use, { maxLength: 2 }),
    items: fc.array(fc.oneof(definition, definition, caveat), { maxLength: 4 }),
    trailingComments: comments,
  })
  .map((s) => ({ kind: "schema", ...s, span }));

/** Pieces of schema syntax, glued into token soups that are mostly almost-valid. */
export const tokenSoup = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "definition",
        "relation",
        "permission",
        "caveat",
        "use",
        "expiration",
        "with",
        "and",
        "nil",
        "{",
        "}",
        "(",
        ")",
        "|",
        "+",
        "-",
        "&",
        "->",
        ".",
        "...",
        "#",
        ":",
        "*",
        "=",
        ";",
        ",",
        "<",
        ">",
        "/",
        "//",
        "/*",
        "*/",
        '"',
        "any",
        "all",
        "\n",
      ),
      identifier,
    ),
    { maxLength: 60 },
  )
  .chain((tokens) =>
    fc
      .array(fc.constantFrom(" ", "", "\n", "\t"), {
        minLength: tokens.length,
        maxLength: tokens.length,
      })
      .map((gaps) => tokens.map((t, i) => `${t}${gaps[i]}`).join("")),
  );
