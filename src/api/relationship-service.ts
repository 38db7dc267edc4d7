/**
 * RelationshipService: Write, Delete, Read, Import, Export and Watch, translated to the engine
 * (writes are validated against the schema there) and the store (snapshot reads, changelog).
 */
import type { Logger } from "pino";
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { Zookie } from "../core/revision.js";
import type { Engine } from "../engine/engine.js";
import type { Relationship as PbRelationship } from "../gen/trellis/v1/core.js";
import type {
  DeleteRequest,
  DeleteResponse,
  ExportRequest,
  ExportResponse,
  ImportRequest,
  ImportResponse,
  ReadRequest,
  ReadResponse,
  RelationshipServiceServer,
  WatchRequest,
  WatchResponse,
  WriteRequest,
  WriteResponse,
} from "../gen/trellis/v1/relationship_service.js";
import type { Precondition } from "../store/datastore.js";
import { cursorAfter } from "../store/index.js";
import {
  consistencyFromProto,
  cursorFromProto,
  filterFromProto,
  mutationFromProto,
  preconditionFromProto,
  relationshipFromProto,
  relationshipToProto,
  respellRelationshipField,
  zookieToProto,
} from "./convert.js";
import { withTrailers } from "./errors.js";
import type { RequestPipeline } from "./request-pipeline.js";
import type { ServerLimits } from "./server-limits.js";
import type { ServerMetrics } from "./server-metrics.js";
import { estimatedBytes, MAX_STREAM_MESSAGE_BYTES, watchChanges } from "./watch-changes.js";

const SERVICE = "RelationshipService";

/** Trailing metadata of a failed Import: what stays committed from earlier messages. */
export const IMPORTED_COUNT_KEY = "trellis-imported-count";
export const IMPORTED_AT_KEY = "trellis-imported-at";

