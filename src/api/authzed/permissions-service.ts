/**
 * SpiceDB's PermissionsService over the operation layer: checks, expand, lookups, relationship
 * reads and writes, bulk import and export. The bulk handlers are shared with the deprecated
 * ExperimentalService methods of the same meaning.
 */
import { v1 } from "@authzed/authzed-node";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { invalidArgument, TrellisError } from "../../core/errors.js";
import type { CheckBulkItem } from "../../engine/engine.js";
import type { Operations } from "../../operations/operations.js";
import {
  cursorFromRequest,
  memberName,
  objectRefFromRequest,
  respellRelationshipField,
  subjectRefFromRequest,
  typeName,
} from "../../wire/trellis-v1.js";
import type { CallContext } from "../request-pipeline.js";
import { checkWithinLimit, type ServerLimits } from "../server-limits.js";
import type { StreamWriter } from "../stream-writer.js";
import {
  consistencyFromAuthzed,
  contextFromAuthzed,
  filterFromAuthzed,
  mutationFromAuthzed,
  preconditionFromAuthzed,
  relationshipFromAuthzed,
  storeFilterFromAuthzed,
} from "./from-authzed.js";
import { type SpiceDBCalls, spiceDBFailure } from "./spicedb-calls.js";
import {
  checkPermissionship,
  expandTreeToAuthzed,
  lookedUpSubject,
  lookupPermissionship,
  partialCaveatInfo,
  relationshipToAuthzed,
  statusOf,
  zedToken,
} from "./to-authzed.js";

/** Relationships per message of an export: SpiceDB's batch size. */
const EXPORT_BATCH = 1000;

export interface SpiceDBServiceDeps {
  readonly operations: Operations;
  readonly limits: ServerLimits;
}

/** CheckBulkPermissions, and the deprecated BulkCheckPermission with the same messages. */
export function checkBulk(
  deps: SpiceDBServiceDeps,
): (
  req: Pick<v1.CheckBulkPermissionsRequest, "consistency" | "items">,
  ctx: CallContext,
) => Promise<v1.CheckBulkPermissionsResponse> {
  return async (req, ctx) => {
    checkWithinLimit(req.items.length, deps.limits.maxChecksPerBulk, "items", "items", "call");
    // A malformed item is that item's error; the others are still answered.
    const items = req.items.map((item, i) => bulkItem(item, `items[${i}]`));
    const { results, zookie } = await deps.operations.checkBulk(
      ctx.tenant,
      items,
      consistencyFromAuthzed(req.consistency),
    );
    return {
      checkedAt: zedToken(zookie),
      pairs: results.map(
        (result, i): v1.CheckBulkPermissionsPair => ({
          request: req.items[i],
          response:
            "error" in result
              ? { oneofKind: "error", error: statusOf(result.error) }
              : {
                  oneofKind: "item",
                  item: {
                    permissionship: checkPermissionship(result.permissionship),
                    partialCaveatInfo: partialCaveatInfo(result.missingContext),
                  },
                },
        }),
      ),
    };
  };
}

function bulkItem(
  item: v1.CheckBulkPermissionsRequestItem,
  field: string,
): CheckBulkItem | TrellisError {
  try {
    const context = contextFromAuthzed(item.context, `${field}.context`);
    return {
      resource: objectRefFromRequest(item.resource, `${field}.resource`),
      permission: memberName(item.permission, `${field}.permission`),
      subject: subjectRefFromRequest(item.subject, `${field}.subject`),
      ...(context !== undefined ? { context } : {}),
    };
  } catch (err) {
    if (err instanceof TrellisError && err.code === "INVALID_ARGUMENT") return err;
    throw err;
  }
}

/** ImportBulkRelationships, and the deprecated BulkImportRelationships. */
export function importBulk(
  deps: SpiceDBServiceDeps,
): (
  requests: AsyncIterable<v1.ImportBulkRelationshipsRequest>,
  ctx: CallContext,
) => Promise<v1.ImportBulkRelationshipsResponse> {
  return async (requests, ctx) => {
    const max = deps.limits.maxRelationshipsPerImportMessage;
    let loaded = 0;
    try {
      for await (const message of requests) {
        checkWithinLimit(
          message.relationships.length,
          max,
          "relationships",
          "relationships",
          "message",
        );
        const relationships = message.relationships.map((r, i) =>
          relationshipFromAuthzed(r, `relationships[${i}]`, deps.limits.maxCaveatContextBytes),
        );
        // One message is one batch: one transaction, all of it or nothing.
        const result = await deps.operations
          .importBatch(ctx.tenant, relationships)
          .catch((err: unknown) => {
            throw respellRelationshipField(spiceDBFailure(err), "relationships", "relationships");
          });
        loaded += result.imported;
      }
    } finally {
      ctx.audit({ imported: loaded });
    }
    return { numLoaded: String(loaded) };
  };
}

