// The README as a tested artifact. Its shell blocks marked `sh runnable` run, as written, with
// `sh` from the repository root against a server started here the way `make serve` starts
// one (insecure-dev, the docs preset, a fresh SQLite file) on a free port that
// TRELLIS_ENDPOINT names; a `# text` line right after a command is what it must print. The
// relationships it shows must fit the schema it shows, and its command table must list exactly
// the commands of `trellis --help`.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Command } from "commander";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildProgram } from "../src/cli/program.js";
import { runServe } from "../src/cli/serve-command.js";
import { parseRelationship } from "../src/core/relationship.js";
import { Engine } from "../src/engine/engine.js";
import { temporaryDirectory } from "./support/cli-harness.js";
import { openTestStore } from "./support/test-stores.js";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The fenced blocks whose info string is `lang` plus `words`, in order. */
function blocks(info: RegExp): string[] {
  const found: string[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (const m of readme.matchAll(fence)) if (info.test(m[1]!.trim())) found.push(m[2]!);
  return found;
}

/** The block right after an HTML comment `<!-- name: … -->`. */
function blockAfter(name: string): string {
  const at = readme.indexOf(`<!-- ${name}:`);
  if (at < 0) throw new Error(`README has no <!-- ${name}: … --> block`);
  const start = readme.indexOf("```", at);
  const body = readme.indexOf("\n", start) + 1;
  return readme.slice(body, readme.indexOf("\n```", body));
}

interface Step {
  readonly command: string;
  /** What it must print (stdout, trimmed), when the README says. */
  readonly expected: string | undefined;
}

/**
 * The commands of a block (continuation lines joined), each with the `# ` lines right after
 * it as what it prints; a blank line ends those (comments after one are explanations).
 */
function steps(block: string): Step[] {
  const out: { command: string; expected: string[] }[] = [];
  let continued = "";
  let afterCommand = false;
  for (const raw of block.split("\n")) {
    const line = raw.trimEnd();
    if (continued !== "" || (line !== "" && !line.startsWith("#"))) {
      if (line.endsWith("\\")) {
        continued += `${line.slice(0, -1)} `;
        continue;
      }
      out.push({ command: continued + line, expected: [] });
      continued = "";
      afterCommand = true;
    } else if (line === "") {
      afterCommand = false;
    } else if (afterCommand) {
      out[out.length - 1]!.expected.push(line.replace(/^# ?/, ""));
    }
  }
  return out.map((s) => ({
    command: s.command,
    expected: s.expected.length > 0 ? s.expected.join("\n") : undefined,
  }));
}

describe("the README's runnable blocks", () => {
  const tmp = temporaryDirectory("trellis-readme-");
  const stop = new AbortController();
  let served: Promise<number>;
  let address: string;

  beforeAll(async () => {
    if (!existsSync(join(root, "dist", "cli", "main.js"))) {
      throw new Error("dist/ is missing: run `make build` (make test does) before this test");
    }
    let out = "";
    let ready!: () => void;
    const banner = new Promise<void>((resolve) => {
      ready = resolve;
    });
    // What `make serve` runs, on a free port and a fresh file.
    served = runServe(
      {
        insecureDev: true,
        preset: "docs",
        listen: "127.0.0.1:0",
        datastore: `sqlite:${join(tmp.path, "data", "trellis.db")}`,
      },
      {
        out: (t) => {
          out += t;
          if (out.includes("Stop with")) ready();
        },
        err: () => {},
      },
      stop.signal,
      {},
      pino({ level: "silent" }),
    );
    const ended = await Promise.race([banner.then(() => false), served.then(() => true)]);
    if (ended) throw new Error(`the server did not start: ${out}`);
    address = /serving on (\S+)/.exec(out)![1]!;
  });

  afterAll(async () => {
    stop.abort();
    await served;
    tmp.remove();
  });

  const runnable = blocks(/^sh\s+runnable$/);

  test("there is a quick start to run", () => {
    expect(runnable.length).toBeGreaterThanOrEqual(1);
    expect(runnable[0]).toContain("permission check");
  });

  test.each(runnable.map((block, i) => [i, block] as const))(
    "block %i runs as written and prints what it says",
    async (_i, block) => {
      const list = steps(block);
      // One shell for the block (so what a line exports, the next sees), each command framed.
      const script = list
        .map(
          (s, i) => `printf '\\n@@step ${i}\\n'\n${s.command}\nprintf '\\n@@code ${i} %s\\n' "$?"`,
        )
        .join("\n");
      const { stdout } = await promisify(execFile)("sh", ["-c", script], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: tmp.path,
          XDG_CONFIG_HOME: join(tmp.path, "config"),
          TRELLIS_ENDPOINT: address,
        },
        maxBuffer: 16 * 1024 * 1024,
      });
      for (const [i, step] of list.entries()) {
        const start = stdout.indexOf(`\n@@step ${i}\n`);
        const end = stdout.indexOf(`\n@@code ${i} `, start);
        const code = Number(/^(\d+)/.exec(stdout.slice(end + `\n@@code ${i} `.length))?.[1]);
        const printed = stdout.slice(start + `\n@@step ${i}\n`.length, end).trim();
        expect(code, `${step.command}\n${printed}`).toBe(0);
        if (step.expected !== undefined) expect(printed, step.command).toBe(step.expected);
      }
    },
  );
});

describe("the README's examples", () => {
  test("the relationships it shows fit the schema it shows", async () => {
    const schema = blocks(/^zed$/)[0]!;
    const tuples = blockAfter("readme-relationships")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const store = await openTestStore("sqlite");
    const engine = new Engine(store.store, { zookieSecret: "readme-test-zookie-secret-012345" });
    try {
      await store.store.createTenant("default");
      await engine.writeSchema("default", schema);
      await engine.writeRelationships(
        "default",
        tuples.map((t) => ({ op: "TOUCH" as const, relationship: parseRelationship(t) })),
      );
    } finally {
      await engine.close();
      await store.close();
    }
  });

  test("its command table lists exactly the commands of trellis --help", () => {
    const listed = new Set(
      [...blockAfterTable("cli-reference").matchAll(/^\| `trellis ([a-z -]+)` \|/gm)].map(
        (m) => m[1]!,
      ),
    );
    const commands = new Set<string>();
    const walk = (command: Command, prefix: string) => {
      for (const sub of command.commands) {
        if (sub.name() === "help") continue;
        const name = `${prefix}${sub.name()}`;
        if (sub.commands.length === 0) commands.add(name);
        walk(sub, `${name} `);
      }
    };
    walk(buildProgram(), "");
    expect([...listed].sort()).toEqual([...commands].sort());
  });
});

/** The text after an HTML comment marker up to the next blank line (a table). */
function blockAfterTable(name: string): string {
  const at = readme.indexOf(`<!-- ${name}:`);
  if (at < 0) throw new Error(`README has no <!-- ${name}: … --> table`);
  const end = readme.indexOf("\n\n", at);
  return readme.slice(at, end);
}
