/**
 * Watch: streams a tenant's changelog after a zookie, one message per revision, then waits for
 * new writes. Memory stays bounded for a slow watcher: the changelog is read `watchBatchSize`
 * entries at a time, and reading pauses while the stream's send buffer is full (the writer
 * waits for 'drain'), so a watcher that stops reading stops the reading of the log, not the
 * server. Nothing is skipped: resuming from any message's `changes_through` continues exactly
 * after it.
 */
import type { Relationship } from "../core/relationship.js";
import type { WatchRequest, WatchResponse } from "../gen/trellis/v1/relationship_service.js";
import type { Operations, WatchRevision } from "../operations/operations.js";
import type { RelationshipChange } from "../store/datastore.js";
import { changeToWire, zookieToWire } from "../wire/trellis-v1.js";
import type { CallContext } from "./request-pipeline.js";
import type { ServerLimits } from "./server-limits.js";
import type { StreamWriter } from "./stream-writer.js";

/**
 * A message size the server keeps streamed messages under (estimated), well below the 4 MiB a
 * gRPC client accepts by default.
 */
export const MAX_STREAM_MESSAGE_BYTES = 2 * 1024 * 1024;

/** A cheap upper estimate of a relationship's encoded size. */
export function estimatedBytes(rel: Relationship): number {
  let n =
    32 +
    rel.resource.type.length +
    rel.resource.id.length +
    rel.relation.length +
    rel.subject.type.length +
    rel.subject.id.length +
    (rel.subject.relation?.length ?? 0);
  if (rel.caveat !== undefined) {
    n += rel.caveat.name.length + 8;
    if (rel.caveat.context !== undefined) n += 2 * JSON.stringify(rel.caveat.context).length;
  }
  return n;
}

export async function watchChanges(
  ops: Operations,
  limits: ServerLimits,
  req: WatchRequest,
  ctx: CallContext,
  out: StreamWriter<WatchResponse>,
): Promise<void> {
  const start = req.optionalStartCursor?.token ?? "";
  const revisions = ops.watch(ctx.tenant, start === "" ? undefined : start, ctx.signal, {
    batchSize: limits.watchBatchSize,
  });
  for await (const revision of revisions) {
    for (const response of messagesOf(revision)) await out.write(response);
  }
}

/**
 * One message per revision. A revision too large for one message (a big import batch) is
 * split: every part but the last carries the previous revision's zookie, so a watch resumed
 * from a part replays the whole revision rather than skip its rest (updates are idempotent).
 */
function* messagesOf(revision: WatchRevision): Generator<WatchResponse> {
  const { committedAt } = revision;
  let part: RelationshipChange[] = [];
  let bytes = 0;
  for (const change of revision.changes) {
    const size = estimatedBytes(change.relationship);
    if (part.length > 0 && bytes + size > MAX_STREAM_MESSAGE_BYTES) {
      yield {
        changesThrough: zookieToWire(revision.previous),
        updates: part.map(changeToWire),
        schemaChanged: false,
        committedAt,
      };
      part = [];
      bytes = 0;
    }
    part.push(change);
    bytes += size;
  }
  yield {
    changesThrough: zookieToWire(revision.zookie),
    updates: part.map(changeToWire),
    schemaChanged: revision.schemaChanged,
    committedAt,
  };
}
