// Builds the playground into dist/playground/ (make build): index.html, playground.css and one
// JavaScript bundle with Trellis's engine, CodeMirror, dagre and the presets of schema/, so the
// page needs nothing from the network. Prints what the page weighs.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "playground");
const presetsDir = join(root, "schema");

/** `import { PRESETS } from "virtual:trellis-presets"`: every schema/*.zed with its .yaml. */
const presets = {
  name: "trellis-presets",
  setup(b) {
    b.onResolve({ filter: /^virtual:trellis-presets$/ }, () => ({
      path: "presets",
      namespace: "trellis-presets",
    }));
    b.onLoad({ filter: /.*/, namespace: "trellis-presets" }, () => {
      const files = readdirSync(presetsDir)
        .filter((f) => f.endsWith(".zed"))
        .sort();
      const list = files.map((file) => {
        const name = basename(file, ".zed");
        const schema = readFileSync(join(presetsDir, file), "utf8");
        let validation = "";
        try {
          validation = readFileSync(join(presetsDir, `${name}.yaml`), "utf8");
        } catch {
          // a preset without a validation file
        }
        const doc = /^\s*\/\*\*\s*([^\n]*?)\s*(?:\*\/|\n)/.exec(schema);
        const title = (doc?.[1] ?? "").replace(/\*\/$/, "").trim();
        return { name, title, schemaFile: file, schema, validation };
      });
      return {
        contents: `export const PRESETS = ${JSON.stringify(list)};`,
        loader: "js",
        watchFiles: files.flatMap((f) => [
          join(presetsDir, f),
          join(presetsDir, `${basename(f, ".zed")}.yaml`),
        ]),
      };
    });
  },
};

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "playground", "src", "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox113", "safari16.4"],
  legalComments: "linked",
  plugins: [presets],
  logLevel: "warning",
});
for (const file of ["index.html", "playground.css"]) {
  copyFileSync(join(root, "playground", file), join(out, file));
}

const sizes = ["app.js", "playground.css", "index.html"].map((f) => {
  const bytes = readFileSync(join(out, f));
  return `${f} ${(statSync(join(out, f)).size / 1024).toFixed(0)} KiB (${(gzipSync(bytes).length / 1024).toFixed(0)} KiB gzipped)`;
});
console.log(`playground: dist/playground/ — ${sizes.join(", ")}`);
