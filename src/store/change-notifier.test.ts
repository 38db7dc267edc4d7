import { afterEach, describe, expect, it, vi } from "vitest";
import { ChangeNotifier } from "./change-notifier.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("ChangeNotifier", () => {
  it("without a poll interval reads the head once and is woken only by notify", async () => {
    let head = 0;
    const readHead = vi.fn(async () => head);
    const notifier = new ChangeNotifier({ readHead, pollIntervalMs: undefined });
    const timers = vi.spyOn(globalThis, "setTimeout");
    const waiting = notifier.wait("t", 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(readHead).toHaveBeenCalledTimes(1);
    expect(timers).not.toHaveBeenCalled();
    head = 1;
    notifier.notify("t", 1);
    expect(await waiting).toBe(1);
  });

  it("polls the head at its interval when it has one", async () => {
    let head = 0;
    const notifier = new ChangeNotifier({ readHead: async () => head, pollIntervalMs: 1 });
    const waiting = notifier.wait("t", 0);
    head = 2;
    expect(await waiting).toBe(2);
  });

  it("unrefs its timers when asked, so that a pending wait lets Node exit", async () => {
    const notifier = new ChangeNotifier({
      readHead: async () => 0,
      pollIntervalMs: undefined,
      unrefTimers: true,
    });
    const timers = vi.spyOn(globalThis, "setTimeout");
    const controller = new AbortController();
    const waiting = notifier.wait("t", 0, { timeoutMs: 60_000, signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    const timer = timers.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    controller.abort();
    expect(await waiting).toBe(0);
  });

  it("keeps its timers referenced by default", async () => {
    const notifier = new ChangeNotifier({ readHead: async () => 0, pollIntervalMs: 60_000 });
    const timers = vi.spyOn(globalThis, "setTimeout");
    const controller = new AbortController();
    const waiting = notifier.wait("t", 0, { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    const timer = timers.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(true);
    controller.abort();
    expect(await waiting).toBe(0);
  });
});
