/**
 * Domain answers as SpiceDB's response messages. Where SpiceDB's message has trellis.v1's shape
 * (object and subject references, partial caveat info) the trellis.v1 converter of `../convert.ts`
 * makes it; here only what differs: Struct contexts, Timestamps, SpiceDB's enums and oneofs.
 */
import { v1 } from "@authzed/authzed-node";
import type { TrellisError } from "../../core/errors.js";
import type { Relationship } from "../../core/relationship.js";
import type { Zookie } from "../../core/revision.js";
import type { Permissionship } from "../../engine/engine.js";
import type { ExpandNode } from "../../engine/expand.js";
import type { PermissionTree } from "../../gen/trellis/v1/permission_service.js";
import type { ListedSubject } from "../../operations/operations.js";
import type { RelationshipChange } from "../../store/datastore.js";
import {
  expandTreeToWire,
  partialCaveatInfoToWire,
  relationshipToWire,
} from "../../wire/trellis-v1.js";
import { itemFailure } from "../errors.js";

export function zedToken(zookie: Zookie): v1.ZedToken {
  return { token: zookie };
}

const CHECK_PERMISSIONSHIP: Readonly<
  Record<Permissionship, v1.CheckPermissionResponse_Permissionship>
> = {
  ALLOWED: v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION,
  DENIED: v1.CheckPermissionResponse_Permissionship.NO_PERMISSION,
  CONDITIONAL: v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION,
};

export function checkPermissionship(p: Permissionship): v1.CheckPermissionResponse_Permissionship {
  return CHECK_PERMISSIONSHIP[p];
}

/** A lookup lists only what is allowed or conditional. */
export function lookupPermissionship(p: Permissionship): v1.LookupPermissionship {
  return p === "CONDITIONAL"
    ? v1.LookupPermissionship.CONDITIONAL_PERMISSION
    : v1.LookupPermissionship.HAS_PERMISSION;
}

export { partialCaveatInfoToWire as partialCaveatInfo };

function dateToTimestamp(d: Date): { seconds: string; nanos: number } {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1e6 };
}

export function relationshipToAuthzed(rel: Relationship): v1.Relationship {
  const { resource, relation, subject } = relationshipToWire(rel);
  const context = rel.caveat?.context;
  return {
    resource,
    relation,
    subject,
    optionalCaveat:
      rel.caveat === undefined
        ? undefined
        : {
            caveatName: rel.caveat.name,
            context:
              context === undefined
                ? undefined
                : v1.PbStruct.fromJson(context as Parameters<typeof v1.PbStruct.fromJson>[0]),
          },
    optionalExpiresAt: rel.expiration === undefined ? undefined : dateToTimestamp(rel.expiration),
  };
}

/** A changelog entry as a Watch update: a written tuple is a TOUCH, a removed one a DELETE. */
export function changeToAuthzed(change: RelationshipChange): v1.RelationshipUpdate {
  return {
    operation:
      change.op === "TOUCH"
        ? v1.RelationshipUpdate_Operation.TOUCH
        : v1.RelationshipUpdate_Operation.DELETE,
    relationship: relationshipToAuthzed(change.relationship),
  };
}

/**
 * An Expand tree as SpiceDB draws it: a leaf lists the subjects of one relation (caveats and
 * expirations are not part of SpiceDB's leaf), an operation node its children. trellis.v1's
 * tree has the same operation numbers; only the node's spelling differs.
 */
export function expandTreeToAuthzed(node: ExpandNode): v1.PermissionRelationshipTree {
  return respelledTree(expandTreeToWire(node));
}

function respelledTree(tree: PermissionTree): v1.PermissionRelationshipTree {
  const node = tree.node;
  return {
    expandedObject: tree.resource,
    expandedRelation: tree.relation,
    treeType:
      node === undefined
        ? { oneofKind: undefined }
        : node.$case === "leaf"
          ? {
              oneofKind: "leaf",
              leaf: { subjects: node.leaf.relationships.flatMap((r) => r.subject ?? []) },
            }
          : {
              oneofKind: "intermediate",
              intermediate: {
                operation: node.intermediate
                  .operation as number as v1.AlgebraicSubjectSet_Operation,
                children: node.intermediate.children.map(respelledTree),
              },
            },
  };
}

/** One LookupSubjects answer, in both the current fields and the deprecated ones. */
export function lookedUpSubject(
  subject: ListedSubject,
  lookedUpAt: v1.ZedToken,
): v1.LookupSubjectsResponse {
  const permissionship = lookupPermissionship(subject.permissionship);
  const partialCaveatInfo = partialCaveatInfoToWire(subject.missingContext);
  return {
    lookedUpAt,
    subject: { subjectObjectId: subject.id, permissionship, partialCaveatInfo },
    // Trellis knows which subjects a wildcard excludes, not whether an exclusion is caveated.
    excludedSubjects: subject.excluded.map((id) => ({
      subjectObjectId: id,
      permissionship: v1.LookupPermissionship.HAS_PERMISSION,
    })),
    subjectObjectId: subject.id,
    excludedSubjectIds: [...subject.excluded],
    permissionship,
    partialCaveatInfo,
  };
}

/** A CheckBulk item's failure as the `google.rpc.Status` SpiceDB puts in its pair. */
export function statusOf(err: TrellisError): { code: number; message: string; details: [] } {
  const { code, message } = itemFailure(err);
  return { code, message, details: [] };
}
