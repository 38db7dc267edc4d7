/**
 * RelationshipService: Write, Delete, Read, Import, Export and Watch, translated to the
 * operation layer (writes are validated against the schema there).
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
import { Operations } from "../operations/operations.js";
import type { Precondition } from "../store/datastore.js";
import {
  consistencyFromRequest,
  cursorFromRequest,
  filterFromRequest,
  mutationFromRequest,
  preconditionFromRequest,
  relationshipFromRequest,
  relationshipToWire,
  respellRelationshipField,
  zookieToWire,
} from "../wire/trellis-v1.js";
import { withTrailers } from "./errors.js";
import type { RequestPipeline } from "./request-pipeline.js";
import { checkWithinLimit, type ServerLimits } from "./server-limits.js";
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
  const { engine, pipeline, limits, logger } = deps;
  const ops = new Operations(engine);

  const preconditionsOf = (list: WriteRequest["preconditions"]): Precondition[] => {
    checkWithinLimit(
      list.length,
      limits.maxPreconditionsPerWrite,
      "preconditions",
      "preconditions",
    );
    return list.map((p, i) => preconditionFromRequest(p, `preconditions[${i}]`));
  };

  return {
    write: pipeline.unary<WriteRequest, WriteResponse>(`${SERVICE}/Write`, async (req, ctx) => {
      if (req.updates.length === 0) {
        throw invalidArgument("a write needs at least one update", "updates");
      }
      checkWithinLimit(
        req.updates.length,
        limits.maxUpdatesPerWrite,
        "updates",
        "updates",
        "write",
      );
      ctx.audit({ updates: req.updates.length, preconditions: req.preconditions.length });
      const preconditions = preconditionsOf(req.preconditions);
      const mutations = req.updates.map((u, i) =>
        mutationFromRequest(u, `updates[${i}]`, limits.maxCaveatContextBytes),
      );
      try {
        const { zookie } = await ops.writeRelationships(ctx.tenant, mutations, preconditions);
        return { writtenAt: zookieToWire(zookie) };
      } catch (err) {
        throw respellRelationshipField(err, "mutations", "updates");
      }
    }),

    delete: pipeline.unary<DeleteRequest, DeleteResponse>(`${SERVICE}/Delete`, async (req, ctx) => {
      const filter = filterFromRequest(req.filter, "filter");
      const preconditions = preconditionsOf(req.preconditions);
      const max = limits.maxDeletesPerCall;
      if (req.optionalLimit > max) {
        throw invalidArgument(
          `optional_limit ${req.optionalLimit} exceeds the server's limit of ${max}`,
          "optional_limit",
        );
      }
      const limit = req.optionalLimit === 0 ? max : req.optionalLimit;
      const result = await ops.deleteRelationships(ctx.tenant, filter, {
        limit,
        allowPartial: req.allowPartialDeletions,
        preconditions,
      });
      ctx.audit({ deleted: result.deleted, partial: result.partial });
      return {
        deletedAt: zookieToWire(result.zookie),
        deletedCount: result.deleted,
        partial: result.partial,
      };
    }),

    read: pipeline.serverStream<ReadRequest, ReadResponse>(
      `${SERVICE}/Read`,
      { defaultDeadline: false },
      async (req, ctx, out) => {
        const filter = filterFromRequest(req.filter, "filter");
        const cursor = cursorFromRequest(req.optionalCursor);
        const pages = ops.readRelationships(
          ctx.tenant,
          filter,
          {
            consistency: consistencyFromRequest(req.consistency),
            ...(cursor !== undefined ? { cursor } : {}),
            ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
            pageSize: limits.streamBatchSize,
          },
          ctx.signal,
        );
        await out.writeEach(pages, (item, zookie) => ({
          readAt: zookieToWire(zookie),
          relationship: relationshipToWire(item.relationship),
          afterResultCursor: { token: item.cursor },
        }));
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
            checkWithinLimit(
              n,
              limits.maxRelationshipsPerImportMessage,
              "relationships",
              "relationships",
              "Import message",
            );
            if (n > 0) {
              const relationships = message.relationships.map((r, i) =>
                relationshipFromRequest(r, `relationships[${i}]`, limits.maxCaveatContextBytes),
              );
              // One message is one batch: one transaction, all of it or nothing.
              const result = await ops
                .importBatch(ctx.tenant, relationships)
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
        importedAt ??= (await ops.importBatch(ctx.tenant, [])).zookie;
        return { importedAt: zookieToWire(importedAt), importedCount: imported };
      },
    ),

    export: pipeline.serverStream<ExportRequest, ExportResponse>(
      `${SERVICE}/Export`,
      { defaultDeadline: false },
      async (req, ctx, out) => {
        const pages = ops.exportRelationships(
          ctx.tenant,
          {
            consistency: consistencyFromRequest(req.consistency),
            pageSize: limits.streamBatchSize,
          },
          ctx.signal,
        );
        for await (const page of pages) {
          const exportedAt = zookieToWire(page.zookie);
          // Bounded by size too, so that a message stays under a client's 4 MiB.
          let batch: PbRelationship[] = [];
          let bytes = 0;
          for (const rel of page.items) {
            const size = estimatedBytes(rel);
            if (batch.length > 0 && bytes + size > MAX_STREAM_MESSAGE_BYTES) {
              await out.write({ exportedAt, relationships: batch });
              batch = [];
              bytes = 0;
            }
            batch.push(relationshipToWire(rel));
            bytes += size;
          }
          // An empty tenant still gets one message: the snapshot it was exported at.
          await out.write({ exportedAt, relationships: batch });
        }
      },
    ),

    watch: pipeline.serverStream<WatchRequest, WatchResponse>(
      `${SERVICE}/Watch`,
      { defaultDeadline: false },
      (req, ctx, out) => watchChanges(ops, limits, req, ctx, out),
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
