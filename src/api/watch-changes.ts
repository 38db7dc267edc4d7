/**
 * Watch: streams a tenant's changelog after a zookie, one message per revision, then waits for
 * new writes. Memory stays bounded for a slow watcher: the changelog is read `watchBatchSize`
 * entries at a time, and reading pauses while the stream's send buffer is full (the writer
 * waits for 'drain'), so a watcher that stops reading stops the reading of the log, not the
 * server. Nothing is skipped: resuming from any message's `changes_through` continues exactly
 * after it.
 */
import type { Relationship } from "../core/relationship.js";
import type { Revision, Zookie } from "../core/revision.js";
import type { Engine } from "../engine/engine.js";
import type { WatchRequest, WatchResponse } from "../gen/trellis/v1/relationship_service.js";
import type { ChangeEvent, RelationshipChange } from "../store/datastore.js";
import { changeToProto, zookieToProto } from "./convert.js";
import type { CallContext } from "./request-pipeline.js";
import type { ServerLimits } from "./server-limits.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { StreamWriter } from "./stream-writer.js";

/**
 * A message size the server keeps streamed messages under (estimated), well below the 4 MiB a
 * gRPC client accepts by default.
 */
export const MAX_STREAM_MESSAGE_BYTES = 2 * 1024 * 1024;

/** How long one wait for new writes lasts before the loop looks again. */
const WAIT_SLICE_MS = 30_000;

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
  deps: { engine: Engine; limits: ServerLimits; metrics: ServerMetrics },
  req: WatchRequest,
  ctx: CallContext,
  out: StreamWriter<WatchResponse>,
): Promise<void> {
  const { engine, limits, metrics } = deps;
  const store = engine.store;
  const start = req.optionalStartCursor?.token ?? "";
  let after: Revision =
    start === ""
      ? await metrics.timeStore("headRevision", () => store.headRevision(ctx.tenant))
      : engine.zookies.decode(ctx.tenant, start, "optional_start_cursor");
  while (true) {
    ctx.signal.throwIfAborted();
    const from = after;
    // Head first: every change at or before it is in the changelog read next, so revisions
    // that changed nothing (a delete that matched nothing) can be skipped instead of waited on.
    const head = await metrics.timeStore("headRevision", () => store.headRevision(ctx.tenant));
    const changes = await metrics.timeStore("changesSince", () =>
      store.changesSince(ctx.tenant, from, limits.watchBatchSize),
    );
    if (changes.length === 0) {
      if (head > from) {
        after = head;
        continue;
      }
      await store.waitForChanges(ctx.tenant, from, {
        signal: ctx.signal,
        timeoutMs: WAIT_SLICE_MS,
      });
      continue;
    }
    for (const message of messagesOf(changes, after, (r) => engine.zookies.encode(ctx.tenant, r))) {
      await out.write(message.response);
      after = message.through;
    }
  }
}

interface Outgoing {
  readonly response: WatchResponse;
  /** The revision a watch resumed after this message continues from. */
  readonly through: Revision;
}

/**
 * One message per revision. A revision too large for one message (a big import batch) is
 * split: every part but the last carries the previous revision's zookie, so a watch resumed
 * from a part replays the whole revision rather than skip its rest (updates are idempotent).
 */
function* messagesOf(
  changes: readonly ChangeEvent[],
  after: Revision,
  zookie: (revision: Revision) => Zookie,
): Generator<Outgoing> {
  let previous = after;
  let i = 0;
  while (i < changes.length) {
    const { revision, committedAt } = changes[i]!;
    let schemaChanged = false;
    let part: RelationshipChange[] = [];
    let bytes = 0;
    for (; i < changes.length && changes[i]!.revision === revision; i++) {
      const change = changes[i]!;
      if (change.op === "SCHEMA") {
        schemaChanged = true;
        continue;
      }
      const size = estimatedBytes(change.relationship);
      if (part.length > 0 && bytes + size > MAX_STREAM_MESSAGE_BYTES) {
        yield {
          response: {
            changesThrough: zookieToProto(zookie(previous)),
            updates: part.map(changeToProto),
            schemaChanged: false,
            committedAt,
          },
          through: previous,
        };
        part = [];
        bytes = 0;
      }
      part.push(change);
      bytes += size;
    }
    yield {
      response: {
        changesThrough: zookieToProto(zookie(revision)),
        updates: part.map(changeToProto),
        schemaChanged,
        committedAt,
      },
      through: revision,
    };
    previous = revision;
  }
}
