/**
 * zed's consistency flags: `--consistency-full`, `--consistency-at-least TOKEN`,
 * `--consistency-at-exactly TOKEN`, `--consistency-min-latency`; at most one. Without any, the
 * command line reads fully consistent: a person or a script running one command after another
 * expects to see what the previous one wrote (zed's default is minimize latency; pass
 * `--consistency-min-latency` for it).
 */
import { type Command, Option } from "commander";
import type { Consistency } from "../core/revision.js";
import { UsageError } from "./serve-command.js";

export interface ConsistencyFlags {
  readonly consistencyFull?: boolean;
  readonly consistencyAtLeast?: string;
  readonly consistencyAtExactly?: string;
  readonly consistencyMinLatency?: boolean;
}

export function addConsistencyFlags(command: Command): Command {
  return command
    .addOption(new Option("--consistency-full", "evaluate at the newest data (the default)"))
    .addOption(
      new Option(
        "--consistency-at-least <zookie>",
        "evaluate at data at least as fresh as this zookie (a write's answer)",
      ),
    )
    .addOption(
      new Option("--consistency-at-exactly <zookie>", "evaluate at exactly this zookie's snapshot"),
    )
    .addOption(
      new Option(
        "--consistency-min-latency",
        "evaluate at a recent snapshot the server prefers (may be up to its --max-staleness old)",
      ),
    );
}

export function consistencyFromFlags(flags: ConsistencyFlags): Consistency {
  const chosen: Consistency[] = [];
  if (flags.consistencyFull === true) chosen.push("fully_consistent");
  if (flags.consistencyMinLatency === true) chosen.push("minimize_latency");
  if (flags.consistencyAtLeast !== undefined) {
    chosen.push({ atLeastAsFresh: flags.consistencyAtLeast });
  }
  if (flags.consistencyAtExactly !== undefined) {
    chosen.push({ atExactSnapshot: flags.consistencyAtExactly });
  }
  if (chosen.length > 1) throw new UsageError("give at most one --consistency-* flag");
  return chosen[0] ?? "fully_consistent";
}
