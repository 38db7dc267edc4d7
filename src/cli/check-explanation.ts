/**
 * `permission check --explain`: the check's trace as a tree that says why. The server's trace
 * names each sub-problem and its answer; this file adds what the schema and the data say about
 * each step — the arrow a step was reached through (`folder->view`), the subtracted side of an
 * exclusion, and for a relation that granted, the relationships that did it with their caveat
 * and expiration — read at the check's own snapshot. Timings are the whole call's, measured
 * here (the trace carries none per step).
 */
import { formatRelationship, parseObjectRef, type Relationship } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import { compileSchemaText } from "../schema/compiler.js";
import type { CompiledSchema, Rewrite } from "../schema/types.js";
import type { CheckTrace, Permissionship } from "../sdk/trellis-api.js";
import type { TrellisClient } from "../sdk/trellis-client.js";

/** A trace step with what was found about it. */
export interface ExplainedStep {
  readonly resource: string;
  readonly relation: string;
  readonly kind: "relation" | "permission";
  readonly result: Permissionship;
  /**
   * How the parent reached this step: `arrow folder->view`, `excluded` (the subtracted side of
   * an exclusion), or the relationship naming this userset (`folder:1#viewer@group:eng#member`).
   */
  readonly via?: string;
  readonly cached?: "memo" | "shared";
  readonly cycle?: boolean;
  /** For a relation that granted: the relationships that did, in tuple form. */
  readonly relationships?: readonly string[];
  /** The caveats on those relationships. */
  readonly caveats?: readonly string[];
  readonly children: readonly ExplainedStep[];
}

export interface Explanation {
  readonly tree: ExplainedStep;
  /** Milliseconds the check call took, as this process measured it. */
  readonly durationMs: number;
}

/** Whether `rewrite` reaches `member` (on the same object) or `->member` through an arrow. */
function mentions(rewrite: Rewrite, member: string, sameObject: boolean): string | undefined {
  switch (rewrite.kind) {
    case "computed":
      return sameObject && rewrite.member === member ? "computed" : undefined;
    case "arrow":
      return !sameObject && rewrite.computed === member
        ? `${rewrite.tupleset}${rewrite.mode === "all" ? `.all(${member})` : `->${member}`}`
        : undefined;
    case "union":
    case "intersection":
      for (const child of rewrite.children) {
        const found = mentions(child, member, sameObject);
        if (found !== undefined) return found;
      }
      return undefined;
    case "exclusion": {
      const base = mentions(rewrite.base, member, sameObject);
      if (base !== undefined) return base;
      const subtracted = mentions(rewrite.subtract, member, sameObject);
      if (subtracted === undefined) return undefined;
      return subtracted === "computed" ? "excluded" : `excluded ${subtracted}`;
    }
    default:
      return undefined;
  }
}

function viaOf(
  schema: CompiledSchema | undefined,
  parent: CheckTrace,
  child: CheckTrace,
): string | undefined {
  // A relation reaches a userset through the relationship that names it.
  if (parent.kind === "relation") {
    return `${parent.resource}#${parent.relation}@${child.resource}#${child.relation}`;
  }
  const type = parent.resource.slice(0, parent.resource.indexOf(":"));
  const member = schema?.definitions.get(type)?.members.get(parent.relation);
  if (member?.kind !== "permission") return undefined;
  const found = mentions(member.rewrite, child.relation, child.resource === parent.resource);
  if (found === undefined || found === "computed") return undefined;
  return found.startsWith("excluded") ? found : `arrow ${found}`;
}

/** The relationships of `step` that name the subject (or its wildcard) directly. */
async function directGrants(
  client: TrellisClient,
  step: CheckTrace,
  subject: { type: string; id: string; relation?: string },
  zookie: Zookie,
): Promise<Relationship[]> {
  const resource = parseObjectRef(step.resource);
  const found: Relationship[] = [];
  for (const subjectId of [subject.id, "*"]) {
    for await (const rel of client.readRelationships(
      {
        resourceType: resource.type,
        resourceId: resource.id,
        relation: step.relation,
        subjectType: subject.type,
        subjectId,
        subjectRelation: subjectId === "*" ? null : (subject.relation ?? null),
      },
      { consistency: { atExactSnapshot: zookie } },
    )) {
      found.push(rel);
    }
  }
  return found;
}

