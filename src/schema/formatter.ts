/**
 * Prints a schema tree as canonical text: tabs, one member a line, a blank line between
 * top-level items, `use` directives first, then `import`s, and parentheses around every
 * operand that mixes operators.
 * `parseSchema(formatSchema(ast)).ast` equals `ast` (positions aside), so formatting is
 * idempotent. Comments that precede a node are printed before it; CEL bodies are printed as
 * written.
 */
import type {
  CaveatNode,
  CaveatTypeNode,
  Comments,
  DefinitionNode,
  ExprNode,
  MemberNode,
  PartialNode,
  SchemaAst,
  TypeRefNode,
} from "./ast.js";

export function formatSchema(ast: SchemaAst): string {
  const blocks: string[] = [];
  if (ast.uses.length > 0) {
    blocks.push(ast.uses.map((u) => `${comments(u.comments, "")}use ${u.feature}`).join("\n"));
  }
  if (ast.imports.length > 0) {
    blocks.push(
      ast.imports.map((i) => `${comments(i.comments, "")}import ${quote(i.path)}`).join("\n"),
    );
  }
  for (const item of ast.items) {
    blocks.push(item.kind === "caveat" ? formatCaveat(item) : formatBlock(item));
  }
  if (ast.trailingComments.length > 0) blocks.push(ast.trailingComments.join("\n"));
  return blocks.length === 0 ? "" : `${blocks.join("\n\n")}\n`;
}

function comments(list: Comments, indent: string): string {
  return list.map((c) => `${indent}${c}\n`).join("");
}

/** An import path in quotes: double unless the path holds a double quote. */
function quote(path: string): string {
  return path.includes('"') ? `'${path}'` : `"${path}"`;
}

function formatBlock(def: DefinitionNode | PartialNode): string {
  const head = `${comments(def.comments, "")}${def.kind} ${def.name} {`;
  if (def.members.length === 0 && def.trailingComments.length === 0) return `${head}}`;
  const lines: string[] = [];
  def.members.forEach((m, i) => {
    // A commented member after others gets air above it, so the comment reads as its own.
    if (i > 0 && m.comments.length > 0) lines.push("");
    lines.push(`${comments(m.comments, "\t")}\t${formatMember(m)}`);
  });
  for (const c of def.trailingComments) lines.push(`\t${c}`);
  return `${head}\n${lines.join("\n")}\n}`;
}

export function formatMember(m: MemberNode): string {
  switch (m.kind) {
    case "relation":
      return `relation ${m.name}: ${m.types.map(formatTypeRef).join(" | ")}`;
    case "partialRef":
      return `...${m.name}`;
    case "permission": {
      const annotation =
        m.annotation === undefined ? "" : `: ${m.annotation.map((t) => t.type).join(" | ")}`;
      return `permission ${m.name}${annotation} = ${formatExpr(m.expr)}`;
    }
  }
}

export function formatTypeRef(t: TypeRefNode): string {
  let s = t.type;
  if (t.wildcard) s += ":*";
  if (t.relation !== undefined) s += `#${t.relation}`;
  if (t.caveat !== undefined && t.expiration) s += ` with ${t.caveat} and expiration`;
  else if (t.caveat !== undefined) s += ` with ${t.caveat}`;
  else if (t.expiration) s += " with expiration";
  return s;
}

function isBinary(e: ExprNode): boolean {
  return e.kind === "union" || e.kind === "intersection" || e.kind === "exclusion";
}

const OPERATOR = { union: "+", intersection: "&", exclusion: "-" } as const;

export function formatExpr(e: ExprNode): string {
  switch (e.kind) {
    case "ref":
      return e.name;
    case "nil":
      return "nil";
    case "self":
      return "self";
    case "arrow":
      return e.op === "->" ? `${e.relation}->${e.target}` : `${e.relation}.${e.op}(${e.target})`;
    case "union":
    case "intersection":
    case "exclusion": {
      // Mixed operators are always parenthesized, so no reader has to recall that `+` binds
      // tighter than `-`; a chain of one operator associates to the left and needs them only
      // on its right.
      const left =
        isBinary(e.left) && e.left.kind !== e.kind ? `(${formatExpr(e.left)})` : formatExpr(e.left);
      const right = isBinary(e.right) ? `(${formatExpr(e.right)})` : formatExpr(e.right);
      return `${left} ${OPERATOR[e.kind]} ${right}`;
    }
  }
}

function formatCaveatType(t: CaveatTypeNode): string {
  return t.args.length === 0 ? t.name : `${t.name}<${t.args.map(formatCaveatType).join(", ")}>`;
}

function formatCaveat(c: CaveatNode): string {
  const params = c.params.map((p) => `${p.name} ${formatCaveatType(p.type)}`).join(", ");
  // The CEL body is the author's text: printed verbatim after one indent, so its own line
  // structure (and every position a CEL error reports) survives formatting.
  return `${comments(c.comments, "")}caveat ${c.name}(${params}) {\n\t${c.expression}\n}`;
}
