/**
 * Puts engine benchmark runs at several scales side by side, with the growth of each figure
 * from one scale to the next, as markdown: how memory, start-up and latency grow with the data.
 *
 *   node bench/.build/bench/engine-scale-report.js OUT.md RUN.json [RUN.json …]
 *
 * Each RUN.json is a report of `npm run bench:engine` (bench/results/*-engine-*.json), listed
 * smallest first; runs on PostgreSQL or under a memory budget get a column of their own.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

interface Row {
  readonly name: string;
  readonly level: string;
  readonly perSecond: number;
  readonly latency?: { readonly p50: number; readonly p99: number };
}

interface Run {
  readonly scale: string;
  readonly startedAt: string;
  readonly machine: { readonly loadAverageAtStart: number };
  readonly load: {
    readonly tuples: number;
    readonly store?: string;
    readonly importTuplesPerSecond: number;
    readonly firstAnswerMs?: number;
    readonly mirrorLoadMs: number;
    readonly heapBytesPerTuple: number;
  };
  readonly memoryBudgetBytes?: number;
  readonly rows: readonly Row[];
  readonly memory: { readonly peakRss: number };
  readonly verification: Record<string, { readonly mismatches: number; readonly errors: number }>;
}

const MB = 1024 * 1024;

function row(run: Run, name: string, level: string): Row | undefined {
  return run.rows.find((r) => r.name === name && r.level === level);
}

type Figure = {
  readonly label: string;
  readonly value: (run: Run) => number | undefined;
  readonly format: (value: number) => string;
};

const FIGURES: readonly Figure[] = [
  { label: "relationships", value: (r) => r.load.tuples, format: (v) => v.toLocaleString("en") },
  {
    label: "import, relationships/s",
    value: (r) => r.load.importTuplesPerSecond,
    format: (v) => Math.round(v).toLocaleString("en"),
  },
  {
    label: "first answer after start, ms",
    value: (r) => r.load.firstAnswerMs,
    format: (v) => v.toFixed(0),
  },
  {
    label: "index loaded after start, ms",
    value: (r) => (r.memoryBudgetBytes === undefined ? r.load.mirrorLoadMs : undefined),
    format: (v) => v.toFixed(0),
  },
  {
    label: "heap per relationship, B",
    value: (r) => (r.memoryBudgetBytes === undefined ? r.load.heapBytesPerTuple : undefined),
    format: (v) => v.toFixed(0),
  },
  { label: "peak RSS, MB", value: (r) => r.memory.peakRss / MB, format: (v) => v.toFixed(0) },
  {
    label: "Check cold p50 / engine, µs",
    value: (r) => row(r, "Check cold", "engine")?.latency?.p50,
    format: (v) => v.toFixed(1),
  },
  {
    label: "Check cold p99 / engine, µs",
    value: (r) => row(r, "Check cold", "engine")?.latency?.p99,
    format: (v) => v.toFixed(0),
  },
  {
    label: "Check warm p50 / engine, µs",
    value: (r) => row(r, "Check warm", "engine")?.latency?.p50,
    format: (v) => v.toFixed(2),
  },
  {
    label: "Check warm p99 / engine, µs",
    value: (r) => row(r, "Check warm", "engine")?.latency?.p99,
    format: (v) => v.toFixed(1),
  },
  {
    label: "Check warm / evaluator, per s",
    value: (r) => row(r, "Check warm, throughput", "evaluator")?.perSecond,
    format: (v) => Math.round(v).toLocaleString("en"),
  },
];

function title(run: Run, file: string): string {
  const where = run.load.store === "postgres" ? ", PostgreSQL" : "";
  const budget =
    run.memoryBudgetBytes === undefined
      ? ""
      : `, budget ${(run.memoryBudgetBytes / MB).toFixed(0)} MB`;
  return `${run.scale}${where}${budget} (${basename(file)})`;
}

function main(): void {
  const [out, ...files] = process.argv.slice(2);
  if (out === undefined || files.length === 0) {
    throw new TypeError("usage: engine-scale-report OUT.md RUN.json [RUN.json …]");
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Run);
  const lines: string[] = [
    "# Trellis engine at scale",
    "",
    "Medians of `npm run bench:engine` runs; the growth column compares each run with the",
    "previous plain (SQLite, no budget) run at the next smaller scale.",
    "",
    `| figure | ${runs.map((r, i) => title(r, files[i]!)).join(" | ")} |`,
    `| --- |${runs.map(() => " ---: |").join("")}`,
  ];
  for (const f of FIGURES) {
    const cells = runs.map((run, i) => {
      const v = f.value(run);
      if (v === undefined) return "–";
      const base = runs
        .slice(0, i)
        .reverse()
        .find((r) => r.load.store !== "postgres" && r.memoryBudgetBytes === undefined);
      const plain = run.load.store !== "postgres" && run.memoryBudgetBytes === undefined;
      const b = base === undefined ? undefined : f.value(base);
      const growth =
        plain && b !== undefined && b > 0 && f.label !== "relationships"
          ? ` (×${(v / b).toFixed(2)})`
          : "";
      return `${f.format(v)}${growth}`;
    });
    lines.push(`| ${f.label} | ${cells.join(" | ")} |`);
  }
  lines.push(
    `| load average at start | ${runs.map((r) => r.machine.loadAverageAtStart.toFixed(1)).join(" | ")} |`,
  );
  const wrong = runs.map((r) =>
    Object.values(r.verification).reduce((n, v) => n + v.mismatches + v.errors, 0),
  );
  lines.push(`| wrong answers | ${wrong.join(" | ")} |`, "");
  writeFileSync(out, `${lines.join("\n")}\n`);
  console.log(`wrote ${out}`);
}

main();
