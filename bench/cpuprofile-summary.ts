/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and prints the functions with the most
 * self time and the most total time, so a benchmark's profile can be read without DevTools.
 * Total time counts a sample once per function even when the function recurses (the
 * evaluator's traversal does), so it never exceeds 100%.
 *
 *   node bench/.build/bench/cpuprofile-summary.js FILE.cpuprofile [--top 25] [--filter src/]
 *     [--within throughput]
 * `--filter` keeps rows whose label contains the text; `--within` keeps only the samples taken
 * while a function whose label contains the text was on the stack (one phase of a run), and
 * the garbage collector's samples in between them.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: "string", default: "25" },
    filter: { type: "string" },
    within: { type: "string" },
  },
});
if (positionals.length !== 1) {
  throw new TypeError(
    "usage: cpuprofile-summary FILE.cpuprofile [--top N] [--filter TEXT] [--within TEXT]",
  );
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as CpuProfile;

/** A function's name and place, shortened to the path inside the repository. */
function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (frame.url === "") return name;
  const url = frame.url.replace(/^file:\/\//, "");
  const at = url.search(/\/(src|bench|node_modules)\//);
  return `${name}  ${at >= 0 ? url.slice(at + 1) : url}:${frame.lineNumber + 1}`;
}

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
/** Whether the last non-GC sample was inside `--within` (GC samples have no stack of their own). */
let inside = values.within === undefined;
for (let i = 0; i < profile.samples.length; i++) {
  // A sample's delta is the time since the previous sample; attribute it to this sample.
  const dt = profile.timeDeltas[i] ?? 0;
  const stack: string[] = [];
  for (let id: number | undefined = profile.samples[i]!; id !== undefined; id = parent.get(id)) {
    stack.push(label(byId.get(id)!.callFrame));
  }
  const leaf = stack[0]!;
  if (values.within !== undefined && leaf !== "(garbage collector)") {
    inside = stack.some((l) => l.includes(values.within!));
  }
  if (!inside) continue;
  all += dt;
  self.set(leaf, (self.get(leaf) ?? 0) + dt);
  for (const l of new Set(stack)) total.set(l, (total.get(l) ?? 0) + dt);
}

function print(title: string, map: Map<string, number>): void {
  console.log(`\n${title} (of ${(all / 1000).toFixed(0)} ms sampled)`);
  const rows = [...map]
    .filter(([l]) => values.filter === undefined || l.includes(values.filter))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [l, us] of rows) {
    const pct = ((100 * us) / all).toFixed(1).padStart(5);
    console.log(`${pct}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${l}`);
  }
}

print("self time", self);
print("total time", total);
