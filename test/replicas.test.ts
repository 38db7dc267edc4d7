// Two `trellis serve` processes on one PostgreSQL database, started the same way, behind an
// imagined load balancer: each honours the other's zookies, a listing paged on one continues on
// the other, a watch resumes on the other, and one keeps serving when the other is killed.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Consistency, Permissionship } from "../src/gen/trellis/v1/core.js";
import {
  CheckRequest,
  ListObjectsRequest,
  type ListObjectsResponse,
  PermissionServiceClient,
} from "../src/gen/trellis/v1/permission_service.js";
import {
  RelationshipServiceClient,
  WatchRequest,
  type WatchResponse,
  WriteRequest,
} from "../src/gen/trellis/v1/relationship_service.js";
import { collect, obj, relationshipMessage, subj, unary } from "./api/api-fixture.js";
import { PG_URL } from "./support/test-stores.js";

const root = join(import.meta.dirname, "..");

if (!PG_URL) console.warn("TRELLIS_TEST_PG_URL is unset: the replica tests need PostgreSQL");

interface Replica {
  readonly address: string;
  readonly process: ChildProcess;
  readonly permissions: PermissionServiceClient;
  readonly relationships: RelationshipServiceClient;
  /** Resolves with the exit code or signal once the process ends. */
  readonly exited: Promise<string>;
}

/** Starts `trellis serve` and resolves once it prints the address it serves on. */
function startReplica(datastore: string): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      join(root, "bin", "trellis"),
      "serve",
      "--insecure-dev",
      "--datastore",
      datastore,
      "--listen",
      "127.0.0.1:0",
      "--preset",
      "docs",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(String(signal ?? code))),
  );
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /serving on (\S+)/.exec(out);
      if (m === null) return;
      const address = m[1]!;
      resolve({
        address,
        process: child,
        permissions: new PermissionServiceClient(address, credentials.createInsecure()),
        relationships: new RelationshipServiceClient(address, credentials.createInsecure()),
        exited,
      });
    });
    void exited.then((how) => reject(new Error(`serve ended (${how}) before serving: ${err}`)));
  });
}

function stop(replica: Replica): void {
  replica.permissions.close();
  replica.relationships.close();
  if (replica.process.exitCode === null) replica.process.kill("SIGKILL");
}

async function touch(replica: Replica, ...tuples: string[]): Promise<string> {
  const res = await unary(
    replica.relationships.write.bind(replica.relationships),
    WriteRequest.fromPartial({
      updates: tuples.map((t) => ({ operation: 2, relationship: relationshipMessage(t) })),
    }),
  );
  return res.writtenAt!.token;
}

async function view(replica: Replica, doc: string, user: string, token?: string) {
  const res = await unary(
    replica.permissions.check.bind(replica.permissions),
    CheckRequest.fromPartial({
      ...(token !== undefined
        ? { consistency: { requirement: { $case: "atLeastAsFresh", atLeastAsFresh: { token } } } }
        : {}),
      resource: obj(doc),
      permission: "view",
      subject: subj(user),
    }),
  );
  return res.permissionship;
}

// Skipped (with the warning above) only where PostgreSQL is not configured; CI always sets it.
describe.skipIf(!PG_URL)("two replicas on one PostgreSQL database", () => {
  const url = PG_URL!;
  const database = `trellis_replicas_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const target = new URL(url);
    target.pathname = `/${database}`;
    // Started the same way: no shared flag, the store keeps what they must agree on.
    a = await startReplica(target.toString());
    b = await startReplica(target.toString());
  });

  afterAll(async () => {
    for (const r of [a, b]) if (r !== undefined) stop(r);
    await Promise.all([a?.exited, b?.exited]);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  test("each honours the other's zookies: a write on one is seen by the next read on the other", async () => {
    const zookie = await touch(a, "document:readme#viewer@user:alice");
    expect(await view(b, "document:readme", "user:alice", zookie)).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
    const again = await touch(b, "document:readme#viewer@user:bob");
    expect(await view(a, "document:readme", "user:bob", again)).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
  });

  test("a listing paged on one continues on the other, at the same snapshot", async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `doc${i}`);
    await touch(a, ...ids.map((id) => `document:${id}#viewer@user:carol`));
    const list = (replica: Replica, snapshot?: string, after?: ListObjectsResponse) =>
      collect<ListObjectsResponse>(
        replica.permissions.listObjects(
          ListObjectsRequest.fromPartial({
            resourceType: "document",
            permission: "view",
            subject: subj("user:carol"),
            optionalLimit: 3,
            consistency:
              snapshot === undefined
                ? Consistency.fromPartial({
                    requirement: { $case: "fullyConsistent", fullyConsistent: true },
                  })
                : Consistency.fromPartial({
                    requirement: {
                      $case: "atExactSnapshot",
                      atExactSnapshot: { token: snapshot },
                    },
                  }),
            ...(after?.afterResultCursor !== undefined
              ? { optionalCursor: after.afterResultCursor }
              : {}),
          }),
        ),
      );
    const first = await list(a);
    const snapshot = first[0]!.listedAt!.token;
    // A write after the first page must not show in the next pages.
    await touch(b, "document:doc0a#viewer@user:carol");
    const pages = [first];
    for (let replica = b; pages.at(-1)!.length === 3; replica = replica === a ? b : a) {
      pages.push(await list(replica, snapshot, pages.at(-1)!.at(-1)));
    }
    expect(pages.flat().map((r) => r.objectId)).toEqual(ids);
  });

  test("a watch resumes on the other replica from the last change it saw", async () => {
    const fromHere = await touch(a, "document:watched#viewer@user:dave");
    const first = a.relationships.watch(
      WatchRequest.fromPartial({ optionalStartCursor: { token: fromHere } }),
    );
    const seen: WatchResponse[] = [];
    const gotOne = new Promise<void>((resolve) =>
      first.on("data", (m: WatchResponse) => {
        seen.push(m);
        resolve();
      }),
    );
    first.on("error", () => {});
    await touch(b, "document:watched#viewer@user:erin");
    await gotOne;
    first.cancel();
    const resumeAt = seen.at(-1)!.changesThrough!.token;
    await touch(a, "document:watched#viewer@user:frank");
    const second = b.relationships.watch(
      WatchRequest.fromPartial({ optionalStartCursor: { token: resumeAt } }),
    );
    const next = await new Promise<WatchResponse>((resolve, reject) => {
      second.once("data", resolve);
      second.once("error", reject);
    });
    second.cancel();
    second.on("error", () => {});
    expect(next.updates.map((u) => u.relationship?.subject?.object?.objectId)).toEqual(["frank"]);
  });

  test("one keeps serving, reads and writes, when the other is killed", async () => {
    const zookie = await touch(a, "document:survivor#viewer@user:gina");
    a.process.kill("SIGKILL");
    expect(await a.exited).toBe("SIGKILL");
    expect(await view(b, "document:survivor", "user:gina", zookie)).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
    const later = await touch(b, "document:survivor#viewer@user:hal");
    expect(await view(b, "document:survivor", "user:hal", later)).toBe(
      Permissionship.PERMISSIONSHIP_HAS_PERMISSION,
    );
    // The killed replica's calls fail; the survivor's do not depend on it.
    await expect(view(a, "document:survivor", "user:gina")).rejects.toMatchObject({
      code: expect.any(Number),
    } satisfies Partial<ServiceError>);
  });
});
