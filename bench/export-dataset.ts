/**
 * Writes a benchmark dataset to files, so another system (SpiceDB, OpenFGA, an older Trellis)
 * can be loaded with exactly the data and queries the benchmarks use (the layout is in
 * bench/dataset-files.ts: schema.zed, relationships.jsonl or, with --format tuples,
 * relationships.txt, checks.jsonl, lists.json, dataset.json).
 *
 *   npx tsc -p bench/tsconfig.engine.json && \
 *     node bench/.build/bench/export-dataset.js --scale medium --seed 42 --out /tmp/trellis-docs
 * Flags: the dataset flags of bench/dataset-args.ts; --checks N (10000); --format jsonl|tuples;
 * --out DIR (required).
 */
import { parseArgs } from "node:util";
import { checkMix, listQueries } from "./check-mix.js";
import { DocsDataset } from "./dataset.js";
import { datasetChoice, datasetFlags, integerFlag } from "./dataset-args.js";
import { writeDatasetFiles } from "./dataset-files.js";

const { values } = parseArgs({
  options: {
    ...datasetFlags("medium"),
    checks: { type: "string", default: "10000" },
    format: { type: "string", default: "jsonl" },
    out: { type: "string" },
  },
});

const choice = datasetChoice(values);
if (values.format !== "jsonl" && values.format !== "tuples") {
  throw new TypeError("--format must be jsonl or tuples");
}
if (values.out === undefined) throw new TypeError("--out DIR is required");
const dataset = new DocsDataset(choice.sizes, choice.seed);
const mix = checkMix(dataset, integerFlag("checks", values.checks, 1), choice.seed);
const description = await writeDatasetFiles(
  values.out,
  dataset,
  choice.scale,
  mix,
  listQueries(dataset, choice.seed),
  values.format,
);
console.log(
  `seed ${choice.seed}, scale ${choice.scale}: ${dataset.tupleCount} relationships -> ${values.out}`,
);
console.log(`checks: ${mix.queries.length} (${mix.allowed} allowed, ${mix.denied} denied)`);
console.log(JSON.stringify(description.counts));
