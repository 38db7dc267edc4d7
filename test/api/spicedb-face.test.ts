// SpiceDB's authzed.api.v1 on the Trellis port, called by SpiceDB's own Node client
// (@authzed/authzed-node): ZedTokens and consistency, caveats, lookups with cursors, reads with
// filters, writes with preconditions, deletes with limits, Expand, Watch, bulk import and
// export, SpiceDB's status codes, and callers authenticated by Trellis API keys.
import { v1 } from "@authzed/authzed-node";
import {
  type ClientReadableStream,
  credentials,
  Client as GrpcClient,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import {
  type ApiFixture,
  DEFAULT_TENANT,
  expectCode,
  obj,
  relationshipMessage,
  startApiFixture,
  subj,
  TEST_SCHEMA,
} from "./api-fixture.js";

type Client = v1.ZedPromiseClientInterface;

const ref = (text: string): v1.ObjectReference => obj(text);
const subject = (text: string): v1.SubjectReference => subj(text);

/** A tuple string as SpiceDB's message: trellis.v1's, with the caveat context as a Struct. */
function relationship(text: string): v1.Relationship {
  const { optionalCaveat, optionalExpiresAt: _, ...rest } = relationshipMessage(text);
  return v1.Relationship.create({
    ...rest,
    ...(optionalCaveat !== undefined
      ? {
          optionalCaveat: {
            caveatName: optionalCaveat.caveatName,
            context: v1.PbStruct.fromJson(optionalCaveat.context as never),
          },
        }
      : {}),
  });
}

const update = (operation: v1.RelationshipUpdate_Operation, text: string) =>
  v1.RelationshipUpdate.create({ operation, relationship: relationship(text) });

const FULLY: v1.Consistency = {
  requirement: { oneofKind: "fullyConsistent", fullyConsistent: true },
};

function client(address: string, token = "unused"): v1.ZedClientInterface {
  return v1.NewClient(token, address, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS);
}

async function write(c: Client, ...tuples: string[]): Promise<string> {
  const res = await c.writeRelationships(
    v1.WriteRelationshipsRequest.create({
      updates: tuples.map((t) => update(v1.RelationshipUpdate_Operation.TOUCH, t)),
    }),
  );
  return res.writtenAt!.token;
}

function check(
  c: Client,
  resource: string,
  permission: string,
  who: string,
  extra: Partial<v1.CheckPermissionRequest> = {},
) {
  return c.checkPermission(
    v1.CheckPermissionRequest.create({
      resource: ref(resource),
      permission,
      subject: subject(who),
      consistency: FULLY,
      ...extra,
    }),
  );
}

/** The first `n` messages of a stream, then cancels it. */
function firstMessages<T>(stream: ClientReadableStream<T>, n: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    stream.on("data", (m: T) => {
      got.push(m);
      if (got.length === n) {
        stream.cancel();
        resolve(got);
      }
    });
    stream.on("error", (err: { code?: number }) => {
      if (err.code !== status.CANCELLED) reject(err);
    });
  });
}

