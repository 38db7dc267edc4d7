// The README's SpiceDB example, run as written against `trellis serve-testing` (only its address
// is pointed at the test server's port), so the README cannot drift from what works.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pino from "pino";
import ts from "typescript";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { runServeTesting } from "../../src/cli/serve-testing-command.js";

const root = join(import.meta.dirname, "..", "..");
const MARKER = "<!-- readme-spicedb-example:";

function readmeExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("```ts\n", readme.indexOf(MARKER));
  const end = readme.indexOf("```\n", start + 6);
  if (readme.indexOf(MARKER) < 0 || start < 0 || end < 0) throw new Error("no example in README");
  return readme.slice(start + 6, end);
}

const stop = new AbortController();
let done: Promise<number>;
let address = "";

beforeAll(async () => {
  let printed!: (text: string) => void;
  const banner = new Promise<string>((resolve) => {
    printed = resolve;
  });
  let out = "";
  done = runServeTesting(
    { listen: "localhost:0" },
    {
      out: (t) => {
        out += t;
        if (out.includes("Stop with")) printed(out);
      },
      err: () => {},
    },
    stop.signal,
    pino({ level: "silent" }),
  );
  address = /on (localhost:\d+)/.exec(await banner)![1]!;
});

afterAll(async () => {
  stop.abort();
  await done;
});

test("the README's authzed-node example checks alice's view after her write", async () => {
  const source = readmeExample().replaceAll("localhost:50051", address);
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  // Inside node_modules, so that the example's bare imports resolve as a user's would.
  const dir = join(root, "node_modules", ".cache", "trellis-readme");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `spicedb-example-${process.pid}.mjs`);
  writeFileSync(file, outputText);
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
    expect(log).toHaveBeenCalledWith(true);
  } finally {
    log.mockRestore();
    rmSync(file, { force: true });
  }
});
