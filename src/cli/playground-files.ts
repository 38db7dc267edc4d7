/**
 * Where the built playground is (`make build` writes it with esbuild): `dist/playground/`
 * beside the compiled CLI in the package, or the checkout's `dist/playground/` when the CLI
 * runs from its sources (tests).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder holding the playground's `index.html`; undefined when it was not built. */
export function playgroundDirectory(): string | undefined {
  for (const candidate of ["../playground/", "../../dist/playground/"]) {
    const directory = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(directory, "index.html"))) return directory;
  }
  return undefined;
}
