/**
 * fast-check generators of schema syntax trees, shaped exactly as the parser builds them
 * (spans aside), for round-trip and robustness properties.
 */
import fc from "fast-check";
import type {
  AnnotatedTypeNode,
  CaveatNode,
  CaveatTypeNode,
  DefinitionNode,
  ExprNode,
  ImportNode,
  MemberNode,
  PartialNode,
  SchemaAst,
  Span,
  TopLevelNode,
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
  "typechecking",
  "partial",
  "import",
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

const annotation: fc.Arbitrary<AnnotatedTypeNode[] | undefined> = fc.option(
  fc.array(
    identifier.map((type): AnnotatedTypeNode => ({ kind: "annotatedType", type, span })),
    { minLength: 1, maxLength: 3 },
  ),
  { nil: undefined },
);

/** Members of a definition or partial; `...name` references only under `use partial`. */
function member(partials: boolean): fc.Arbitrary<MemberNode> {
  const relation = fc
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
    );
  const permission = fc.record({ name: identifier, comments, annotation, expr }).map(
    ({ name, comments, annotation, expr }): MemberNode => ({
      kind: "permission",
      name,
      nameSpan: span,
      comments,
      ...(annotation !== undefined ? { annotation } : {}),
      expr,
      span,
    }),
  );
  const partialRef = fc.record({ name: identifier, comments }).map(
    ({ name, comments }): MemberNode => ({
      kind: "partialRef",
      name,
      nameSpan: span,
      comments,
      span,
    }),
  );
  return partials ? fc.oneof(relation, permission, partialRef) : fc.oneof(relation, permission);
}

function block<K extends "definition" | "partial">(
  kind: K,
  partials: boolean,
): fc.Arbitrary<DefinitionNode | PartialNode> {
  return fc
    .record({
      name: kind === "definition" ? typeName : identifier,
      comments,
      members: fc.array(member(partials), { maxLength: 5 }),
      trailingComments: comments,
    })
    .map((d) => ({ kind, ...d, nameSpan: span, span }) as DefinitionNode | PartialNode);
}

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
  .record({
    feature: fc.oneof(
      fc.constantFrom("expiration", "self", "typechecking", "partial", "import"),
      identifier,
    ),
    comments,
  })
  .map(({ feature, comments }) => ({ kind: "use", feature, comments, span }));

const importNode: fc.Arbitrary<ImportNode> = fc
  .record({ path: fc.stringMatching(/^[a-z0-9_./-]{1,24}$/), comments })
  .map(({ path, comments }) => ({ kind: "import", path, pathSpan: span, comments, span }));

/**
 * Any syntactically valid schema tree (names may not resolve: syntax only). Partials, partial
 * references and imports appear only under their `use`, as the parser reads them.
 */
export const schemaAst: fc.Arbitrary<SchemaAst> = fc
  .array(use, { maxLength: 3 })
  .chain((uses) => {
    const features = new Set(uses.map((u) => u.feature));
    const partials = features.has("partial");
    const definition = block("definition", partials);
    const items: fc.Arbitrary<TopLevelNode>[] = [definition, definition, caveat];
    if (partials) items.push(block("partial", true));
    return fc.record({
      uses: fc.constant(uses),
      imports: features.has("import") ? fc.array(importNode, { maxLength: 2 }) : fc.constant([]),
      items: fc.array(fc.oneof(...items), { maxLength: 4 }),
      trailingComments: comments,
    });
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
        "typechecking",
        "partial",
        "import",
        "...",
        ":",
        '"a.zed"',
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