describe("SpiceDB's API on the Trellis port", () => {
  let api: ApiFixture;
  let zed: v1.ZedClientInterface;
  let c: Client;

  beforeAll(async () => {
    api = await startApiFixture({ schema: TEST_SCHEMA });
    zed = client(api.address);
    c = zed.promises;
  });
  afterAll(async () => {
    zed.close();
    await api.close();
  });

  test("a ZedToken from a write is a zookie that at_least_as_fresh and at_exact_snapshot honour", async () => {
    const before = await write(c, "document:z1#viewer@user:zoe");
    const after = await write(c, "document:z1#banned@user:zoe");
    const at = (token: string, kind: "atLeastAsFresh" | "atExactSnapshot") =>
      check(c, "document:z1", "view", "user:zoe", {
        consistency: { requirement: { oneofKind: kind, [kind]: { token } } } as v1.Consistency,
      });
    expect((await at(after, "atLeastAsFresh")).permissionship).toBe(
      v1.CheckPermissionResponse_Permissionship.NO_PERMISSION,
    );
    const exact = await at(before, "atExactSnapshot");
    expect(exact.permissionship).toBe(v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION);
    expect(exact.checkedAt?.token).toBe(before);
    await expectCode(at("not-a-token", "atLeastAsFresh"), status.INVALID_ARGUMENT);
  });

  test("a caveat without its context is CONDITIONAL, naming what is missing", async () => {
    await write(c, 'document:c1#viewer@user:carl[on_day:{"allowed":"mon"}]');
    const missing = await check(c, "document:c1", "view", "user:carl");
    expect(missing.permissionship).toBe(
      v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION,
    );
    expect(missing.partialCaveatInfo?.missingRequiredContext).toEqual(["day"]);
    const given = await check(c, "document:c1", "view", "user:carl", {
      context: v1.PbStruct.fromJson({ day: "mon" }),
    });
    expect(given.permissionship).toBe(v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION);
  });

  test("unknown definitions and relations are FAILED_PRECONDITION, malformed input INVALID_ARGUMENT", async () => {
    await expectCode(check(c, "nothing:x", "view", "user:a"), status.FAILED_PRECONDITION);
    await expectCode(check(c, "document:x", "nothing", "user:a"), status.FAILED_PRECONDITION);
    await expectCode(check(c, "document:x y", "view", "user:a"), status.INVALID_ARGUMENT);
  });

  test("a request that does not decode is INVALID_ARGUMENT, and the server goes on", async () => {
    const raw = new GrpcClient(api.address, credentials.createInsecure());
    try {
      const answer = await new Promise<ServiceError | null>((resolve) => {
        raw.makeUnaryRequest(
          "/authzed.api.v1.PermissionsService/CheckPermission",
          (b: Buffer) => b,
          (b: Buffer) => b,
          // A field tag with a wire type that does not exist.
          Buffer.from([0x0f, 0xff, 0xff, 0xff]),
          (err) => resolve(err),
        );
      });
      expect(answer?.code).toBe(status.INVALID_ARGUMENT);
    } finally {
      raw.close();
    }
    expect((await check(c, "document:c1", "view", "user:carl")).permissionship).toBeDefined();
  });

  test("CheckBulkPermissions answers each item, an item's failure in its own pair", async () => {
    await write(c, "document:b1#viewer@user:bea");
    const item = (resource: string, permission: string) => ({
      resource: ref(resource),
      permission,
      subject: subject("user:bea"),
    });
    const res = await c.checkBulkPermissions(
      v1.CheckBulkPermissionsRequest.create({
        consistency: FULLY,
        items: [item("document:b1", "view"), item("document:b1", "nothing")],
      }),
    );
    expect(res.pairs[0]!.response).toMatchObject({
      oneofKind: "item",
      item: { permissionship: v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION },
    });
    expect(res.pairs[1]!.response).toMatchObject({
      oneofKind: "error",
      error: { code: status.FAILED_PRECONDITION },
    });
  });

  test("LookupResources pages with optional_limit and after_result_cursor, conditional results marked", async () => {
    await write(
      c,
      "document:l1#viewer@user:lou",
      "document:l2#viewer@user:lou",
      'document:l3#viewer@user:lou[on_day:{"allowed":"mon"}]',
    );
    const lookup = (extra: Partial<v1.LookupResourcesRequest>) =>
      c.lookupResources(
        v1.LookupResourcesRequest.create({
          resourceObjectType: "document",
          permission: "view",
          subject: subject("user:lou"),
          consistency: FULLY,
          ...extra,
        }),
      );
    const first = await lookup({ optionalLimit: 2 });
    expect(first.map((r) => r.resourceObjectId)).toEqual(["l1", "l2"]);
    const rest = await lookup({ optionalCursor: first[1]!.afterResultCursor });
    expect(rest.map((r) => [r.resourceObjectId, r.permissionship])).toEqual([
      ["l3", v1.LookupPermissionship.CONDITIONAL_PERMISSION],
    ]);
    expect(rest[0]!.partialCaveatInfo?.missingRequiredContext).toEqual(["day"]);
  });

  test("LookupSubjects reports the wildcard with its exclusions, or leaves it out when asked", async () => {
    await write(
      c,
      "document:w1#viewer@user:*",
      "document:w1#viewer@user:wes",
      "document:w1#banned@user:bad",
    );
    const lookup = (wildcardOption: v1.LookupSubjectsRequest_WildcardOption) =>
      c.lookupSubjects(
        v1.LookupSubjectsRequest.create({
          resource: ref("document:w1"),
          permission: "view",
          subjectObjectType: "user",
          consistency: FULLY,
          wildcardOption,
        }),
      );
    const all = await lookup(v1.LookupSubjectsRequest_WildcardOption.UNSPECIFIED);
    const wildcard = all.find((s) => s.subject?.subjectObjectId === "*");
    expect(wildcard?.excludedSubjects.map((s) => s.subjectObjectId)).toEqual(["bad"]);
    expect(wildcard?.excludedSubjectIds).toEqual(["bad"]);
    expect(all.map((s) => s.subject?.subjectObjectId)).toContain("wes");
    const concrete = await lookup(v1.LookupSubjectsRequest_WildcardOption.EXCLUDE_WILDCARDS);
    expect(concrete.map((s) => s.subject?.subjectObjectId)).toEqual(["wes"]);
    await expectCode(
      c.lookupSubjects(
        v1.LookupSubjectsRequest.create({
          resource: ref("document:w1"),
          permission: "view",
          subjectObjectType: "user",
          optionalConcreteLimit: 1,
        }),
      ),
      status.UNIMPLEMENTED,
    );
  });

  test("ReadRelationships filters by type, id prefix, relation and subject, with limit and cursor", async () => {
    await write(
      c,
      "folder:r-1#viewer@user:ron",
      "folder:r-2#viewer@user:ron",
      "folder:r-3#viewer@group:eng#member",
      "folder:s-1#viewer@user:ron",
    );
    const read = (filter: Partial<v1.RelationshipFilter>, extra = {}) =>
      c.readRelationships(
        v1.ReadRelationshipsRequest.create({
          consistency: FULLY,
          relationshipFilter: { resourceType: "folder", ...filter },
          ...extra,
        }),
      );
    const ids = (rs: v1.ReadRelationshipsResponse[]) =>
      rs.map((r) => r.relationship!.resource!.objectId);
    expect(ids(await read({ optionalResourceIdPrefix: "r-" }))).toEqual(["r-1", "r-2", "r-3"]);
    const directOnly = await read({
      optionalResourceIdPrefix: "r-",
      optionalSubjectFilter: {
        subjectType: "user",
        optionalSubjectId: "",
        optionalRelation: { relation: "" },
      },
    });
    expect(ids(directOnly)).toEqual(["r-1", "r-2"]);
    const page = await read({ optionalRelation: "viewer" }, { optionalLimit: 2 });
    expect(ids(page)).toEqual(["r-1", "r-2"]);
    const rest = await read(
      { optionalRelation: "viewer" },
      { optionalCursor: page[1]!.afterResultCursor },
    );
    expect(ids(rest)).toEqual(["r-3", "s-1"]);
    await expectCode(read({ resourceType: "nothing" }), status.FAILED_PRECONDITION);
    await expectCode(read({ optionalRelation: "nothing" }), status.FAILED_PRECONDITION);
    await expectCode(read({ resourceType: "" }), status.INVALID_ARGUMENT);
    await expectCode(
      read({ optionalResourceId: "r-1", optionalResourceIdPrefix: "r-" }),
      status.INVALID_ARGUMENT,
    );
  });

  test("WriteRelationships: CREATE of an existing relationship is ALREADY_EXISTS, preconditions guard the write", async () => {
    const create = (text: string, preconditions: v1.Precondition[] = []) =>
      c.writeRelationships(
        v1.WriteRelationshipsRequest.create({
          updates: [update(v1.RelationshipUpdate_Operation.CREATE, text)],
          optionalPreconditions: preconditions,
        }),
      );
    await create("document:p1#owner@user:pia");
    await expectCode(create("document:p1#owner@user:pia"), status.ALREADY_EXISTS);
    const ownerOf = (id: string): v1.RelationshipFilter =>
      v1.RelationshipFilter.create({
        resourceType: "document",
        optionalResourceId: id,
        optionalRelation: "owner",
      });
    await expectCode(
      create("document:p2#owner@user:pia", [
        { operation: v1.Precondition_Operation.MUST_MATCH, filter: ownerOf("p2") },
      ]),
      status.FAILED_PRECONDITION,
    );
    await create("document:p2#owner@user:pia", [
      { operation: v1.Precondition_Operation.MUST_NOT_MATCH, filter: ownerOf("p2") },
      { operation: v1.Precondition_Operation.MUST_MATCH, filter: ownerOf("p1") },
    ]);
    await expectCode(create("document:p3#nothing@user:pia"), status.FAILED_PRECONDITION);
    const empty = await c.writeRelationships(v1.WriteRelationshipsRequest.create({ updates: [] }));
    expect(empty.writtenAt?.token).not.toBe("");
    await c.writeRelationships(
      v1.WriteRelationshipsRequest.create({
        updates: [update(v1.RelationshipUpdate_Operation.DELETE, "document:p2#owner@user:pia")],
      }),
    );
    expect((await check(c, "document:p2", "edit", "user:pia")).permissionship).toBe(
      v1.CheckPermissionResponse_Permissionship.NO_PERMISSION,
    );
  });

  test("DeleteRelationships refuses more than optional_limit unless partial deletions are allowed", async () => {
    await write(c, "group:d1#member@user:a1", "group:d1#member@user:a2", "group:d1#member@user:a3");
    const del = (extra: Partial<v1.DeleteRelationshipsRequest>) =>
      c.deleteRelationships(
        v1.DeleteRelationshipsRequest.create({
          relationshipFilter: { resourceType: "group", optionalResourceId: "d1" },
          ...extra,
        }),
      );
    await expectCode(del({ optionalLimit: 2 }), status.INVALID_ARGUMENT);
    const partial = await del({ optionalLimit: 2, optionalAllowPartialDeletions: true });
    expect(partial.deletionProgress).toBe(v1.DeleteRelationshipsResponse_DeletionProgress.PARTIAL);
    expect(partial.relationshipsDeletedCount).toBe("2");
    const rest = await del({});
    expect(rest.deletionProgress).toBe(v1.DeleteRelationshipsResponse_DeletionProgress.COMPLETE);
    expect(rest.relationshipsDeletedCount).toBe("1");
    await expectCode(
      c.deleteRelationships(
        v1.DeleteRelationshipsRequest.create({ relationshipFilter: { resourceType: "nothing" } }),
      ),
      status.FAILED_PRECONDITION,
    );
  });

  test("ExpandPermissionTree draws operations as intermediate nodes and relations as leaves", async () => {
    await write(c, "document:e1#viewer@group:eng#member", "document:e1#banned@user:eve");
    const res = await c.expandPermissionTree(
      v1.ExpandPermissionTreeRequest.create({
        resource: ref("document:e1"),
        permission: "view",
        consistency: FULLY,
      }),
    );
    const root = res.treeRoot!;
    expect(root.expandedRelation).toBe("view");
    expect(root.treeType.oneofKind).toBe("intermediate");
    if (root.treeType.oneofKind !== "intermediate") return;
    expect(root.treeType.intermediate.operation).toBe(v1.AlgebraicSubjectSet_Operation.EXCLUSION);
    const leaves: v1.PermissionRelationshipTree[] = [];
    const walk = (t: v1.PermissionRelationshipTree) => {
      if (t.treeType.oneofKind === "leaf") leaves.push(t);
      if (t.treeType.oneofKind === "intermediate") t.treeType.intermediate.children.forEach(walk);
    };
    walk(root);
    const banned = leaves.find((l) => l.expandedRelation === "banned");
    expect(banned?.treeType).toEqual({
      oneofKind: "leaf",
      leaf: { subjects: [subject("user:eve")] },
    });
    const viewers = leaves.find((l) => l.expandedRelation === "viewer");
    expect(viewers?.treeType).toEqual({
      oneofKind: "leaf",
      leaf: { subjects: [subject("group:eng#member")] },
    });
  });

  test("Watch streams the selected changes after optional_start_cursor, changes_through each write's token", async () => {
    const start = await write(c, "document:x0#viewer@user:wat");
    const stream = zed.watch(
      v1.WatchRequest.create({
        optionalStartCursor: { token: start },
        optionalObjectTypes: ["folder"],
      }),
    );
    const messages = firstMessages(stream, 1);
    await write(c, "document:x1#viewer@user:wat");
    const written = await write(c, "folder:x2#viewer@user:wat");
    const [message] = await messages;
    expect(message!.changesThrough?.token).toBe(written);
    expect(message!.updates).toEqual([
      {
        operation: v1.RelationshipUpdate_Operation.TOUCH,
        relationship: relationship("folder:x2#viewer@user:wat"),
      },
    ]);
  });

  test("bulk import loads each message atomically; bulk export resumes from its cursor", async () => {
    const imported = await new Promise<v1.ImportBulkRelationshipsResponse>((resolve, reject) => {
      const call = zed.importBulkRelationships((err, res) =>
        err === null ? resolve(res!) : reject(err),
      );
      call.write(
        v1.ImportBulkRelationshipsRequest.create({
          relationships: ["group:i1#member@user:ida", "group:i2#member@user:ida"].map(relationship),
        }),
      );
      call.end();
    });
    expect(imported.numLoaded).toBe("2");
    const exported = await c.exportBulkRelationships(
      v1.ExportBulkRelationshipsRequest.create({
        consistency: FULLY,
        optionalRelationshipFilter: { resourceType: "group", optionalResourceIdPrefix: "i" },
        optionalLimit: 1,
      }),
    );
    expect(exported.flatMap((m) => m.relationships)).toEqual([
      relationship("group:i1#member@user:ida"),
    ]);
    const rest = await c.exportBulkRelationships(
      v1.ExportBulkRelationshipsRequest.create({
        optionalRelationshipFilter: { resourceType: "group", optionalResourceIdPrefix: "i" },
        optionalCursor: exported.at(-1)!.afterResultCursor,
      }),
    );
    expect(rest.flatMap((m) => m.relationships)).toEqual([
      relationship("group:i2#member@user:ida"),
    ]);
    const again = new Promise((resolve, reject) => {
      const call = zed.bulkImportRelationships((err, res) =>
        err === null ? resolve(res) : reject(err),
      );
      call.write({ relationships: [relationship("group:i1#member@user:ida")] });
      call.end();
    });
    await expectCode(again, status.ALREADY_EXISTS);
  });

  test("ReadSchema returns the schema; a schema that would orphan relationships is INVALID_ARGUMENT", async () => {
    const read = await c.readSchema(v1.ReadSchemaRequest.create({}));
    expect(read.schemaText).toContain("definition document");
    await expectCode(
      c.writeSchema(v1.WriteSchemaRequest.create({ schema: "definition user {}" })),
      status.INVALID_ARGUMENT,
    );
  });

  test("methods Trellis does not offer answer UNIMPLEMENTED", async () => {
    await expectCode(c.reflectSchema(v1.ReflectSchemaRequest.create({})), status.UNIMPLEMENTED);
    await expectCode(
      c.experimentalCountRelationships(
        v1.ExperimentalCountRelationshipsRequest.create({ name: "x" }),
      ),
      status.UNIMPLEMENTED,
    );
  });
});

