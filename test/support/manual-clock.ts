import type { Clock } from "../../src/core/clock.js";

/** A clock that moves only when told to; for tests. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: number | Date = Date.UTC(2030, 0, 1)) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }
  now(): number {
    return this.#now;
  }
  set(to: number | Date): void {
    this.#now = typeof to === "number" ? to : to.getTime();
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
