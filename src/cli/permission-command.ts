/**
 * `trellis permission check|bulk|expand|lookup-resources|lookup-subjects`, zed's verbs over
 * the SDK's PermissionService calls. A check prints zed's words — `true`, `false`,
 * `caveated` — and exits 0 whatever the answer, unless `--error-on-no-permission` (then 1
 * for anything but `true`), as zed does.
 */
import { type Command, Option } from "commander";
import { formatSubjectRef, parseObjectRef, parseSubjectRef } from "../core/relationship.js";
import { memberNameOf, subjectTypeOf, typeNameOf } from "../sdk/request-inputs.js";
import type { ExpandTree, PermissionAnswer, Permissionship } from "../sdk/trellis-api.js";
import { explainCheck, renderExplanation } from "./check-explanation.js";
import type { CliEnvironment } from "./cli-environment.js";
import { asUsage, jsonObjectArgument } from "./cli-inputs.js";
import {
  addConsistencyFlags,
  type ConsistencyFlags,
  consistencyFromFlags,
} from "./consistency-flags.js";
import { EXIT } from "./exit-codes.js";
import { remoteAction } from "./remote-client.js";
import { UsageError } from "./serve-command.js";

const REMOTE_HELP =
  "\nGlobal flags: --endpoint, --token, --insecure, --certificate-path, --json (see trellis --help).\n";

/** zed's words for an answer. */
const WORD: Readonly<Record<Permissionship, string>> = {
  ALLOWED: "true",
  DENIED: "false",
  CONDITIONAL: "caveated",
};

interface ContextFlags {
  readonly caveatContext?: string;
  readonly context?: string;
}

function addContextFlags(command: Command): Command {
  return command
    .addOption(
      new Option("--caveat-context <json>", "caveat context sent with the request, a JSON object"),
    )
    .addOption(new Option("--context <json>", "the same as --caveat-context"));
}

function contextFromFlags(flags: ContextFlags): Record<string, unknown> | undefined {
  if (flags.caveatContext !== undefined && flags.context !== undefined) {
    throw new UsageError("give --caveat-context or --context, not both");
  }
  const text = flags.caveatContext ?? flags.context;
  return text === undefined ? undefined : jsonObjectArgument(text, "--caveat-context");
}

/** `id` as zed's lookups print it, with how it is reached when not outright. */
function describeListed(name: string, answer: PermissionAnswer): string {
  if (answer.permissionship !== "CONDITIONAL") return name;
  return `${name} (caveated, missing context: ${(answer.missingContext ?? []).join(", ")})`;
}

function renderExpand(tree: ExpandTree): string {
  const lines: string[] = [];
  const name = (t: ExpandTree) => `${t.resource.type}:${t.resource.id}#${t.relation}`;
  const walk = (node: ExpandTree, prefix: string, branch: string, isRoot: boolean) => {
    const childPrefix = isRoot ? "" : `${prefix}${branch === "└── " ? "    " : "│   "}`;
    if (node.kind === "leaf") {
      lines.push(`${prefix}${branch}${name(node)}`);
      node.subjects.forEach((s, i) => {
        const extras = [
          ...(s.caveat !== undefined ? [`caveat ${s.caveat.name}`] : []),
          ...(s.expiration !== undefined ? [`expires ${s.expiration.toISOString()}`] : []),
        ];
        lines.push(
          `${childPrefix}${i === node.subjects.length - 1 ? "└── " : "├── "}${formatSubjectRef(s.subject)}${extras.length > 0 ? ` (${extras.join(", ")})` : ""}`,
        );
      });
      return;
    }
    lines.push(`${prefix}${branch}${name(node)} (${node.kind})`);
    node.children.forEach((child, i) => {
      walk(child, childPrefix, i === node.children.length - 1 ? "└── " : "├── ", false);
    });
  };
  walk(tree, "", "", true);
  return `${lines.join("\n")}\n`;
}

