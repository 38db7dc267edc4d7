// Every preset: `trellis init --preset` writes its schema and validation file, which
// `trellis validate` passes with at least 30 assertions (docs aside: the small example), and
// `trellis serve --preset` loads it into a new tenant. (test/validation.test.ts runs each
// preset's validation file against both stores.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, test } from "vitest";
import { PRESETS, runServe } from "../../src/cli/serve-command.js";
import { temporaryDirectory, trellis } from "../support/cli-harness.js";

const root = join(import.meta.dirname, "..", "..");
const tmp = temporaryDirectory("trellis-cli-presets-");
afterAll(() => tmp.remove());

function assertionCount(yaml: string): number {
  const end = yaml.indexOf("\nvalidation:");
  const block = yaml.slice(yaml.indexOf("\nassertions:"), end < 0 ? undefined : end);
  return block.split("\n").filter((l) => /^\s+- /.test(l)).length;
}

describe.each(PRESETS)("the %s preset", (preset) => {
  test("init writes it, validate passes it", async () => {
    const dir = join(tmp.path, preset);
    const init = await trellis(["init", "--preset", preset, "--dir", dir]);
    expect(init.code, init.stderr).toBe(0);
    for (const ext of ["zed", "yaml"]) {
      expect(readFileSync(join(dir, `${preset}.${ext}`), "utf8")).toBe(
        readFileSync(join(root, "schema", `${preset}.${ext}`), "utf8"),
      );
    }
    const validated = await trellis(["validate", join(dir, `${preset}.yaml`)]);
    expect(validated.code, validated.stderr).toBe(0);
    const formatted = await trellis(["schema", "format", "--check", join(dir, `${preset}.zed`)]);
    expect(formatted.code, formatted.stderr).toBe(0);
    if (preset !== "docs") {
      expect(
        assertionCount(readFileSync(join(dir, `${preset}.yaml`), "utf8")),
      ).toBeGreaterThanOrEqual(30);
    }
  });

  test("serve --preset loads it into a new tenant", async () => {
    let out = "";
    let ready!: () => void;
    const banner = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const stop = new AbortController();
    const done = runServe(
      {
        insecureDev: true,
        preset,
        listen: "127.0.0.1:0",
        datastore: `sqlite:${join(tmp.path, `serve-${preset}`, "trellis.db")}`,
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
    try {
      const ended = await Promise.race([banner.then(() => false), done.then(() => true)]);
      expect(ended).toBe(false);
      const address = /serving on (\S+)/.exec(out)?.[1];
      const read = await trellis(["--endpoint", address!, "schema", "read"]);
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout.trim()).toBe(
        readFileSync(join(root, "schema", `${preset}.zed`), "utf8").trim(),
      );
    } finally {
      stop.abort();
      expect(await done).toBe(0);
    }
  });
});
