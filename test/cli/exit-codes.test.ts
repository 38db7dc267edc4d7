// The exit codes `trellis --help` documents, for what commander itself decides (help, version,
// unknown commands and flags, missing arguments) and for failures mapped from error codes.
import { describe, expect, test } from "vitest";
import { describeFailure, EXIT } from "../../src/cli/exit-codes.js";
import { UsageError } from "../../src/cli/serve-command.js";
import { TrellisError } from "../../src/core/errors.js";
import { trellis } from "../support/cli-harness.js";

describe("trellis exit codes", () => {
  test("help and version are 0", async () => {
    for (const args of [
      ["--help"],
      ["--version"],
      ["relationship", "--help"],
      ["help", "permission"],
    ]) {
      const r = await trellis(args);
      expect(r.code, args.join(" ")).toBe(0);
    }
    const help = await trellis(["--help"]);
    expect(help.stdout).toContain("Exit codes:");
  });

  test("an unknown command, an unknown flag, a missing argument or no subcommand are 2", async () => {
    for (const args of [
      ["nope"],
      ["permission", "check", "--nope", "a:b", "view", "c:d"],
      ["permission", "check", "document:x"],
      ["relationship"],
      ["backup", "restore"],
      [],
    ]) {
      const r = await trellis(args);
      expect(r.code, `trellis ${args.join(" ")}: ${r.stderr}`).toBe(2);
    }
  });

  test("failures map to 2 (usage), 3 (refused), 4 (unreachable), 5 (credentials)", () => {
    expect(describeFailure(new UsageError("x")).code).toBe(EXIT.USAGE);
    expect(describeFailure(new TrellisError("FAILED_PRECONDITION", "x")).code).toBe(EXIT.FAILED);
    expect(describeFailure(new TrellisError("NOT_FOUND", "x")).code).toBe(EXIT.FAILED);
    expect(describeFailure(new TrellisError("UNAVAILABLE", "x")).code).toBe(EXIT.UNAVAILABLE);
    expect(describeFailure(new TrellisError("DEADLINE_EXCEEDED", "x")).code).toBe(EXIT.UNAVAILABLE);
    expect(describeFailure(new TrellisError("UNAUTHENTICATED", "x")).code).toBe(EXIT.REFUSED);
    expect(describeFailure(new TrellisError("PERMISSION_DENIED", "x")).code).toBe(EXIT.REFUSED);
    const enoent = Object.assign(new Error("no such file"), { code: "ENOENT" });
    expect(describeFailure(enoent)).toMatchObject({ code: EXIT.FAILED, bug: false });
    expect(describeFailure(new Error("a bug"))).toMatchObject({ code: EXIT.FAILED, bug: true });
  });
});
