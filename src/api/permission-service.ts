/**
 * PermissionService: Check, CheckBulk, Expand, ListObjects and ListSubjects, translated to the
 * engine. Unknown types and members are the engine's FAILED_PRECONDITION; malformed input is
 * INVALID_ARGUMENT naming the field.
 */
import { TrellisError } from "../core/errors.js";
import type { CheckBulkItem, Engine } from "../engine/engine.js";
import type {
  CheckBulkRequest,
  CheckBulkRequestItem,
  CheckBulkResponse,
  CheckBulkResponsePair,
  CheckRequest,
  CheckResponse,
  ExpandRequest,
  ExpandResponse,
  ListObjectsRequest,
  ListObjectsResponse,
  ListSubjectsRequest,
  ListSubjectsResponse,
  PermissionServiceServer,
} from "../gen/trellis/v1/permission_service.js";
import { Operations } from "../operations/operations.js";
import {
  consistencyFromRequest,
  contextFromRequest,
  cursorFromRequest,
  expandTreeToWire,
  memberName,
  objectRefFromRequest,
  partialCaveatInfoToWire,
  permissionshipToWire,
  subjectRefFromRequest,
  traceToWire,
  typeName,
  zookieToWire,
} from "../wire/trellis-v1.js";
import { itemFailure } from "./errors.js";
import type { RequestPipeline } from "./request-pipeline.js";
import { checkWithinLimit, type ServerLimits } from "./server-limits.js";

const SERVICE = "PermissionService";

export function permissionService(
  engine: Engine,
  pipeline: RequestPipeline,
  limits: ServerLimits,
): PermissionServiceServer {
  const ops = new Operations(engine);
  return {
    check: pipeline.unary<CheckRequest, CheckResponse>(`${SERVICE}/Check`, async (req, ctx) => {
      const resource = objectRefFromRequest(req.resource, "resource");
      const permission = memberName(req.permission, "permission");
      const subject = subjectRefFromRequest(req.subject, "subject");
      const context = contextFromRequest(req.context);
      const result = await ops.check(ctx.tenant, {
        resource,
        permission,
        subject,
        consistency: consistencyFromRequest(req.consistency),
        ...(context !== undefined ? { context } : {}),
        trace: req.withTracing,
      });
      return {
        checkedAt: zookieToWire(result.zookie),
        permissionship: permissionshipToWire(result.permissionship),
        partialCaveatInfo: partialCaveatInfoToWire(result.missingContext),
        debugTrace: result.trace === undefined ? undefined : traceToWire(result.trace),
      };
    }),

    checkBulk: pipeline.unary<CheckBulkRequest, CheckBulkResponse>(
      `${SERVICE}/CheckBulk`,
      async (req, ctx) => {
        checkWithinLimit(req.items.length, limits.maxChecksPerBulk, "items", "items", "CheckBulk");
        const consistency = consistencyFromRequest(req.consistency);
        // A malformed item is that item's error; the others are still answered.
        const parsed = req.items.map((item, i) => parseBulkItem(item, `items[${i}]`));
        const { results, zookie } = await ops.checkBulk(ctx.tenant, parsed, consistency);
        const pairs = results.map((result, i): CheckBulkResponsePair => {
          const request = req.items[i];
          if ("error" in result) {
            return { request, response: { $case: "error", error: itemFailure(result.error) } };
          }
          return {
            request,
            response: {
              $case: "item",
              item: {
                permissionship: permissionshipToWire(result.permissionship),
                partialCaveatInfo: partialCaveatInfoToWire(result.missingContext),
              },
            },
          };
        });
        return { checkedAt: zookieToWire(zookie), pairs };
      },
    ),

    expand: pipeline.unary<ExpandRequest, ExpandResponse>(`${SERVICE}/Expand`, async (req, ctx) => {
      const resource = objectRefFromRequest(req.resource, "resource");
      const permission = memberName(req.permission, "permission");
      const { tree, zookie } = await ops.expand(ctx.tenant, {
        resource,
        permission,
        consistency: consistencyFromRequest(req.consistency),
      });
      return { expandedAt: zookieToWire(zookie), tree: expandTreeToWire(tree) };
    }),

    listObjects: pipeline.serverStream<ListObjectsRequest, ListObjectsResponse>(
      `${SERVICE}/ListObjects`,
      { defaultDeadline: true },
      async (req, ctx, out) => {
        const resourceType = typeName(req.resourceType, "resource_type");
        const permission = memberName(req.permission, "permission");
        const subject = subjectRefFromRequest(req.subject, "subject");
        const context = contextFromRequest(req.context);
        const cursor = cursorFromRequest(req.optionalCursor);
        const pages = ops.listObjects(
          ctx.tenant,
          {
            resourceType,
            permission,
            subject,
            consistency: consistencyFromRequest(req.consistency),
            ...(context !== undefined ? { context } : {}),
            ...(cursor !== undefined ? { cursor } : {}),
            ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
          },
          ctx.signal,
        );
        await out.writeEach(pages, (object, zookie) => ({
          listedAt: zookieToWire(zookie),
          objectId: object.id,
          permissionship: permissionshipToWire(object.permissionship),
          partialCaveatInfo: partialCaveatInfoToWire(object.missingContext),
          afterResultCursor: { token: object.cursor },
        }));
      },
    ),

    listSubjects: pipeline.serverStream<ListSubjectsRequest, ListSubjectsResponse>(
      `${SERVICE}/ListSubjects`,
      { defaultDeadline: true },
      async (req, ctx, out) => {
        const resource = objectRefFromRequest(req.resource, "resource");
        const permission = memberName(req.permission, "permission");
        const subjectType = typeName(req.subjectObjectType, "subject_object_type");
        const relation = req.optionalSubjectRelation;
        const subjectRelation =
          relation === "" || relation === "..."
            ? undefined
            : memberName(relation, "optional_subject_relation");
        const context = contextFromRequest(req.context);
        const { zookie, items } = await ops.listSubjects(ctx.tenant, {
          resource,
          permission,
          subjectType,
          consistency: consistencyFromRequest(req.consistency),
          ...(subjectRelation !== undefined ? { subjectRelation } : {}),
          ...(context !== undefined ? { context } : {}),
        });
        const listedAt = zookieToWire(zookie);
        // The wildcard comes first (`*` sorts before every id character), then by id.
        for (const subject of items) {
          await out.write({
            listedAt,
            subjectObjectId: subject.id,
            permissionship: permissionshipToWire(subject.permissionship),
            partialCaveatInfo: partialCaveatInfoToWire(subject.missingContext),
            excludedSubjectIds: [...subject.excluded],
          });
        }
      },
    ),
  };
}

function parseBulkItem(item: CheckBulkRequestItem, field: string): CheckBulkItem | TrellisError {
  try {
    const context = contextFromRequest(item.context);
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