/**
 * Annotates `trace` (a check of `subject` answered at `zookie`) with the schema and data of
 * that snapshot. A step it cannot annotate (the schema changed since, a read refused) is
 * shown as the server gave it.
 */
export async function explainCheck(
  client: TrellisClient,
  trace: CheckTrace,
  subject: { type: string; id: string; relation?: string },
  zookie: Zookie,
  durationMs: number,
): Promise<Explanation> {
  let schema: CompiledSchema | undefined;
  try {
    const read = await client.readSchema({ consistency: { atExactSnapshot: zookie } });
    schema = compileSchemaText(read.schema);
  } catch {
    schema = undefined;
  }
  const explain = async (step: CheckTrace, via: string | undefined): Promise<ExplainedStep> => {
    const children = await Promise.all(
      step.children.map((child) => explain(child, viaOf(schema, step, child))),
    );
    let grants: Relationship[] = [];
    if (step.kind === "relation" && step.result !== "DENIED" && step.cached === undefined) {
      grants = await directGrants(client, step, subject, zookie).catch(() => []);
    }
    const caveats = [...new Set(grants.flatMap((g) => (g.caveat ? [g.caveat.name] : [])))];
    return {
      resource: step.resource,
      relation: step.relation,
      kind: step.kind,
      result: step.result,
      ...(via !== undefined ? { via } : {}),
      ...(step.cached !== undefined ? { cached: step.cached } : {}),
      ...(step.cycle === true ? { cycle: true } : {}),
      ...(grants.length > 0 ? { relationships: grants.map(formatRelationship) } : {}),
      ...(caveats.length > 0 ? { caveats } : {}),
      children,
    };
  };
  return { tree: await explain(trace, undefined), durationMs };
}

const MARK: Readonly<Record<Permissionship, string>> = {
  ALLOWED: "✓",
  DENIED: "✗",
  CONDITIONAL: "?",
};

function describeStep(step: ExplainedStep): string {
  const notes = [
    step.kind,
    ...(step.via === undefined
      ? []
      : step.via.startsWith("excluded")
        ? [`${step.via}: subtracted`]
        : [`via ${step.via}`]),
    ...(step.caveats !== undefined ? [`caveat ${step.caveats.join(", ")}`] : []),
    ...(step.cached === "memo" ? ["answered earlier in this check"] : []),
    ...(step.cached === "shared" ? ["from the result cache: its steps are not recorded"] : []),
    ...(step.cycle === true ? ["cycle"] : []),
  ];
  return `${MARK[step.result]} ${step.resource}#${step.relation} (${notes.join("; ")})`;
}

/** The tree as text: one step a line, `├──`/`└──` branches, the relationships that granted. */
export function renderExplanation(explanation: Explanation): string {
  const lines: string[] = [];
  const walk = (step: ExplainedStep, prefix: string, branch: string, isRoot: boolean) => {
    lines.push(
      `${prefix}${branch}${describeStep(step)}${isRoot ? ` ${explanation.durationMs.toFixed(1)} ms` : ""}`,
    );
    const childPrefix = isRoot ? "" : `${prefix}${branch === "└── " ? "    " : "│   "}`;
    const leaves = (step.relationships ?? []).map((r) => `relationship ${r}`);
    const count = step.children.length + leaves.length;
    let i = 0;
    for (const leaf of leaves) {
      i++;
      lines.push(`${childPrefix}${i === count ? "└── " : "├── "}${leaf}`);
    }
    for (const child of step.children) {
      i++;
      walk(child, childPrefix, i === count ? "└── " : "├── ", false);
    }
  };
  walk(explanation.tree, "", "", true);
  return `${lines.join("\n")}\n`;
}
