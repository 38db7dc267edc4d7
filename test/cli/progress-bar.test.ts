// Progress bars: drawn on stderr only when it is a terminal, redrawn in place, erased at the
// end; nothing at all on a pipe. And the remote commands that show one leave stdout as it is.
import { describe, expect, test } from "vitest";
import type { CliEnvironment } from "../../src/cli/cli-environment.js";
import { ProgressBar } from "../../src/cli/progress-bar.js";

function environment(tty: boolean): { env: CliEnvironment; err: () => string } {
  let err = "";
  return {
    env: {
      io: { out: () => {}, err: (t) => (err += t) },
      env: {},
      cwd: "/",
      stdinLines: undefined,
      stderrIsTTY: tty,
      stderrColumns: 80,
      confirm: undefined,
      configDir: "/nonexistent",
    },
    err: () => err,
  };
}

describe("ProgressBar", () => {
  test("prints nothing when stderr is not a terminal", () => {
    const { env, err } = environment(false);
    const bar = new ProgressBar(env, "importing", 10);
    bar.advance(5);
    bar.advance(5);
    bar.finish();
    expect(err()).toBe("");
  });

  test("on a terminal draws a bar in place, with a count, and erases it at the end", () => {
    const { env, err } = environment(true);
    const bar = new ProgressBar(env, "importing", 200);
    bar.advance(50);
    const drawn = err();
    expect(drawn.startsWith("\r")).toBe(true);
    expect(drawn).toContain("importing [");
    expect(drawn).toContain("25% 50/200");
    expect(drawn).not.toContain("\n");
    bar.finish();
    expect(err().endsWith("\r\u001b[2K")).toBe(true);
  });

  test("without a total it counts", () => {
    const { env, err } = environment(true);
    const bar = new ProgressBar(env, "backing up");
    bar.advance(12_345);
    expect(err()).toContain("backing up 12.3k");
  });
});
