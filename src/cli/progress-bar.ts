/**
 * A progress bar on stderr for long transfers (import, backup, restore, migrate, bulk delete):
 * drawn only when stderr is a terminal, redrawn at most ten times a second, erased when done.
 * Not a terminal (a pipe, a file, CI): it prints nothing at all.
 */
import type { CliEnvironment } from "./cli-environment.js";

const REDRAW_MS = 100;

export class ProgressBar {
  readonly #environment: CliEnvironment;
  readonly #label: string;
  #total: number | undefined;
  #done = 0;
  #drawnAt = 0;
  readonly #startedAt = Date.now();
  #visible = false;

  /** `total` undefined: a counter without a bar. */
  constructor(environment: CliEnvironment, label: string, total?: number) {
    this.#environment = environment;
    this.#label = label;
    this.#total = total;
  }

  get enabled(): boolean {
    return this.#environment.stderrIsTTY;
  }

  set total(total: number | undefined) {
    this.#total = total;
  }

  /** Counts `n` more items done. */
  advance(n: number): void {
    this.#done += n;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.#drawnAt < REDRAW_MS) return;
    this.#drawnAt = now;
    this.#draw(now);
  }

  /** Erases the bar. */
  finish(): void {
    if (!this.enabled || !this.#visible) return;
    this.#environment.io.err("\r\x1b[2K");
    this.#visible = false;
  }

  #draw(now: number): void {
    const seconds = Math.max((now - this.#startedAt) / 1000, 0.001);
    const rate = `${formatCount(this.#done / seconds)}/s`;
    const total = this.#total;
    let line: string;
    if (total === undefined || total === 0) {
      line = `${this.#label} ${formatCount(this.#done)} ${rate}`;
    } else {
      const fraction = Math.min(this.#done / total, 1);
      const tail = ` ${Math.floor(fraction * 100)}% ${formatCount(this.#done)}/${formatCount(total)} ${rate}`;
      const width = Math.max(
        10,
        Math.min(40, this.#environment.stderrColumns - this.#label.length - tail.length - 4),
      );
      const filled = Math.round(fraction * width);
      line = `${this.#label} [${"#".repeat(filled)}${"-".repeat(width - filled)}]${tail}`;
    }
    this.#environment.io.err(`\r\x1b[2K${line}`);
    this.#visible = true;
  }
}

function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return String(Math.round(n));
}
