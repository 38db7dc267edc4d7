/**
 * Why a check answered as it did: the engine's trace (each sub-problem and its answer) with
 * what the schema and the relationships say about each step — the operator that reached it
 * (`+`, `&`, `-`, an arrow), the relationships that granted a relation (with their caveat and
 * expiration), and which steps decided the answer. Pure: the page draws the result.
 */
import {
  type CompiledSchema,
  formatRelationship,
  type Relationship,
  type Rewrite,
  type SubjectRef,
  type TraceNode,
} from "../../src/browser.js";

export interface ExplainedStep {
  /** `document:readme#view`. */
  readonly label: string;
  readonly resource: string;
  readonly relation: string;
  readonly kind: "relation" | "permission";
  readonly result: TraceNode["result"];
  /** How the parent reached this step: `+ edit`, `- banned`, `& folder.all(view)`, … */
  readonly via?: string;
  /** For a permission: its expression, as the schema writes it. */
  readonly expression?: string;
  /** For a relation that granted: the relationships that did, in their string form. */
  readonly granting: readonly string[];
  /** Caveats on those relationships. */
  readonly caveats: readonly string[];
  /** For a step reached through an arrow: the relationship the arrow walked. */
  readonly through?: string;
  /** This step settled its parent's answer. */
  readonly decisive: boolean;
  readonly cycle: boolean;
  readonly children: readonly ExplainedStep[];
}

export interface Explanation {
  readonly root: ExplainedStep;
  /** The relationships on the deciding path (string form), for the graph to highlight. */
  readonly path: ReadonlySet<string>;
}

/** The schema's text of a rewrite, operators with SpiceDB's precedence. */
export function rewriteText(r: Rewrite): string {
  const inner = (c: Rewrite) =>
    c.kind === "union" || c.kind === "intersection" || c.kind === "exclusion"
      ? `(${rewriteText(c)})`
      : rewriteText(c);
  switch (r.kind) {
    case "union":
      return r.children.map(inner).join(" + ");
    case "intersection":
      return r.children.map(inner).join(" & ");
    case "exclusion":
      return `${inner(r.base)} - ${inner(r.subtract)}`;
    case "computed":
      return r.member;
    case "arrow":
      return r.mode === "all" ? `${r.tupleset}.all(${r.computed})` : `${r.tupleset}->${r.computed}`;
    case "nil":
      return "nil";
    case "self":
      return "self";
  }
}

type Role = "union" | "intersection" | "subtracted" | "base";

/** Where `child` sits in `rewrite`: the term that reaches it and the operator around it. */
function findTerm(
  rewrite: Rewrite,
  child: { sameObject: boolean; relation: string },
  role: Role = "union",
): { term: string; role: Role; tupleset?: string } | undefined {
  switch (rewrite.kind) {
    case "computed":
      return child.sameObject && rewrite.member === child.relation
        ? { term: rewrite.member, role }
        : undefined;
    case "arrow":
      return !child.sameObject && rewrite.computed === child.relation
        ? { term: rewriteText(rewrite), role, tupleset: rewrite.tupleset }
        : undefined;
    case "union":
    case "intersection":
      for (const c of rewrite.children) {
        const found = findTerm(c, child, rewrite.kind === "intersection" ? "intersection" : role);
        if (found !== undefined) return found;
      }
      return undefined;
    case "exclusion":
      return (
        findTerm(rewrite.base, child, role === "union" ? "base" : role) ??
        findTerm(rewrite.subtract, child, "subtracted")
      );
    default:
      return undefined;
  }
}

const SIGN: Record<Role, string> = { union: "+", base: "+", intersection: "&", subtracted: "-" };

function typeOf(object: string): string {
  return object.slice(0, object.indexOf(":"));
}

function subjectMatches(rel: Relationship, subject: SubjectRef): boolean {
  const s = rel.subject;
  if (s.type !== subject.type) return false;
  if (s.id === "*") return subject.relation === undefined;
  return s.id === subject.id && (s.relation ?? "") === (subject.relation ?? "");
}