/** ExportBulkRelationships, and the deprecated BulkExportRelationships. */
export function exportBulk(
  deps: SpiceDBServiceDeps,
): (
  req: v1.ExportBulkRelationshipsRequest,
  ctx: CallContext,
  out: StreamWriter<v1.ExportBulkRelationshipsResponse>,
) => Promise<void> {
  return async (req, ctx, out) => {
    const cursor = cursorFromRequest(req.optionalCursor);
    const filter =
      req.optionalRelationshipFilter === undefined
        ? undefined
        : filterFromAuthzed(req.optionalRelationshipFilter, "optional_relationship_filter");
    const pages = deps.operations.exportRelationships(
      ctx.tenant,
      {
        consistency: consistencyFromAuthzed(req.consistency),
        pageSize: Math.min(EXPORT_BATCH, req.optionalLimit > 0 ? req.optionalLimit : EXPORT_BATCH),
        ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(filter !== undefined ? { ...filter, knownNamesOnly: true } : {}),
      },
      ctx.signal,
    );
    for await (const page of pages) {
      if (page.items.length === 0) continue;
      await out.write({
        afterResultCursor: { token: page.cursor },
        relationships: page.items.map(relationshipToAuthzed),
      });
    }
  };
}

export function permissionsService(
  calls: SpiceDBCalls,
  deps: SpiceDBServiceDeps,
): UntypedServiceImplementation {
  const { operations, limits } = deps;

  const preconditionsOf = (list: readonly v1.Precondition[]) => {
    checkWithinLimit(
      list.length,
      limits.maxPreconditionsPerWrite,
      "preconditions",
      "optional_preconditions",
    );
    return list.map((p, i) => preconditionFromAuthzed(p, `optional_preconditions[${i}]`));
  };

  return {
    checkPermission: calls.unary<v1.CheckPermissionRequest, v1.CheckPermissionResponse>(
      "CheckPermission",
      async (req, ctx) => {
        const context = contextFromAuthzed(req.context);
        const result = await operations.check(ctx.tenant, {
          resource: objectRefFromRequest(req.resource, "resource"),
          permission: memberName(req.permission, "permission"),
          subject: subjectRefFromRequest(req.subject, "subject"),
          consistency: consistencyFromAuthzed(req.consistency),
          ...(context !== undefined ? { context } : {}),
        });
        return {
          checkedAt: zedToken(result.zookie),
          permissionship: checkPermissionship(result.permissionship),
          partialCaveatInfo: partialCaveatInfo(result.missingContext),
        };
      },
    ),

    checkBulkPermissions: calls.unary("CheckBulkPermissions", checkBulk(deps)),

    expandPermissionTree: calls.unary<
      v1.ExpandPermissionTreeRequest,
      v1.ExpandPermissionTreeResponse
    >("ExpandPermissionTree", async (req, ctx) => {
      const { tree, zookie } = await operations.expand(ctx.tenant, {
        resource: objectRefFromRequest(req.resource, "resource"),
        permission: memberName(req.permission, "permission"),
        consistency: consistencyFromAuthzed(req.consistency),
      });
      return { expandedAt: zedToken(zookie), treeRoot: expandTreeToAuthzed(tree) };
    }),

    lookupResources: calls.serverStream<v1.LookupResourcesRequest, v1.LookupResourcesResponse>(
      "LookupResources",
      { defaultDeadline: true },
      async (req, ctx, out) => {
        const context = contextFromAuthzed(req.context);
        const cursor = cursorFromRequest(req.optionalCursor);
        const pages = operations.listObjects(
          ctx.tenant,
          {
            resourceType: typeName(req.resourceObjectType, "resource_object_type"),
            permission: memberName(req.permission, "permission"),
            subject: subjectRefFromRequest(req.subject, "subject"),
            consistency: consistencyFromAuthzed(req.consistency),
            ...(context !== undefined ? { context } : {}),
            ...(cursor !== undefined ? { cursor } : {}),
            ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
          },
          ctx.signal,
        );
        await out.writeEach(pages, (object, zookie) => ({
          lookedUpAt: zedToken(zookie),
          resourceObjectId: object.id,
          permissionship: lookupPermissionship(object.permissionship),
          partialCaveatInfo: partialCaveatInfo(object.missingContext),
          afterResultCursor: { token: object.cursor },
        }));
      },
    ),

    lookupSubjects: calls.serverStream<v1.LookupSubjectsRequest, v1.LookupSubjectsResponse>(
      "LookupSubjects",
      { defaultDeadline: true },
      async (req, ctx, out) => {
        // SpiceDB answers these two UNIMPLEMENTED as well.
        if (req.optionalConcreteLimit > 0 || cursorFromRequest(req.optionalCursor) !== undefined) {
          throw new TrellisError(
            "UNIMPLEMENTED",
            "optional_concrete_limit and optional_cursor are not supported by LookupSubjects",
          );
        }
        const relation = req.optionalSubjectRelation;
        const context = contextFromAuthzed(req.context);
        const page = await operations.listSubjects(ctx.tenant, {
          resource: objectRefFromRequest(req.resource, "resource"),
          permission: memberName(req.permission, "permission"),
          subjectType: typeName(req.subjectObjectType, "subject_object_type"),
          consistency: consistencyFromAuthzed(req.consistency),
          ...(relation !== "" && relation !== "..."
            ? { subjectRelation: memberName(relation, "optional_subject_relation") }
            : {}),
          ...(context !== undefined ? { context } : {}),
        });
        const lookedUpAt = zedToken(page.zookie);
        const excludeWildcards =
          req.wildcardOption === v1.LookupSubjectsRequest_WildcardOption.EXCLUDE_WILDCARDS;
        for (const subject of page.items) {
          if (excludeWildcards && subject.id === "*") continue;
          await out.write(lookedUpSubject(subject, lookedUpAt));
        }
      },
    ),

    readRelationships: calls.serverStream<
      v1.ReadRelationshipsRequest,
      v1.ReadRelationshipsResponse
    >("ReadRelationships", { defaultDeadline: false }, async (req, ctx, out) => {
      const { filter, resourceIdPrefix } = filterFromAuthzed(
        req.relationshipFilter,
        "relationship_filter",
      );
      const cursor = cursorFromRequest(req.optionalCursor);
      const pages = operations.readRelationships(
        ctx.tenant,
        filter,
        {
          consistency: consistencyFromAuthzed(req.consistency),
          knownNamesOnly: true,
          ...(cursor !== undefined ? { cursor } : {}),
          ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
          ...(resourceIdPrefix !== undefined ? { resourceIdPrefix } : {}),
        },
        ctx.signal,
      );
      await out.writeEach(pages, (item, zookie) => ({
        readAt: zedToken(zookie),
        relationship: relationshipToAuthzed(item.relationship),
        afterResultCursor: { token: item.cursor },
      }));
    }),

    writeRelationships: calls.unary<v1.WriteRelationshipsRequest, v1.WriteRelationshipsResponse>(
      "WriteRelationships",
      async (req, ctx) => {
        checkWithinLimit(
          req.updates.length,
          limits.maxUpdatesPerWrite,
          "updates",
          "updates",
          "write",
        );
        ctx.audit({
          updates: req.updates.length,
          preconditions: req.optionalPreconditions.length,
        });
        const preconditions = preconditionsOf(req.optionalPreconditions);
        const mutations = req.updates.map((u, i) =>
          mutationFromAuthzed(u, `updates[${i}]`, limits.maxCaveatContextBytes),
        );
        try {
          const { zookie } = await operations.writeRelationships(
            ctx.tenant,
            mutations,
            preconditions,
            { allowEmpty: true },
          );
          return { writtenAt: zedToken(zookie) };
        } catch (err) {
          throw respellRelationshipField(spiceDBFailure(err), "mutations", "updates");
        }
      },
    ),

    deleteRelationships: calls.unary<v1.DeleteRelationshipsRequest, v1.DeleteRelationshipsResponse>(
      "DeleteRelationships",
      async (req, ctx) => {
        const filter = storeFilterFromAuthzed(req.relationshipFilter, "relationship_filter");
        const preconditions = preconditionsOf(req.optionalPreconditions);
        const max = limits.maxDeletesPerCall;
        if (req.optionalLimit > max) {
          throw invalidArgument(
            `optional_limit ${req.optionalLimit} exceeds the server's limit of ${max}`,
            "optional_limit",
          );
        }
        const result = await operations.deleteRelationships(ctx.tenant, filter, {
          limit: req.optionalLimit === 0 ? max : req.optionalLimit,
          allowPartial: req.optionalAllowPartialDeletions,
          preconditions,
          knownNamesOnly: true,
        });
        ctx.audit({ deleted: result.deleted, partial: result.partial });
        return {
          deletedAt: zedToken(result.zookie),
          deletionProgress: result.partial
            ? v1.DeleteRelationshipsResponse_DeletionProgress.PARTIAL
            : v1.DeleteRelationshipsResponse_DeletionProgress.COMPLETE,
          relationshipsDeletedCount: String(result.deleted),
        };
      },
    ),

    importBulkRelationships: calls.clientStream("ImportBulkRelationships", importBulk(deps)),

    exportBulkRelationships: calls.serverStream(
      "ExportBulkRelationships",
      { defaultDeadline: false },
      exportBulk(deps),
    ),
  };
}
