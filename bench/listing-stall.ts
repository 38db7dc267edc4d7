/**
 * What one large listing costs everyone else: the longest the event loop is held while a
 * ListObjects of 100,000 results and a ListSubjects of 100,000 subjects run, measured with
 * a 1 ms timer, against the listing answered in one piece (the engine's single-page
 * call). The delay is what any other request waiting on that process would add to its latency.
 *
 *   npm run bench:listings -- [--objects 100000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Relationship } from "../src/core/relationship.js";
import { Engine } from "../src/engine/engine.js";
import { Operations } from "../src/operations/operations.js";
import { openDatastore } from "../src/store/open.js";
import { IMPORT_BATCH } from "./dataset.js";
import { integerFlag } from "./dataset-args.js";

const SCHEMA = `definition user {}
definition group { relation member: user }
definition doc {
  relation viewer: user | group#member
  permission view = viewer
}`;

/**
 * Runs `run` while a 1 ms timer notes how late each of its ticks comes: the longest gap is the
 * longest the event loop was held (a loop held for the whole run shows it whole, unlike a
 * delay histogram, which then records nothing).
 */
async function measured<T>(
  run: () => Promise<T>,
): Promise<{ ms: number; maxDelayMs: number; p99DelayMs: number; result: T }> {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  const started = performance.now();
  const result = await run();
  const ended = performance.now();
  clearInterval(timer);
  gaps.push(ended - last);
  gaps.sort((a, b) => a - b);
  return {
    ms: ended - started,
    maxDelayMs: gaps.at(-1)!,
    p99DelayMs: gaps[Math.floor(gaps.length * 0.99)]!,
    result,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { objects: { type: "string", default: "100000" } } });
  const n = integerFlag("objects", values.objects, 1);
  const dir = mkdtempSync(join(tmpdir(), "trellis-listing-"));
  const store = await openDatastore(`sqlite:${join(dir, "bench.db")}`);
  const engine = new Engine(store, {
    zookieSecret: "listing-stall-benchmark-secret-01234",
    gc: false,
  });
  try {
    await store.createTenant("t");
    await engine.writeSchema("t", SCHEMA);
    function* tuples(): Generator<Relationship> {
      for (let i = 0; i < n; i++) {
        const id = `d${String(i).padStart(7, "0")}`;
        yield {
          resource: { type: "doc", id },
          relation: "viewer",
          subject: { type: "user", id: "alice" },
        };
      }
      yield {
        resource: { type: "doc", id: "shared" },
        relation: "viewer",
        subject: { type: "group", id: "all", relation: "member" },
      };
      for (let i = 0; i < n; i++) {
        yield {
          resource: { type: "group", id: "all" },
          relation: "member",
          subject: { type: "user", id: `u${i}` },
        };
      }
    }
    await store.bulkImport("t", tuples(), { batchSize: IMPORT_BATCH });
    await engine.mirror("t");
    const ops = new Operations(engine);
    const subject = { type: "user", id: "alice" };
    const query = {
      resourceType: "doc",
      permission: "view",
      subject,
      consistency: "fully_consistent" as const,
    };

    const whole = await measured(() => engine.listObjects("t", query));
    const paged = await measured(async () => {
      let count = 0;
      for await (const page of ops.listObjects("t", query)) count += page.items.length;
      return count;
    });
    const subjects = await measured(() =>
      ops.listSubjects("t", {
        resource: { type: "doc", id: "shared" },
        permission: "view",
        subjectType: "user",
        consistency: "fully_consistent",
      }),
    );
    const line = (
      name: string,
      r: { ms: number; maxDelayMs: number; p99DelayMs: number },
      count: number,
    ) =>
      console.log(
        `${name.padEnd(44)} ${String(count).padStart(7)} results in ${r.ms.toFixed(0).padStart(5)} ms; event loop held at most ${r.maxDelayMs.toFixed(1)} ms (p99 ${r.p99DelayMs.toFixed(1)} ms)`,
      );
    line("ListObjects in one piece (engine, one page)", whole, whole.result.objects.length);
    line("ListObjects as pages (operation layer)", paged, paged.result);
    line("ListSubjects (operation layer)", subjects, subjects.result.items.length);
  } finally {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