export function explainTrace(
  trace: TraceNode,
  schema: CompiledSchema,
  relationships: readonly Relationship[],
  subject: SubjectRef,
): Explanation {
  const path = new Set<string>();

  /** The relationship `resource#relation@subject` (a plain object subject) in its string form. */
  const walked = (resource: string, relation: string, subject: string): string | undefined => {
    const found = relationships.find(
      (r) =>
        `${r.resource.type}:${r.resource.id}` === resource &&
        r.relation === relation &&
        r.subject.relation === undefined &&
        `${r.subject.type}:${r.subject.id}` === subject,
    );
    return found === undefined ? undefined : formatRelationship(found);
  };

  const explain = (node: TraceNode, via: string | undefined, through?: string): ExplainedStep => {
    const type = typeOf(node.resource);
    const member = schema.definitions.get(type)?.members.get(node.relation);
    const children = node.children.map((child) => {
      if (node.kind === "relation") {
        return explain(
          child,
          `via ${node.resource}#${node.relation}@${child.resource}#${child.relation}`,
        );
      }
      const found =
        member?.kind === "permission"
          ? findTerm(member.rewrite, {
              sameObject: child.resource === node.resource,
              relation: child.relation,
            })
          : undefined;
      return explain(
        child,
        found === undefined ? undefined : `${SIGN[found.role]} ${found.term}`,
        found?.tupleset === undefined
          ? undefined
          : walked(node.resource, found.tupleset, child.resource),
      );
    });
    const granting: string[] = [];
    const caveats = new Set<string>();
    if (node.kind === "relation" && node.result !== "DENIED") {
      const usersets = new Set(
        node.children
          .filter((c) => c.result !== "DENIED")
          .map((c) => `${c.resource}#${c.relation}`),
      );
      for (const rel of relationships) {
        if (`${rel.resource.type}:${rel.resource.id}` !== node.resource) continue;
        if (rel.relation !== node.relation) continue;
        const userset =
          rel.subject.relation !== undefined
            ? `${rel.subject.type}:${rel.subject.id}#${rel.subject.relation}`
            : undefined;
        if (subjectMatches(rel, subject) || (userset !== undefined && usersets.has(userset))) {
          granting.push(formatRelationship(rel));
          if (rel.caveat !== undefined) caveats.add(rel.caveat.name);
        }
      }
    }
    return {
      label: `${node.resource}#${node.relation}`,
      resource: node.resource,
      relation: node.relation,
      kind: node.kind,
      result: node.result,
      ...(via !== undefined ? { via } : {}),
      ...(member?.kind === "permission" ? { expression: rewriteText(member.rewrite) } : {}),
      granting,
      caveats: [...caveats],
      ...(through !== undefined ? { through } : {}),
      decisive: false,
      cycle: node.cycle === true,
      children,
    };
  };

  /** Marks the steps that settled each answer, from the root down, and collects their path. */
  const decide = (step: ExplainedStep, decisive: boolean): ExplainedStep => {
    if (decisive) {
      for (const g of step.granting) path.add(g);
      if (step.through !== undefined) path.add(step.through);
    }
    const signOf = (c: ExplainedStep) => c.via?.charAt(0);
    const children = step.children.map((c) => {
      let settles: boolean;
      if (!decisive) settles = false;
      else if (step.kind === "relation")
        settles = c.result !== "DENIED" && step.result !== "DENIED";
      else if (step.result === "DENIED") {
        // Denied by an exclusion that applied or a required term that failed; else nothing did.
        settles =
          (signOf(c) === "-" && c.result !== "DENIED") ||
          (signOf(c) === "&" && c.result === "DENIED");
      } else {
        settles = signOf(c) === "-" ? c.result !== "ALLOWED" : c.result !== "DENIED";
      }
      return decide(c, settles);
    });
    return { ...step, decisive, children };
  };

  const root = decide(explain(trace, undefined), true);
  return { root, path };
}
