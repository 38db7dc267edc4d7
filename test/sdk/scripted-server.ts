/**
 * A gRPC server that speaks trellis.v1 but answers from a script instead of an engine, so that
 * client tests can make it fail on purpose (UNAVAILABLE three times, never answer, stream
 * forever) and see what the client sent (attempts, metadata, cancellation).
 */
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import {
  type CheckRequest,
  type CheckResponse,
  type ListObjectsRequest,
  type ListObjectsResponse,
  PermissionServiceService,
} from "../../src/gen/trellis/v1/permission_service.js";
import {
  RelationshipServiceService,
  type WriteRequest,
  type WriteResponse,
} from "../../src/gen/trellis/v1/relationship_service.js";

/** What a scripted call does: answer, fail with a status, or never answer. */
export type Step = "answer" | "hang" | status;

export interface ScriptedServer {
  readonly address: string;
  /** Steps for the next calls of each method, taken in order; `answer` once they run out. */
  readonly script: { check: Step[]; write: Step[] };
  /** Calls received per method, and the metadata of the last one. */
  readonly calls: { check: number; write: number; listObjects: number };
  lastMetadata: Metadata | undefined;
  /** Resolves when a ListObjects stream is cancelled by its client. */
  readonly listObjectsCancelled: Promise<void>;
  /** Resolves when the next call of `method` has arrived and taken its step. */
  arrival(method: ScriptedMethod): Promise<void>;
  /** Forgets the steps no call has taken (a test that failed half-way may leave some). */
  reset(): void;
  close(): Promise<void>;
}

export type ScriptedMethod = "check" | "write" | "listObjects";

function unimplemented(_call: unknown, callback?: sendUnaryData<never>): void {
  callback?.({ code: status.UNIMPLEMENTED, details: "not scripted" });
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const server = new Server();
  let cancelled!: () => void;
  const listObjectsCancelled = new Promise<void>((resolve) => {
    cancelled = resolve;
  });
  const arrivals: Record<ScriptedMethod, (() => void)[]> = {
    check: [],
    write: [],
    listObjects: [],
  };
  const arrived = (method: ScriptedMethod) => {
    for (const resolve of arrivals[method].splice(0)) resolve();
  };
  const state: Omit<ScriptedServer, "address" | "close"> = {
    script: { check: [], write: [] },
    calls: { check: 0, write: 0, listObjects: 0 },
    lastMetadata: undefined,
    listObjectsCancelled,
    arrival: (method) => new Promise<void>((resolve) => arrivals[method].push(resolve)),
    reset() {
      state.script.check.length = 0;
      state.script.write.length = 0;
    },
  };

  /** Plays the next step; true when the handler should answer normally. */
  const play = <T>(steps: Step[], callback: sendUnaryData<T>): boolean => {
    const step = steps.shift() ?? "answer";
    if (step === "answer") return true;
    if (step !== "hang") callback({ code: step, details: `scripted ${status[step]}` });
    return false;
  };

  server.addService(PermissionServiceService, {
    check(
      call: ServerUnaryCall<CheckRequest, CheckResponse>,
      callback: sendUnaryData<CheckResponse>,
    ) {
      state.calls.check++;
      state.lastMetadata = call.metadata;
      const answer = play(state.script.check, callback);
      arrived("check");
      if (!answer) return;
      callback(null, {
        checkedAt: { token: "z-scripted" },
        permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
        partialCaveatInfo: undefined,
        debugTrace: undefined,
      });
    },
    listObjects(call: ServerWritableStream<ListObjectsRequest, ListObjectsResponse>) {
      state.calls.listObjects++;
      call.on("cancelled", () => cancelled());
      arrived("listObjects");
      let n = 0;
      // Streams until cancelled, never ending by itself, so only a cancel can stop it.
      const send = () => {
        if (call.cancelled) return;
        const more = call.write({
          listedAt: { token: "z-scripted" },
          objectId: `obj${n++}`,
          permissionship: Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
          partialCaveatInfo: undefined,
          afterResultCursor: undefined,
        });
        if (more) setImmediate(send);
        else call.once("drain", send);
      };
      send();
    },
    checkBulk: unimplemented,
    expand: unimplemented,
    listSubjects: unimplemented,
  });
  server.addService(RelationshipServiceService, {
    write(
      call: ServerUnaryCall<WriteRequest, WriteResponse>,
      callback: sendUnaryData<WriteResponse>,
    ) {
      state.calls.write++;
      state.lastMetadata = call.metadata;
      const answer = play(state.script.write, callback);
      arrived("write");
      if (!answer) return;
      callback(null, { writtenAt: { token: "z-written" } });
    },
    delete: unimplemented,
    read: unimplemented,
    import: unimplemented,
    export: unimplemented,
    watch: unimplemented,
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    ),
  );
  return Object.assign(state, {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  });
}