export interface RelationshipServiceDeps {
  readonly engine: Engine;
  readonly pipeline: RequestPipeline;
  readonly limits: ServerLimits;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

export function relationshipService(deps: RelationshipServiceDeps): RelationshipServiceServer {
  const { engine, pipeline, limits, metrics, logger } = deps;
  const store = engine.store;

  const preconditionsOf = (list: WriteRequest["preconditions"]): Precondition[] => {
    if (list.length > limits.maxPreconditionsPerWrite) {
      throw invalidArgument(
        `${list.length} preconditions exceed the limit of ${limits.maxPreconditionsPerWrite}`,
        "preconditions",
      );
    }
    return list.map((p, i) => preconditionFromProto(p, `preconditions[${i}]`));
  };

  return {
    write: pipeline.unary<WriteRequest, WriteResponse>(`${SERVICE}/Write`, async (req, ctx) => {
      if (req.updates.length === 0) {
        throw invalidArgument("a write needs at least one update", "updates");
      }
      if (req.updates.length > limits.maxUpdatesPerWrite) {
        throw invalidArgument(
          `${req.updates.length} updates exceed the limit of ${limits.maxUpdatesPerWrite} per write`,
          "updates",
        );
      }
      ctx.audit({ updates: req.updates.length, preconditions: req.preconditions.length });
      const preconditions = preconditionsOf(req.preconditions);
      const mutations = req.updates.map((u, i) =>
        mutationFromProto(u, `updates[${i}]`, limits.maxCaveatContextBytes),
      );
      try {
        const { zookie } = await engine.writeRelationships(ctx.tenant, mutations, preconditions);
        return { writtenAt: zookieToProto(zookie) };
      } catch (err) {
        throw respellRelationshipField(err, "mutations", "updates");
      }
    }),

    delete: pipeline.unary<DeleteRequest, DeleteResponse>(`${SERVICE}/Delete`, async (req, ctx) => {
      const filter = filterFromProto(req.filter, "filter");
      const preconditions = preconditionsOf(req.preconditions);
      const max = limits.maxDeletesPerCall;
      if (req.optionalLimit > max) {
        throw invalidArgument(
          `optional_limit ${req.optionalLimit} exceeds the server's limit of ${max}`,
          "optional_limit",
        );
      }
      const limit = req.optionalLimit === 0 ? max : req.optionalLimit;
      const result = await engine.deleteRelationships(ctx.tenant, filter, {
        limit,
        allowPartial: req.allowPartialDeletions,
        preconditions,
      });
      ctx.audit({ deleted: result.deleted, partial: result.partial });
      return {
        deletedAt: zookieToProto(result.zookie),
        deletedCount: result.deleted,
        partial: result.partial,
      };
    }),

    read: pipeline.serverStream<ReadRequest, ReadResponse>(
      `${SERVICE}/Read`,
      { defaultDeadline: false },
      async (req, ctx, out) => {
        const filter = filterFromProto(req.filter, "filter");
        const view = await engine.view(ctx.tenant, consistencyFromProto(req.consistency));
        const readAt = zookieToProto(view.zookie);
        // Per-item cursors are the store's own page cursors, so any item is a resume point.
        let cursor = cursorFromProto(req.optionalCursor);
        let remaining = req.optionalLimit === 0 ? Number.POSITIVE_INFINITY : req.optionalLimit;
        while (remaining > 0) {
          const pageCursor = cursor;
          const page = await metrics.timeStore("readByFilter", () =>
            store.readByFilter(ctx.tenant, view.revision, filter, {
              limit: Math.min(remaining, limits.streamBatchSize),
              ...(pageCursor !== undefined ? { cursor: pageCursor } : {}),
            }),
          );
          for (const rel of page.relationships) {
            await out.write({
              readAt,
              relationship: relationshipToProto(rel),
              afterResultCursor: { token: cursorAfter(filter, rel) },
            });
          }
          remaining -= page.relationships.length;
          if (page.cursor === undefined) break;
          cursor = page.cursor;
        }
      },
    ),

    import: pipeline.clientStream<ImportRequest, ImportResponse>(
      `${SERVICE}/Import`,
      async (requests, ctx) => {
        let imported = 0;
        let importedAt: Zookie | undefined;
        let index = 0;
        const progress = () => ({
          [IMPORTED_COUNT_KEY]: String(imported),
          ...(importedAt !== undefined ? { [IMPORTED_AT_KEY]: importedAt } : {}),
        });
        try {
          for await (const message of requests) {
            const n = message.relationships.length;
            if (n > limits.maxRelationshipsPerImportMessage) {
              throw invalidArgument(
                `${n} relationships exceed the limit of ${limits.maxRelationshipsPerImportMessage} per Import message`,
                "relationships",
              );
            }
            if (n > 0) {
              const relationships = message.relationships.map((r, i) =>
                relationshipFromProto(r, `relationships[${i}]`, limits.maxCaveatContextBytes),
              );
              // One message is one batch: one transaction, all of it or nothing.
              const result = await engine
                .importRelationships(ctx.tenant, relationships, { batchSize: n })
                .catch((err: unknown) => {
                  throw respellRelationshipField(err, "relationships", "relationships");
                });
              imported += result.imported;
              importedAt = result.zookie;
              logger.debug(
                { requestId: ctx.requestId, message: index, imported },
                "import batch committed",
              );
            }
            index++;
          }
        } catch (err) {
          ctx.audit({ imported });
          throw withTrailers(inImportMessage(err, index, imported), progress());
        }
        ctx.audit({ imported });
        if (importedAt === undefined) {
          const head = await metrics.timeStore("headRevision", () =>
            store.headRevision(ctx.tenant),
          );
          importedAt = engine.zookies.encode(ctx.tenant, head);
        }
        return { importedAt: zookieToProto(importedAt), importedCount: imported };
      },
    ),

    export: pipeline.serverStream<ExportRequest, ExportResponse>(
      `${SERVICE}/Export`,
      { defaultDeadline: false },
      async (req, ctx, out) => {
        const view = await engine.view(ctx.tenant, consistencyFromProto(req.consistency));
        const exportedAt = zookieToProto(view.zookie);
        let batch: PbRelationship[] = [];
        let bytes = 0;
        let sent = 0;
        for await (const rel of store.export(ctx.tenant, view.revision)) {
          ctx.signal.throwIfAborted();
          const size = estimatedBytes(rel);
          // Bounded by count and by size, so that a message stays under a client's 4 MiB.
          if (
            batch.length > 0 &&
            (batch.length >= limits.streamBatchSize || bytes + size > MAX_STREAM_MESSAGE_BYTES)
          ) {
            await out.write({ exportedAt, relationships: batch });
            sent++;
            batch = [];
            bytes = 0;
          }
          batch.push(relationshipToProto(rel));
          bytes += size;
        }
        // An empty tenant still gets one message: the snapshot it was exported at.
        if (batch.length > 0 || sent === 0) await out.write({ exportedAt, relationships: batch });
      },
    ),

    watch: pipeline.serverStream<WatchRequest, WatchResponse>(
      `${SERVICE}/Watch`,
      { defaultDeadline: false },
      (req, ctx, out) => watchChanges({ engine, limits, metrics }, req, ctx, out),
    ),
  };
}

/** Says which Import message failed, and that the earlier ones stay committed. */
function inImportMessage(err: unknown, index: number, imported: number): object {
  if (!(err instanceof TrellisError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === "CANCELLED" || err.code === "DEADLINE_EXCEEDED") return err;
  return new TrellisError(
    err.code,
    `import message ${index} was not written (${imported} relationships from earlier messages stay committed): ${err.message}`,
    {
      cause: err.cause ?? (err.code === "INTERNAL" ? err : undefined),
      ...(err.field !== undefined ? { field: `messages[${index}].${err.field}` } : {}),
    },
  );
}