describe("SpiceDB's API with caller authentication", () => {
  let api: ApiFixture;

  async function key(scopes: string[]): Promise<string> {
    const minted = mintApiKey();
    await api.store.createApiKey({
      id: minted.id,
      tenant: DEFAULT_TENANT,
      secretHash: minted.secretHash,
      scopes,
      description: "",
      createdAt: new Date(),
    });
    return minted.token;
  }

  beforeAll(async () => {
    api = await startApiFixture({ schema: TEST_SCHEMA, auth: {} });
  });
  afterAll(() => api.close());

  test("a Trellis API key is the preshared key; none is UNAUTHENTICATED, a missing scope PERMISSION_DENIED", async () => {
    const checker = client(api.address, await key(["check"]));
    const writer = client(api.address, await key(["check", "write"]));
    const stranger = client(api.address, "");
    const forger = client(api.address, "trls_nothing_nothing");
    try {
      await write(writer.promises, "document:k1#viewer@user:kim");
      expect(
        (await check(checker.promises, "document:k1", "view", "user:kim")).permissionship,
      ).toBe(v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION);
      await expectCode(
        check(stranger.promises, "document:k1", "view", "user:kim"),
        status.UNAUTHENTICATED,
      );
      await expectCode(
        check(forger.promises, "document:k1", "view", "user:kim"),
        status.UNAUTHENTICATED,
      );
      await expectCode(
        write(checker.promises, "document:k2#viewer@user:kim"),
        status.PERMISSION_DENIED,
      );
      await expectCode(
        checker.promises.readSchema(v1.ReadSchemaRequest.create({})),
        status.PERMISSION_DENIED,
      );
    } finally {
      for (const c of [checker, writer, stranger, forger]) c.close();
    }
  });
});
