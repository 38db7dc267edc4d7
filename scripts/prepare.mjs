// npm runs `prepare` when this package is installed from git (or from a source folder) and
// before `npm pack`: it builds dist/ afresh, so an install from git gets a `trellis` that runs
// and a packed tarball holds exactly the current build. `make install` sets
// TRELLIS_SKIP_PREPARE=1, because make builds on its own (make build).
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// A packed tarball ships dist/ and no src/: nothing to build (npm does not run prepare for
// one, but should any version do, it must not remove the build it cannot redo).
if (process.env.TRELLIS_SKIP_PREPARE !== "1" && existsSync(join(root, "src"))) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  // The playground's static files (dist/playground/), bundled with esbuild.
  execFileSync(process.execPath, [join(root, "playground", "build.mjs")], {
    cwd: root,
    stdio: "inherit",
  });
}
