// The memory engine must run in a browser. dependency-cruiser keeps Node's modules and every
// package out of what it imports (.dependency-cruiser.cjs, memory-store-runs-in-browsers);
// this test keeps out Node's globals (Buffer, process, setImmediate, NodeJS.*): it type-checks
// the engine and everything it reaches against the browser's library alone, without @types/node.
import { join } from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");
const entry = join(root, "src", "store", "memory", "index.ts");
/** A file that uses `Buffer`: the check must fail on it, or it checks nothing. */
const planted = join(root, "src", "store", "memory", "browser-safety.testkit.ts");

it("type-checks with the browser's library alone, so it uses no Node global", () => {
  const program = ts.createProgram([entry, planted], {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ({
    file: d.file?.fileName.slice(root.length + 1),
    line: d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
  }));
  const plantedFile = planted.slice(root.length + 1);
  expect(problems.filter((p) => p.file !== plantedFile)).toEqual([]);
  expect(problems.map((p) => p.message).join("\n")).toMatch(/Cannot find name 'Buffer'/);
  // Every module the engine reaches was checked: the store's shared modules and core.
  const checked = program.getSourceFiles().map((f) => f.fileName.slice(root.length + 1));
  expect(checked).toEqual(
    expect.arrayContaining([
      "src/store/read-cursor.ts",
      "src/store/write-planner.ts",
      "src/store/change-notifier.ts",
      "src/core/index.ts",
    ]),
  );
}, 60_000);
