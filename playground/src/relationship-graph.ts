/**
 * The relationship graph: objects as nodes, relationships as labelled edges from resource to
 * subject, laid out by dagre and drawn as SVG; the relationships on the path that decided the
 * last check, and the objects they join, are highlighted.
 */
import { Graph, layout } from "@dagrejs/dagre";
import { formatRelationship, type Relationship } from "../../src/browser.js";

const SVG = "http://www.w3.org/2000/svg";
/** Past this many relationships the graph is not drawn: a layout that size says little. */
export const MAX_DRAWN = 400;

interface NodeData {
  width: number;
  height: number;
  x?: number;
  y?: number;
  label: string;
}

interface EdgeData {
  label: string;
  key: string;
  points?: { x: number; y: number }[];
  x?: number;
  y?: number;
  width: number;
  height: number;
  labelpos: "c";
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Width of a label in the graph's 12px monospace font. */
function textWidth(text: string): number {
  return text.length * 7.2;
}

/**
 * Draws `relationships` into `host` (replacing what it held). `path`: the relationships (in
 * string form) to highlight; `marked`: objects (`type:id`) to highlight, such as the checked
 * resource and subject.
 */
export function drawGraph(
  host: HTMLElement,
  relationships: readonly Relationship[],
  path: ReadonlySet<string>,
  marked: ReadonlySet<string>,
): void {
  host.replaceChildren();
  if (relationships.length === 0) {
    host.append(
      Object.assign(document.createElement("p"), {
        className: "hint",
        textContent: "No relationships yet.",
      }),
    );
    return;
  }
  if (relationships.length > MAX_DRAWN) {
    host.append(
      Object.assign(document.createElement("p"), {
        className: "hint",
        textContent: `${relationships.length} relationships: the graph is drawn for at most ${MAX_DRAWN}.`,
      }),
    );
    return;
  }
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 70, edgesep: 10, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const onPath = new Set<string>();
  for (const rel of relationships) {
    const from = `${rel.resource.type}:${rel.resource.id}`;
    const to = `${rel.subject.type}:${rel.subject.id}`;
    for (const id of [from, to]) {
      if (!g.hasNode(id))
        g.setNode(id, { label: id, width: textWidth(id) + 20, height: 28 } satisfies NodeData);
    }
    const key = formatRelationship(rel);
    const label = `${rel.relation}${rel.subject.relation !== undefined ? ` → #${rel.subject.relation}` : ""}${rel.caveat !== undefined ? ` [${rel.caveat.name}]` : ""}${rel.expiration !== undefined ? " (expires)" : ""}`;
    g.setEdge(
      from,
      to,
      { label, key, width: textWidth(label), height: 14, labelpos: "c" } satisfies EdgeData,
      key,
    );
    if (path.has(key)) {
      onPath.add(from);
      onPath.add(to);
    }
  }
  layout(g);
  const graph = g.graph() as { width?: number; height?: number };
  const width = Math.ceil(graph.width ?? 100);
  const height = Math.ceil(graph.height ?? 100);
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": "relationship graph",
    class: "graph",
  });
  const defs = el("defs", {});
  for (const [id, cls] of [
    ["arrow", "edge-head"],
    ["arrow-path", "edge-head on-path"],
  ] as const) {
    const marker = el("marker", {
      id,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls }));
    defs.append(marker);
  }
  svg.append(defs);
  for (const e of g.edges()) {
    const data = g.edge(e) as EdgeData;
    const points = data.points ?? [];
    if (points.length === 0) continue;
    const highlighted = path.has(data.key);
    const group = el("g", {
      class: `edge${highlighted ? " on-path" : ""}`,
      "data-relationship": data.key,
    });
    const d = points
      .map((p, i) => `${i === 0 ? "M" : "L"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`)
      .join(" ");
    group.append(el("path", { d, "marker-end": `url(#${highlighted ? "arrow-path" : "arrow"})` }));
    group.append(el("title", {}, data.key));
    if (data.x !== undefined && data.y !== undefined) {
      group.append(el("text", { x: data.x, y: data.y + 4, "text-anchor": "middle" }, data.label));
    }
    svg.append(group);
  }
  for (const id of g.nodes()) {
    const n = g.node(id) as NodeData;
    if (n.x === undefined || n.y === undefined) continue;
    const classes = ["node"];
    if (onPath.has(id)) classes.push("on-path");
    if (marked.has(id)) classes.push("marked");
    const group = el("g", { class: classes.join(" "), "data-object": id });
    group.append(
      el("rect", {
        x: n.x - n.width / 2,
        y: n.y - n.height / 2,
        width: n.width,
        height: n.height,
        rx: 6,
      }),
    );
    group.append(el("text", { x: n.x, y: n.y + 4, "text-anchor": "middle" }, n.label));
    svg.append(group);
  }
  host.append(svg);
}
