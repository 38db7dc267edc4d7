// Watch over the wire: live changes, resuming from a zookie, and a watcher that does not read.
import { type ClientReadableStream, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { WatchResponse } from "../../src/gen/trellis/v1/relationship_service.js";
import {
  type ApiFixture,
  eventually,
  expectCode,
  relationshipMessage as rel,
  startApiFixture,
  TEST_SCHEMA,
} from "./api-fixture.js";

let api: ApiFixture;

beforeAll(async () => {
  api = await startApiFixture({ metricsListen: "127.0.0.1:0" });
});

afterAll(() => api.close());

/** Receives watch messages into a list; `until` waits for a condition on it. */
function watcher(stream: ClientReadableStream<WatchResponse>) {
  const messages: WatchResponse[] = [];
  let error: { code: number } | undefined;
  stream.on("data", (m: WatchResponse) => messages.push(m));
  stream.on("error", (err: { code: number }) => {
    error = err;
  });
  return {
    messages,
    get error() {
      return error;
    },
    until: (probe: (m: WatchResponse[]) => boolean) => eventually(() => probe(messages)),
  };
}

function ids(m: WatchResponse): string[] {
  return m.updates.map(
    (u) =>
      `${u.operation}:${u.relationship?.resource?.objectId}:${u.relationship?.subject?.object?.objectId}`,
  );
}

async function metric(name: string): Promise<number> {
  const body = await (await fetch(`http://${api.server.metricsAddress}/metrics`)).text();
  let total = 0;
  for (const line of body.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      total += Number(line.split(" ").pop());
  }
  return total;
}

describe("Watch", () => {
  test("streams each write as it happens, one message per revision", async () => {
    // A watch without a start cursor starts at the head as of its arrival, which the test
    // cannot see; from a cursor, no write can be missed however late the watch arrives.
    const start = await api.touch("document:live0#viewer@user:wa");
    const stream = api.watch({ optionalStartCursor: { token: start } });
    const w = watcher(stream);
    const first = await api.touch("document:live1#viewer@user:wa");
    // The watch is open once it has streamed that write; the next one happens while it is.
    await w.until((m) => m.length >= 1);
    await api.write({
      updates: [
        { operation: 2, relationship: rel("document:live2#viewer@user:wb") },
        { operation: 3, relationship: rel("document:live1#viewer@user:wa") },
      ],
    });
    await w.until((m) => m.length >= 2);
    stream.cancel();
    expect(w.messages[0]!.changesThrough?.token).toBe(first);
    expect(ids(w.messages[0]!)).toEqual(["2:live1:wa"]);
    expect(ids(w.messages[1]!)).toEqual(["2:live2:wb", "3:live1:wa"]);
    expect(w.messages[1]!.schemaChanged).toBe(false);
  });

  test("resumes after a zookie with exactly the later changes, schema writes included", async () => {
    const a = await api.touch("document:res1#viewer@user:ra");
    const b = await api.touch("document:res2#viewer@user:rb");
    await api.writeSchema({ schema: `${TEST_SCHEMA}\ndefinition extra {}\n` });
    const c = await api.touch("document:res3#viewer@user:rc");
    const stream = api.watch({ optionalStartCursor: { token: a } });
    const w = watcher(stream);
    await w.until((m) => m.some((x) => x.changesThrough?.token === c));
    stream.cancel();
    const mine = w.messages.slice(0, 3);
    expect(mine[0]!.changesThrough?.token).toBe(b);
    expect(ids(mine[0]!)).toEqual(["2:res2:rb"]);
    expect(mine[1]!.schemaChanged).toBe(true);
    expect(mine[1]!.updates).toEqual([]);
    expect(ids(mine[2]!)).toEqual(["2:res3:rc"]);
  });

  test("a watcher that stops reading still gets every change, in order, and the server stays bounded", async () => {
    const start = await api.touch("document:slow-start#viewer@user:s");
    const stream = api.watch({ optionalStartCursor: { token: start } });
    const received: WatchResponse[] = [];
    stream.on("data", (m: WatchResponse) => received.push(m));
    stream.on("error", () => {});
    stream.pause();
    const pausesBefore = await metric("trellis_grpc_stream_backpressure_waits_total");
    const batches = 40;
    const perBatch = 400;
    await api.import(
      Array.from({ length: batches }, (_, b) => ({
        relationships: Array.from({ length: perBatch }, (_, i) =>
          rel(
            `document:slow${String(b).padStart(2, "0")}-${String(i).padStart(3, "0")}#viewer@user:slowpoke`,
          ),
        ),
      })),
    );
    // The server fills the client's flow-control window, then its send buffer, then waits.
    await eventually(
      async () => (await metric("trellis_grpc_stream_backpressure_waits_total")) > pausesBefore,
    );
    // A write made while the watcher is stalled is not lost either.
    const last = await api.touch("document:slow-last#viewer@user:s");
    stream.resume();
    await eventually(() => received.some((m) => m.changesThrough?.token === last));
    stream.cancel();
    const updates = received.flatMap(ids);
    const expected = [
      ...Array.from({ length: batches }, (_, b) =>
        Array.from(
          { length: perBatch },
          (_, i) => `2:slow${String(b).padStart(2, "0")}-${String(i).padStart(3, "0")}:slowpoke`,
        ),
      ).flat(),
      "2:slow-last:s",
    ];
    expect(updates).toEqual(expected);
    expect(received).toHaveLength(batches + 1);
  });

  test("a cancelled watch ends on the server", async () => {
    // Earlier tests' watches end asynchronously after their cancel.
    await eventually(async () => (await metric("trellis_grpc_open_streams")) === 0);
    const open = 0;
    const stream = api.watch();
    watcher(stream);
    await eventually(async () => (await metric("trellis_grpc_open_streams")) === open + 1);
    stream.cancel();
    await eventually(async () => (await metric("trellis_grpc_open_streams")) === open);
  });

  test("a forged start zookie is INVALID_ARGUMENT", async () => {
    const stream = api.watch({ optionalStartCursor: { token: "z1.5.AAAAAAAAAAAAAAAAAAAAAA" } });
    await expectCode(
      new Promise((resolve, reject) => {
        stream.on("error", reject);
        stream.on("end", resolve);
        stream.on("data", () => {});
      }),
      status.INVALID_ARGUMENT,
    );
  });
});
