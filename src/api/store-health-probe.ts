/**
 * Keeps `grpc.health.v1.Health` truthful: the store is probed periodically (a cheap
 * `listTenants` under a timeout) and every service reports NOT_SERVING while the store is
 * unreachable, so that a load balancer stops sending traffic to a replica that cannot answer.
 */
import type { HealthImplementation, ServingStatus } from "grpc-health-check";
import type { Logger } from "pino";
import type { Datastore } from "../store/datastore.js";
import type { ServerMetrics } from "./server-metrics.js";

export interface StoreHealthProbeOptions {
  readonly store: Datastore;
  readonly health: HealthImplementation;
  /** Service names to report for; `""` is the server as a whole. */
  readonly services: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

export class StoreHealthProbe {
  readonly #options: StoreHealthProbeOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #status: ServingStatus = "SERVING";

  constructor(options: StoreHealthProbeOptions) {
    this.#options = options;
  }

  get status(): ServingStatus {
    return this.#status;
  }

  start(): void {
    this.#timer = setInterval(() => void this.probe(), this.#options.intervalMs);
    // Probing alone must not keep the process alive.
    this.#timer.unref();
  }

  /** Stops probing and reports every service NOT_SERVING (the server is going away). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#set("NOT_SERVING");
  }

  /** One probe; overlapping calls share nothing and the later one is skipped. */
  async probe(): Promise<void> {
    if (this.#inFlight) return;
    this.#inFlight = true;
    const { store, metrics, timeoutMs } = this.#options;
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        metrics.timeStore("healthProbe", () => store.listTenants()),
        new Promise((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      if (this.#timer !== undefined) this.#set("SERVING");
    } catch (err) {
      if (this.#timer !== undefined && this.#status === "SERVING") {
        this.#options.logger.warn({ err }, "the datastore is unreachable: reporting NOT_SERVING");
      }
      if (this.#timer !== undefined) this.#set("NOT_SERVING");
    } finally {
      clearTimeout(timeout);
      this.#inFlight = false;
    }
  }

  #set(status: ServingStatus): void {
    if (status === "SERVING" && this.#status !== "SERVING") {
      this.#options.logger.info("the datastore is reachable again: reporting SERVING");
    }
    this.#status = status;
    for (const service of this.#options.services) this.#options.health.setStatus(service, status);
  }
}
