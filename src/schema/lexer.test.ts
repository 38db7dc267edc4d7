import { describe, expect, test } from "vitest";
import { Lexer, type TokenKind } from "./lexer.js";

function kinds(text: string): string[] {
  const lexer = new Lexer(text);
  const out: string[] = [];
  for (;;) {
    const t = lexer.next();
    if (t.kind === "eof") break;
    out.push(t.kind === "ident" ? `ident:${t.text}` : (t.kind satisfies TokenKind));
  }
  return out;
}

describe("lexer", () => {
  test.each([
    ["definition user {}", ["ident:definition", "ident:user", "{", "}"]],
    ["a->b", ["ident:a", "->", "ident:b"]],
    ["a - b", ["ident:a", "-", "ident:b"]],
    ["a.any(b)", ["ident:a", ".", "ident:any", "(", "ident:b", ")"]],
    ["group#...", ["ident:group", "#", "..."]],
    ["user:*", ["ident:user", ":", "*"]],
    ["acme/user", ["ident:acme", "/", "ident:user"]],
    ["a // comment\nb", ["ident:a", "ident:b"]],
    ["a /* x\ny */ b", ["ident:a", "ident:b"]],
    ["list<map<int>>", ["ident:list", "<", "ident:map", "<", "ident:int", ">", ">"]],
    [
      "x=y;z,w|v&u+t",
      [
        "ident:x",
        "=",
        "ident:y",
        ";",
        "ident:z",
        ",",
        "ident:w",
        "|",
        "ident:v",
        "&",
        "ident:u",
        "+",
        "ident:t",
      ],
    ],
    ["ünïcödé_1", ["ident:ünïcödé_1"]],
  ])("reads %j", (text, expected) => {
    expect(kinds(text)).toEqual(expected);
  });

  test("marks tokens that follow a line break and carries comments on the next token", () => {
    const lexer = new Lexer("a\n// note\n/** doc */ b");
    const a = lexer.next();
    const b = lexer.next();
    expect(a.newlineBefore).toBe(false);
    expect(b.newlineBefore).toBe(true);
    expect(b.comments).toEqual(["// note", "/** doc */"]);
    expect(b.start).toEqual({ line: 3, column: 12, offset: 21 });
  });

  test("reports an unexpected character with its position and goes on", () => {
    const lexer = new Lexer("a\n  $ b");
    lexer.next();
    expect(lexer.next()).toMatchObject({ kind: "ident", text: "b" });
    expect(lexer.diagnostics).toEqual([
      { message: expect.stringContaining("U+0024"), position: { line: 2, column: 3, offset: 4 } },
    ]);
  });

  test("reads a caveat body up to its closing brace, skipping braces in strings", () => {
    const lexer = new Lexer('{ a == "}" && b[{"k": 1}] }rest');
    expect(lexer.next().kind).toBe("{");
    const block = lexer.readBlock();
    expect(block?.body).toBe(' a == "}" && b[{"k": 1}] ');
    expect(lexer.next()).toMatchObject({ kind: "ident", text: "rest" });
  });

  test("reports an unterminated comment", () => {
    const lexer = new Lexer("a /* never");
    lexer.next();
    expect(lexer.next().kind).toBe("eof");
    expect(lexer.diagnostics).toHaveLength(1);
  });
});
