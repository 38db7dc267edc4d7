/**
 * PermissionService: Check, CheckBulk, Expand, ListObjects and ListSubjects, translated to the
 * engine. Unknown types and members are the engine's FAILED_PRECONDITION; malformed input is
 * INVALID_ARGUMENT naming the field.
 */
import { invalidArgument, TrellisError } from "../core/errors.js";
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
  consistencyFromProto,
  contextFromProto,
  cursorFromProto,
  expandTreeToProto,
  memberName,
  objectRefFromProto,
  partialCaveatInfoToProto,
  permissionshipToProto,
  subjectRefFromProto,
  traceToProto,
  typeName,
  zookieToProto,
} from "./convert.js";
import { itemFailure } from "./errors.js";
import type { RequestPipeline } from "./request-pipeline.js";
import type { ServerLimits } from "./server-limits.js";

const SERVICE = "PermissionService";

export function permissionService(
  engine: Engine,
  pipeline: RequestPipeline,
  limits: ServerLimits,
): PermissionServiceServer {
  const ops = new Operations(engine);
  return {
    check: pipeline.unary<CheckRequest, CheckResponse>(`${SERVICE}/Check`, async (req, ctx) => {
      const resource = objectRefFromProto(req.resource, "resource");
      const permission = memberName(req.permission, "permission");
      const subject = subjectRefFromProto(req.subject, "subject");
      const context = contextFromProto(req.context);
      const result = await ops.check(ctx.tenant, {
        resource,
        permission,
        subject,
        consistency: consistencyFromProto(req.consistency),
        ...(context !== undefined ? { context } : {}),
        trace: req.withTracing,
      });
      return {
        checkedAt: zookieToProto(result.zookie),
        permissionship: permissionshipToProto(result.permissionship),
        partialCaveatInfo: partialCaveatInfoToProto(result.missingContext),
        debugTrace: result.trace === undefined ? undefined : traceToProto(result.trace),
      };
    }),

    checkBulk: pipeline.unary<CheckBulkRequest, CheckBulkResponse>(
      `${SERVICE}/CheckBulk`,
      async (req, ctx) => {
        if (req.items.length > limits.maxChecksPerBulk) {
          throw invalidArgument(
            `${req.items.length} items exceed the limit of ${limits.maxChecksPerBulk} per CheckBulk`,
            "items",
          );
        }
        const consistency = consistencyFromProto(req.consistency);
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
                permissionship: permissionshipToProto(result.permissionship),
                partialCaveatInfo: partialCaveatInfoToProto(result.missingContext),
              },
            },
          };
        });
        return { checkedAt: zookieToProto(zookie), pairs };
      },
    ),

    expand: pipeline.unary<ExpandRequest, ExpandResponse>(`${SERVICE}/Expand`, async (req, ctx) => {
      const resource = objectRefFromProto(req.resource, "resource");
      const permission = memberName(req.permission, "permission");
      const { tree, zookie } = await ops.expand(ctx.tenant, {
        resource,
        permission,
        consistency: consistencyFromProto(req.consistency),
      });
      return { expandedAt: zookieToProto(zookie), tree: expandTreeToProto(tree) };
    }),

    listObjects: pipeline.serverStream<ListObjectsRequest, ListObjectsResponse>(
      `${SERVICE}/ListObjects`,
      { defaultDeadline: true },
      async (req, ctx, out) => {
        const resourceType = typeName(req.resourceType, "resource_type");
        const permission = memberName(req.permission, "permission");
        const subject = subjectRefFromProto(req.subject, "subject");
        const context = contextFromProto(req.context);
        const cursor = cursorFromProto(req.optionalCursor);
        const pages = ops.listObjects(
          ctx.tenant,
          {
            resourceType,
            permission,
            subject,
            consistency: consistencyFromProto(req.consistency),
            ...(context !== undefined ? { context } : {}),
            ...(cursor !== undefined ? { cursor } : {}),
            ...(req.optionalLimit > 0 ? { limit: req.optionalLimit } : {}),
          },
          ctx.signal,
        );
        // Written page by page as computed: a large listing streams while it runs.
        for await (const page of pages) {
          const listedAt = zookieToProto(page.zookie);
          for (const object of page.items) {
            await out.write({
              listedAt,
              objectId: object.id,
              permissionship: permissionshipToProto(object.permissionship),
              partialCaveatInfo: partialCaveatInfoToProto(object.missingContext),
              afterResultCursor: { token: object.cursor },
            });
          }
        }
      },
    ),

    listSubjects: pipeline.serverStream<ListSubjectsRequest, ListSubjectsResponse>(
      `${SERVICE}/ListSubjects`,
      { defaultDeadline: true },
      async (req, ctx, out) => {
        const resource = objectRefFromProto(req.resource, "resource");
        const permission = memberName(req.permission, "permission");
        const subjectType = typeName(req.subjectObjectType, "subject_object_type");
        const relation = req.optionalSubjectRelation;
        const subjectRelation =
          relation === "" || relation === "..."
            ? undefined
            : memberName(relation, "optional_subject_relation");
        const context = contextFromProto(req.context);
        const { zookie, items } = await ops.listSubjects(ctx.tenant, {
          resource,
          permission,
          subjectType,
          consistency: consistencyFromProto(req.consistency),
          ...(subjectRelation !== undefined ? { subjectRelation } : {}),
          ...(context !== undefined ? { context } : {}),
        });
        const listedAt = zookieToProto(zookie);
        // The wildcard comes first (`*` sorts before every id character), then by id.
        for (const subject of items) {
          await out.write({
            listedAt,
            subjectObjectId: subject.id,
            permissionship: permissionshipToProto(subject.permissionship),
            partialCaveatInfo: partialCaveatInfoToProto(subject.missingContext),
            excludedSubjectIds: [...subject.excluded],
          });
        }
      },
    ),
  };
}

function parseBulkItem(item: CheckBulkRequestItem, field: string): CheckBulkItem | TrellisError {
  try {
    const context = contextFromProto(item.context);
    return {
      resource: objectRefFromProto(item.resource, `${field}.resource`),
      permission: memberName(item.permission, `${field}.permission`),
      subject: subjectRefFromProto(item.subject, `${field}.subject`),
      ...(context !== undefined ? { context } : {}),
    };
  } catch (err) {
    if (err instanceof TrellisError && err.code === "INVALID_ARGUMENT") return err;
    throw err;
  }
}
