/**
 * Writes a benchmark dataset to files, so another system (SpiceDB, OpenFGA, an older Trellis)
 * can be loaded with exactly the data and queries the engine benchmark uses:
 *   <out>/schema.zed           the schema
 *   <out>/relationships.jsonl  one relationship per line (format: see bench/dataset.ts), or
 *   <out>/relationships.txt    with --format tuples, the tuple string form
 *   <out>/checks.jsonl         {"resource":"document:1","permission":"view","subject":"user:2",
 *                               "expected":"ALLOWED","kind":"direct-viewer"} per line
 *
 *   npx tsc -p bench/tsconfig.engine.json && \
 *     node bench/.build/bench/export-dataset.js --scale medium --seed 42 --out /tmp/trellis-docs
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkMix } from "./check-mix.js";
import { DocsDataset, isScaleName, SCALES, writeRelationships } from "./dataset.js";

const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "medium" },
    seed: { type: "string", default: "42" },
    checks: { type: "string", default: "10000" },
    format: { type: "string", default: "jsonl" },
    out: { type: "string" },
  },
});

if (!isScaleName(values.scale)) throw new TypeError(`--scale must be one of small, medium, large`);
if (values.format !== "jsonl" && values.format !== "tuples") {
  throw new TypeError("--format must be jsonl or tuples");
}
if (values.out === undefined) throw new TypeError("--out DIR is required");
const seed = Number(values.seed);
const dataset = new DocsDataset(SCALES[values.scale], seed);
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "schema.zed"), dataset.schema);
const file = join(
  values.out,
  values.format === "jsonl" ? "relationships.jsonl" : "relationships.txt",
);
const written = await writeRelationships(file, dataset.relationships(), values.format);
const mix = checkMix(dataset, Number(values.checks), seed);
writeFileSync(
  join(values.out, "checks.jsonl"),
  mix.queries
    .map((q) =>
      JSON.stringify({
        resource: `${q.resource.type}:${q.resource.id}`,
        permission: q.permission,
        subject: `${q.subject.type}:${q.subject.id}`,
        expected: q.expected,
        kind: q.kind,
      }),
    )
    .join("\n")
    .concat("\n"),
);
console.log(`seed ${seed}, scale ${values.scale}: ${written} relationships -> ${file}`);
console.log(`checks: ${mix.queries.length} (${mix.allowed} allowed, ${mix.denied} denied)`);
console.log(JSON.stringify(dataset.describe()));
