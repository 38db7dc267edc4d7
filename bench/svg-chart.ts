/**
 * The harness's chart as plain SVG text (no dependency): on the left, Check latency
 * percentiles per system, cold and warm, on a log scale; on the right, gRPC Check throughput
 * against concurrency for Trellis and the empty-handler floor.
 */

export interface LatencyBars {
  readonly system: string;
  /** Microseconds, keyed like `cold p50`. */
  readonly values: Readonly<Record<string, number>>;
}

export interface ThroughputLine {
  readonly label: string;
  /** Calls per second by concurrency. */
  readonly points: readonly { readonly concurrency: number; readonly perSecond: number }[];
  readonly dashed?: boolean;
}

export interface ChartInput {
  readonly title: string;
  readonly latencyCategories: readonly string[];
  readonly latency: readonly LatencyBars[];
  /** Empty when the gRPC section did not run. */
  readonly throughput: readonly ThroughputLine[];
}

const WIDTH = 1000;
const HEIGHT = 440;
const PANEL = { top: 60, bottom: 80, height: HEIGHT - 60 - 80 };
const LEFT = { x: 70, width: 470 };
const RIGHT = { x: 630, width: 330 };
const COLORS = ["#2f6fb3", "#d9822b", "#3a9a5b", "#8e5ab5", "#b3403a", "#6b6b6b"];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function text(x: number, y: number, s: string, attrs = ""): string {
  const size = attrs.includes("font-size") ? "" : ' font-size="12"';
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT}${size} ${attrs}>${esc(s)}</text>`;
}

/** `12 µs`, `3.4 ms`, `1.2 s` */
export function formatMicros(us: number): string {
  if (us >= 1e6) return `${+(us / 1e6).toPrecision(3)} s`;
  if (us >= 1e3) return `${+(us / 1e3).toPrecision(3)} ms`;
  return `${+us.toPrecision(3)} µs`;
}

function formatRate(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)}k`;
  return `${Math.round(n)}`;
}

function latencyPanel(input: ChartInput): string[] {
  const out: string[] = [];
  const { latencyCategories: cats, latency } = input;
  const values = latency.flatMap((l) => cats.map((c) => l.values[c] ?? 0)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.max(0.1, Math.min(...values, 1))));
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)));
  const y = (v: number) =>
    PANEL.top + PANEL.height - ((Math.log10(v) - lo) / (hi - lo)) * PANEL.height;
  out.push(
    text(LEFT.x, PANEL.top - 24, "Check latency, in-process (log scale)", 'font-weight="600"'),
  );
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e);
    out.push(
      `<line x1="${LEFT.x}" x2="${LEFT.x + LEFT.width}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`,
    );
    out.push(text(LEFT.x - 8, yy + 4, formatMicros(10 ** e), 'text-anchor="end" fill="#555"'));
  }
  const groupWidth = LEFT.width / Math.max(1, cats.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, latency.length);
  cats.forEach((c, i) => {
    const gx = LEFT.x + i * groupWidth + groupWidth * 0.1;
    latency.forEach((l, j) => {
      const v = l.values[c];
      if (v === undefined || v <= 0) return;
      const top = y(v);
      const x = gx + j * barWidth;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" ` +
          `height="${(PANEL.top + PANEL.height - top).toFixed(1)}" fill="${COLORS[j % COLORS.length]}">` +
          `<title>${esc(`${l.system} ${c}: ${formatMicros(v)}`)}</title></rect>`,
      );
    });
    out.push(text(gx + groupWidth * 0.4, PANEL.top + PANEL.height + 16, c, 'text-anchor="middle"'));
  });
  out.push(
    `<line x1="${LEFT.x}" x2="${LEFT.x + LEFT.width}" y1="${PANEL.top + PANEL.height}" y2="${PANEL.top + PANEL.height}" stroke="#333"/>`,
  );
  latency.forEach((l, j) => {
    const x = LEFT.x + j * 160;
    const yy = HEIGHT - 30;
    out.push(
      `<rect x="${x}" y="${yy - 10}" width="12" height="12" fill="${COLORS[j % COLORS.length]}"/>`,
    );
    out.push(text(x + 18, yy, l.system));
  });
  return out;
}

function throughputPanel(input: ChartInput): string[] {
  const out: string[] = [];
  out.push(
    text(RIGHT.x, PANEL.top - 24, "gRPC Check throughput vs concurrency", 'font-weight="600"'),
  );
  const lines = input.throughput.filter((l) => l.points.length > 0);
  if (lines.length === 0) {
    out.push(text(RIGHT.x, PANEL.top + 40, "gRPC section not run", 'fill="#777"'));
    return out;
  }
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p.concurrency)))].sort(
    (a, b) => a - b,
  );
  const max = Math.max(...lines.flatMap((l) => l.points.map((p) => p.perSecond)), 1) * 1.1;
  const step = 10 ** Math.floor(Math.log10(max));
  const tick = max / step > 5 ? step : step / 2;
  const x = (c: number) =>
    RIGHT.x + (xs.length === 1 ? RIGHT.width / 2 : (xs.indexOf(c) / (xs.length - 1)) * RIGHT.width);
  const y = (v: number) => PANEL.top + PANEL.height - (v / max) * PANEL.height;
  for (let v = 0; v <= max; v += tick) {
    out.push(
      `<line x1="${RIGHT.x}" x2="${RIGHT.x + RIGHT.width}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
    );
    out.push(text(RIGHT.x - 8, y(v) + 4, formatRate(v), 'text-anchor="end" fill="#555"'));
  }
  for (const c of xs) {
    out.push(text(x(c), PANEL.top + PANEL.height + 16, String(c), 'text-anchor="middle"'));
  }
  out.push(
    text(
      RIGHT.x + RIGHT.width / 2,
      PANEL.top + PANEL.height + 34,
      "concurrent calls (calls/s on the axis)",
      'text-anchor="middle" fill="#555"',
    ),
  );
  lines.forEach((l, j) => {
    const color = COLORS[(j + 2) % COLORS.length];
    const pts = [...l.points].sort((a, b) => a.concurrency - b.concurrency);
    const d = pts
      .map(
        (p, i) =>
          `${i === 0 ? "M" : "L"}${x(p.concurrency).toFixed(1)},${y(p.perSecond).toFixed(1)}`,
      )
      .join(" ");
    out.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    for (const p of pts) {
      out.push(
        `<circle cx="${x(p.concurrency).toFixed(1)}" cy="${y(p.perSecond).toFixed(1)}" r="3.5" fill="${color}">` +
          `<title>${esc(`${l.label}, concurrency ${p.concurrency}: ${formatRate(p.perSecond)}/s`)}</title></circle>`,
      );
    }
    const lx = RIGHT.x + (j % 2) * 170;
    const ly = HEIGHT - 30 + Math.floor(j / 2) * 16 - 8;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    out.push(text(lx + 24, ly, l.label));
  });
  return out;
}

export function chartSvg(input: ChartInput): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(20, 24, input.title, 'font-size="15" font-weight="600"'),
    ...latencyPanel(input),
    ...throughputPanel(input),
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}
