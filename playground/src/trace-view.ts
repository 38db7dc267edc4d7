/** Draws an explained check trace as a tree of nested lists. */
import type { ExplainedStep } from "./trace-explanation.js";

function span(className: string, text: string): HTMLSpanElement {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

function stepElement(step: ExplainedStep): HTMLLIElement {
  const li = document.createElement("li");
  li.className = `step ${step.result.toLowerCase()}${step.decisive ? " decisive" : ""}`;
  li.dataset.step = step.label;
  li.dataset.result = step.result;
  const line = document.createElement("div");
  line.className = "step-line";
  if (step.via !== undefined) line.append(span("via", step.via));
  line.append(span("label", step.label));
  line.append(span(`result ${step.result.toLowerCase()}`, step.result));
  line.append(span("kind", step.kind));
  if (step.expression !== undefined) line.append(span("expression", `= ${step.expression}`));
  if (step.through !== undefined) line.append(span("kind", `along ${step.through}`));
  if (step.cycle) line.append(span("note", "cycle: counted as DENIED on this visit"));
  li.append(line);
  if (step.granting.length > 0) {
    const granted = document.createElement("ul");
    granted.className = "granting";
    for (const g of step.granting) {
      const item = document.createElement("li");
      item.textContent = g;
      granted.append(item);
    }
    li.append(granted);
  }
  if (step.caveats.length > 0) {
    li.append(span("note", `caveat ${step.caveats.join(", ")} decided this relation`));
  }
  if (step.children.length > 0) {
    const ul = document.createElement("ul");
    for (const child of step.children) ul.append(stepElement(child));
    li.append(ul);
  }
  return li;
}

export function drawTrace(host: HTMLElement, root: ExplainedStep | undefined): void {
  host.replaceChildren();
  if (root === undefined) return;
  const ul = document.createElement("ul");
  ul.className = "trace";
  ul.append(stepElement(root));
  host.append(ul);
}