export function registerPermissionCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const permission = program
    .command("permission")
    .description("ask a server about permissions (zed's verbs)");

  addContextFlags(
    addConsistencyFlags(
      permission
        .command("check")
        .description("may the subject do this? prints true, false or caveated")
        .argument("<resource>", "resource:id")
        .argument("<permission>", "a permission or relation")
        .argument("<subject>", "subject:id or subject:id#relation")
        .option(
          "--explain",
          "print the check's trace: which relations, arrows and caveats decided it",
        )
        .option("--error-on-no-permission", "exit 1 unless the answer is true"),
    ),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          resourceText: string,
          permissionName: string,
          subjectText: string,
          flags: ConsistencyFlags &
            ContextFlags & { explain?: boolean; errorOnNoPermission?: boolean },
        ) => {
          const resource = asUsage(() => parseObjectRef(resourceText, "resource"));
          const subject = asUsage(() => parseSubjectRef(subjectText, "subject"));
          asUsage(() => memberNameOf(permissionName));
          const context = contextFromFlags(flags);
          const consistency = consistencyFromFlags(flags);
          const started = performance.now();
          const answer = await client.check(resource, permissionName, subject, {
            consistency,
            ...(context !== undefined ? { context } : {}),
            ...(flags.explain === true ? { trace: true } : {}),
          });
          const durationMs = performance.now() - started;
          const explanation =
            answer.trace === undefined
              ? undefined
              : await explainCheck(client, answer.trace, subject, answer.zookie, durationMs);
          if (json) {
            io.out(
              `${JSON.stringify({
                permissionship: answer.permissionship,
                ...(answer.missingContext !== undefined
                  ? { missingContext: answer.missingContext }
                  : {}),
                zookie: answer.zookie,
                ...(explanation !== undefined
                  ? { durationMs: explanation.durationMs, trace: explanation.tree }
                  : {}),
              })}\n`,
            );
          } else {
            io.out(`${WORD[answer.permissionship]}\n`);
            if (answer.permissionship === "CONDITIONAL") {
              io.err(`missing caveat context: ${(answer.missingContext ?? []).join(", ")}\n`);
            }
            if (explanation !== undefined) io.out(renderExplanation(explanation));
          }
          return flags.errorOnNoPermission === true && answer.permissionship !== "ALLOWED"
            ? EXIT.NEGATIVE
            : EXIT.OK;
        },
      ),
    );

  addConsistencyFlags(
    permission
      .command("bulk")
      .description("several checks at one snapshot: resource:id#permission@subject:id ...")
      .argument("<checks...>", "resource:id#permission@subject:id[#relation]"),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async ({ client, json }, checks: string[], flags: ConsistencyFlags) => {
          const consistency = consistencyFromFlags(flags);
          const answers = await client.checkBulk(checks, { consistency });
          answers.results.forEach((result, i) => {
            const check = checks[i]!;
            if ("error" in result) {
              io.out(
                json
                  ? `${JSON.stringify({ check, error: { code: result.error.code, message: result.error.message } })}\n`
                  : `${check} => error: ${result.error.code}: ${result.error.message}\n`,
              );
            } else {
              io.out(
                json
                  ? `${JSON.stringify({ check, ...result })}\n`
                  : `${check} => ${WORD[result.permissionship]}\n`,
              );
            }
          });
          return undefined;
        },
      ),
    );

  addConsistencyFlags(
    permission
      .command("expand")
      .description("print the userset tree of a permission")
      .argument("<permission>", "the permission or relation")
      .argument("<resource>", "resource:id"),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          permissionName: string,
          resourceText: string,
          flags: ConsistencyFlags,
        ) => {
          const resource = asUsage(() => parseObjectRef(resourceText, "resource"));
          asUsage(() => memberNameOf(permissionName));
          const result = await client.expand(resource, permissionName, {
            consistency: consistencyFromFlags(flags),
          });
          io.out(json ? `${JSON.stringify(result)}\n` : renderExpand(result.tree));
          return undefined;
        },
      ),
    );

  addContextFlags(
    addConsistencyFlags(
      permission
        .command("lookup-resources")
        .description("the resources of a type on which the subject has the permission (their ids)")
        .argument("<type>", "the resource type")
        .argument("<permission>", "the permission or relation")
        .argument("<subject>", "subject:id or subject:id#relation"),
    ),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          type: string,
          permissionName: string,
          subjectText: string,
          flags: ConsistencyFlags & ContextFlags,
        ) => {
          const subject = asUsage(() => parseSubjectRef(subjectText, "subject"));
          asUsage(() => typeNameOf(type, "type"));
          asUsage(() => memberNameOf(permissionName));
          const context = contextFromFlags(flags);
          for await (const listed of client.listObjectsDetailed(type, permissionName, subject, {
            consistency: consistencyFromFlags(flags),
            deadlineMs: Number.POSITIVE_INFINITY,
            ...(context !== undefined ? { context } : {}),
          })) {
            const id = listed.object.slice(listed.object.indexOf(":") + 1);
            io.out(json ? `${JSON.stringify(listed)}\n` : `${describeListed(id, listed)}\n`);
          }
          return undefined;
        },
      ),
    );

  addContextFlags(
    addConsistencyFlags(
      permission
        .command("lookup-subjects")
        .description("the subjects of a type that have the permission on the resource")
        .argument("<resource>", "resource:id")
        .argument("<permission>", "the permission or relation")
        .argument("<subject-type>", "subject_type, or subject_type#relation for usersets"),
    ),
  )
    .addHelpText("after", REMOTE_HELP)
    .action(
      remoteAction(
        environment,
        async (
          { client, json },
          resourceText: string,
          permissionName: string,
          subjectType: string,
          flags: ConsistencyFlags & ContextFlags,
        ) => {
          const resource = asUsage(() => parseObjectRef(resourceText, "resource"));
          asUsage(() => memberNameOf(permissionName));
          asUsage(() => subjectTypeOf(subjectType, "subject-type"));
          const context = contextFromFlags(flags);
          for await (const listed of client.listSubjectsDetailed(
            resource,
            permissionName,
            subjectType,
            {
              consistency: consistencyFromFlags(flags),
              deadlineMs: Number.POSITIVE_INFINITY,
              ...(context !== undefined ? { context } : {}),
            },
          )) {
            if (json) {
              io.out(`${JSON.stringify(listed)}\n`);
              continue;
            }
            const excluded =
              listed.excluded.length > 0 ? ` (except ${listed.excluded.join(", ")})` : "";
            io.out(`${describeListed(listed.subject, listed)}${excluded}\n`);
          }
          return undefined;
        },
      ),
    );
}
