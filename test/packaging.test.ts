// What the published package holds: the license its package.json names, a `prepare` script
// so an install from git builds itself, and `npm pack` contents without source maps (they
// point to src/, which is not shipped) or build stamps, and no build output without a source.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string;
  license: string;
  scripts: Record<string, string>;
};

describe("the package", () => {
  test("ships the Apache-2.0 license its package.json names", () => {
    expect(pkg.license).toBe("Apache-2.0");
    const license = readFileSync(join(root, "LICENSE"), "utf8");
    expect(license).toContain("Apache License");
    expect(license).toContain("Version 2.0, January 2004");
  });

  test("builds itself when installed from git: prepare runs the build", () => {
    expect(pkg.scripts.prepare).toBe("node scripts/prepare.mjs");
    expect(readFileSync(join(root, "scripts", "prepare.mjs"), "utf8")).toContain(
      "tsconfig.build.json",
    );
  });

  test("npm pack holds the build, the presets and the license, and no maps or stamps", async () => {
    if (!existsSync(join(root, "dist", "cli", "main.js"))) {
      throw new Error("dist/ is missing: run `make build` (make test does) before this test");
    }
    const { stdout } = await promisify(execFile)(
      "npm",
      ["pack", "--dry-run", "--json", "--ignore-scripts"],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    );
    const [packed] = JSON.parse(stdout) as [{ name: string; files: { path: string }[] }];
    expect(packed.name).toBe(pkg.name);
    const files = packed.files.map((f) => f.path);
    for (const wanted of [
      "LICENSE",
      "README.md",
      "bin/trellis",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/sdk/index.js",
      "dist/cli/main.js",
      "schema/rbac.zed",
      "schema/multitenant-saas.yaml",
      "proto/trellis/v1/core.proto",
      "scripts/prepare.mjs",
      "dist/playground/index.html",
      "dist/playground/app.js",
      "dist/playground/playground.css",
    ]) {
      expect(files, wanted).toContain(wanted);
    }
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files.filter((f) => f.includes("build-stamp"))).toEqual([]);
    expect(files.filter((f) => /\.test\.|testkit|conformance/.test(f))).toEqual([]);
    // Every compiled module (tsc writes its .d.ts beside it; bundled assets have none) has its
    // source: nothing left over from a source that is gone.
    const orphans = files
      .filter((f) => f.startsWith("dist/") && f.endsWith(".js"))
      .filter((f) => files.includes(f.replace(/\.js$/, ".d.ts")))
      .filter(
        (f) => !existsSync(join(root, "src", f.slice("dist/".length).replace(/\.js$/, ".ts"))),
      );
    expect(orphans).toEqual([]);
  });
});
