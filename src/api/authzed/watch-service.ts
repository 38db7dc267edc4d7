/**
 * SpiceDB's WatchService over the operation layer's watch: one message per revision with the
 * changes the request's object types and filters select, `changes_through` the revision's
 * ZedToken. A revision larger than `WATCH_MESSAGE_UPDATES` is split; every part but the last
 * carries the previous revision's ZedToken, so a watch resumed from a part replays the whole
 * revision rather than skip its rest. Schema changes and checkpoints are sent when the request's
 * `optional_update_kinds` asks for them.
 */
import { v1 } from "@authzed/authzed-node";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Operations, WatchQuery } from "../../operations/operations.js";
import { typeName } from "../../wire/trellis-v1.js";
import { filterFromAuthzed } from "./from-authzed.js";
import type { SpiceDBCalls } from "./spicedb-calls.js";
import { changeToAuthzed, zedToken } from "./to-authzed.js";

/** Updates per Watch message, so that a message stays well under a client's 4 MiB. */
const WATCH_MESSAGE_UPDATES = 1000;

function filtersOf(req: v1.WatchRequest): NonNullable<WatchQuery["filters"]> {
  return [
    ...req.optionalObjectTypes.map((type, i) => ({
      resourceType: typeName(type, `optional_object_types[${i}]`),
    })),
    ...req.optionalRelationshipFilters.map((f, i) => {
      const { filter, resourceIdPrefix } = filterFromAuthzed(
        f,
        `optional_relationship_filters[${i}]`,
      );
      return resourceIdPrefix === undefined ? filter : { ...filter, resourceIdPrefix };
    }),
  ];
}

export function watchService(
  calls: SpiceDBCalls,
  operations: Operations,
): UntypedServiceImplementation {
  return {
    watch: calls.serverStream<v1.WatchRequest, v1.WatchResponse>(
      "Watch",
      { defaultDeadline: false },
      async (req, ctx, out) => {
        const kinds = new Set(req.optionalUpdateKinds);
        const relationships =
          kinds.size === 0 || kinds.has(v1.WatchKind.INCLUDE_RELATIONSHIP_UPDATES);
        const schema = kinds.has(v1.WatchKind.INCLUDE_SCHEMA_UPDATES);
        const checkpoints = kinds.has(v1.WatchKind.INCLUDE_CHECKPOINTS);
        const start = req.optionalStartCursor?.token ?? "";
        const revisions = operations.watch(
          ctx.tenant,
          start === "" ? undefined : start,
          ctx.signal,
          { filters: filtersOf(req) },
        );
        for await (const revision of revisions) {
          const updates = relationships ? revision.changes.map(changeToAuthzed) : [];
          const schemaUpdated = schema && revision.schemaChanged;
          if (updates.length === 0 && !schemaUpdated) {
            if (checkpoints) {
              await out.write({
                updates: [],
                changesThrough: zedToken(revision.zookie),
                schemaUpdated: false,
                isCheckpoint: true,
                fullRevisionMetadata: [],
              });
            }
            continue;
          }
          let from = 0;
          do {
            const last = from + WATCH_MESSAGE_UPDATES >= updates.length;
            await out.write({
              updates: updates.slice(from, from + WATCH_MESSAGE_UPDATES),
              changesThrough: zedToken(last ? revision.zookie : revision.previous),
              schemaUpdated: last && schemaUpdated,
              isCheckpoint: false,
              fullRevisionMetadata: [],
            });
            from += WATCH_MESSAGE_UPDATES;
          } while (from < updates.length);
        }
      },
    ),
  };
}
