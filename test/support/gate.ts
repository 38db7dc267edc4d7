/**
 * A one-way latch for tests that wait for events instead of time: one side calls `open()`
 * (a handler has started, the test releases a held call), the other awaits `opened`.
 */
export class Gate {
  readonly opened: Promise<void>;
  #open!: () => void;
  #isOpen = false;

  constructor() {
    this.opened = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  get isOpen(): boolean {
    return this.#isOpen;
  }

  open(): void {
    this.#isOpen = true;
    this.#open();
  }
}
