/**
 * The server's limits and timings, every one documented with its default here and nowhere
 * else. Request-size limits follow SpiceDB's defaults so that a client written for one server
 * fits the other.
 */
import { invalidArgument } from "../core/errors.js";

export interface ServerLimits {
  /** Most updates one Write may carry; more is INVALID_ARGUMENT (as SpiceDB). Default 1000. */
  readonly maxUpdatesPerWrite: number;
  /** Most preconditions one Write or Delete may carry; more is INVALID_ARGUMENT. Default 1000. */
  readonly maxPreconditionsPerWrite: number;
  /** Most items one CheckBulk may carry; more is INVALID_ARGUMENT. Default 1000. */
  readonly maxChecksPerBulk: number;
  /**
   * Most relationships one Delete removes; a larger `optional_limit` is INVALID_ARGUMENT, and
   * `optional_limit` 0 means this. Default 1000 (SpiceDB's delete limit).
   */
  readonly maxDeletesPerCall: number;
  /**
   * Most relationships one Import message may carry. Each message is one atomic batch, so this
   * also bounds one transaction. Default 10 000; at most 100 000 (the store's batch bound).
   */
  readonly maxRelationshipsPerImportMessage: number;
  /**
   * Largest request message accepted, in bytes; larger is RESOURCE_EXHAUSTED, answered by
   * gRPC before any handler runs. Default 4 MiB (gRPC's own default).
   */
  readonly maxReceiveMessageBytes: number;
  /** Largest caveat context on one relationship, as JSON bytes. Default 4096 (as SpiceDB). */
  readonly maxCaveatContextBytes: number;
  /**
   * Deadline given to unary calls and to ListObjects/ListSubjects when the client sets none,
   * in ms, so that no query runs unbounded. Read, Export, Import and Watch are bulk or
   * long-lived and run until the client's own deadline or cancellation. Default 30 000.
   */
  readonly defaultDeadlineMs: number;
  /** Relationships per ExportResponse message and per store page of Read. Default 1000. */
  readonly streamBatchSize: number;
  /**
   * Changelog entries Watch reads from the store at a time (one revision is never split, so a
   * larger write is read whole). This plus the stream's 16-message send buffer is what a slow
   * watcher can hold in memory. Default 1000.
   */
  readonly watchBatchSize: number;
  /** How often the health check probes the store, in ms. Default 2000. */
  readonly healthProbeIntervalMs: number;
  /** How long one probe may take before the store counts as unreachable, in ms. Default 1000. */
  readonly healthProbeTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxUpdatesPerWrite: 1000,
  maxPreconditionsPerWrite: 1000,
  maxChecksPerBulk: 1000,
  maxDeletesPerCall: 1000,
  maxRelationshipsPerImportMessage: 10_000,
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  maxCaveatContextBytes: 4096,
  defaultDeadlineMs: 30_000,
  streamBatchSize: 1000,
  watchBatchSize: 1000,
  healthProbeIntervalMs: 2000,
  healthProbeTimeoutMs: 1000,
});

/** Upper bounds: beyond these a value is a typo, or exceeds what a lower layer accepts. */
const MAXIMUM: { readonly [K in keyof ServerLimits]: number } = {
  maxUpdatesPerWrite: 100_000,
  maxPreconditionsPerWrite: 100_000,
  maxChecksPerBulk: 100_000,
  maxDeletesPerCall: 1_000_000,
  maxRelationshipsPerImportMessage: 100_000,
  maxReceiveMessageBytes: 1024 * 1024 * 1024,
  maxCaveatContextBytes: 1024 * 1024,
  defaultDeadlineMs: 24 * 60 * 60 * 1000,
  streamBatchSize: 100_000,
  watchBatchSize: 100_000,
  healthProbeIntervalMs: 60 * 60 * 1000,
  healthProbeTimeoutMs: 60 * 60 * 1000,
};

/** Defaults merged with `overrides`; a TypeError names the first bad limit. */
/**
 * INVALID_ARGUMENT when a request carries more of something than a limit allows:
 * `1200 updates exceed the limit of 1000 per write`, naming `field`.
 */
export function checkWithinLimit(
  count: number,
  max: number,
  what: string,
  field: string,
  per?: string,
): void {
  if (count > max) {
    throw invalidArgument(
      `${count} ${what} exceed the limit of ${max}${per === undefined ? "" : ` per ${per}`}`,
      field,
    );
  }
}

export function resolveServerLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  if (overrides === null || typeof overrides !== "object") {
    throw new TypeError("limits must be an object");
  }
  const resolved: Record<string, number> = { ...DEFAULT_SERVER_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_SERVER_LIMITS)) throw new TypeError(`unknown server limit ${name}`);
    const max = MAXIMUM[name as keyof ServerLimits];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new TypeError(
        `server limit ${name} must be an integer from 1 to ${max}, got ${String(value)}`,
      );
    }
    resolved[name] = value;
  }
  return Object.freeze(resolved as unknown as ServerLimits);
}
