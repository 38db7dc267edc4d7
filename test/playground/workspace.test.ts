// The playground's workspace as a validation file: what it exports is what `trellis validate`
// reads (line for line where the page places errors), and importing an export gives the same
// workspace back.
import { describe, expect, test } from "vitest";
import {
  EMPTY_CHECK,
  fromFragment,
  fromValidationYaml,
  toFragment,
  toValidationYaml,
  type Workspace,
} from "../../playground/src/workspace.js";
import { parseValidationText } from "../../src/engine/validation-document.js";

const workspace: Workspace = {
  schema:
    "  // indented first line\ndefinition user {}\n\ndefinition doc {\n\trelation viewer: user\n}\n",
  relationships:
    "doc:a#viewer@user:ann\n// a comment\n\ndoc:b#viewer@user:bob[expiration:2300-01-01T00:00:00Z]",
  assertions:
    "# who may view\nassertTrue:\n  - doc:a#viewer@user:ann\nassertFalse:\n  - doc:a#viewer@user:bob",
  validation: 'doc:a#viewer:\n  - "[user:ann] is <doc:a#viewer>"',
  check: EMPTY_CHECK,
};

describe("the playground's validation file", () => {
  test("is read by the validation-file reader, each block where the page says it starts", () => {
    const { text, lines } = toValidationYaml(workspace);
    const file = parseValidationText(text);
    expect(file.schema).toBe(workspace.schema.replace(/\s+$/, ""));
    expect(file.relationships.map((r) => r.line - lines.relationships + 1)).toEqual([1, 4]);
    expect(file.assertions.map((a) => [a.kind, a.line - lines.assertions + 1])).toEqual([
      ["assertTrue", 3],
      ["assertFalse", 5],
    ]);
    expect(file.validation.map((v) => v.line - lines.validation + 1)).toEqual([1]);
  });

  test("imports back into the same workspace, comments kept", () => {
    const back = fromValidationYaml(toValidationYaml(workspace).text);
    expect(back.schema).toBe(workspace.schema.replace(/\s+$/, ""));
    expect(back.relationships).toBe(workspace.relationships);
    expect(back.assertions).toBe(workspace.assertions);
    expect(back.validation).toBe(workspace.validation);
  });

  test("leaves out empty blocks, and refuses a schemaFile it cannot read", () => {
    const { text } = toValidationYaml({ ...workspace, assertions: "", validation: " \n" });
    expect(text).not.toContain("assertions:");
    expect(text).not.toContain("validation:");
    expect(() => fromValidationYaml("schemaFile: x.zed\n")).toThrow(/schemaFile/);
    const preset = fromValidationYaml(
      "schemaFile: x.zed\nrelationships: |-\n  doc:a#viewer@user:ann\nvalidation: {}\n",
      EMPTY_CHECK,
      new Map([["x.zed", "definition user {}"]]),
    );
    expect(preset.schema).toBe("definition user {}");
    expect(preset.validation).toBe("{}");
  });
});

describe("the share link's fragment", () => {
  test("carries the whole workspace, and only as #w=", async () => {
    const ws = { ...workspace, check: { ...EMPTY_CHECK, subject: "user:ann" } };
    const fragment = await toFragment(ws);
    expect(fragment).toMatch(/^#w=[A-Za-z0-9_-]+$/);
    expect(await fromFragment(fragment)).toEqual(ws);
    expect(await fromFragment("#section-2")).toBeUndefined();
  });
});
