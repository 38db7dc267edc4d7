// The wire contract without our generated code: a client built by @grpc/proto-loader from the
// .proto files in proto/, as any other language's client would be built from them.
import { join } from "node:path";
import {
  type Client,
  credentials,
  loadPackageDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";

const PROTO_ROOT = join(import.meta.dirname, "..", "..", "proto");

type Unary = (
  req: unknown,
  cb: (err: ServiceError | null, res: Record<string, unknown>) => void,
) => void;
type ServerStream = (req: unknown) => NodeJS.ReadableStream;
type Ctor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Client & Record<string, Unary & ServerStream>;

let api: ApiFixture;
let permissions: InstanceType<Ctor>;
let relationships: InstanceType<Ctor>;
let schema: InstanceType<Ctor>;

function call(
  client: InstanceType<Ctor>,
  method: string,
  req: unknown,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) =>
    (client[method] as Unary).call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function stream(
  client: InstanceType<Ctor>,
  method: string,
  req: unknown,
): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const out: Record<string, unknown>[] = [];
    const s = (client[method] as ServerStream).call(client, req);
    s.on("data", (m: Record<string, unknown>) => out.push(m));
    s.on("error", reject);
    s.on("end", () => resolve(out));
  });
}

beforeAll(async () => {
  api = await startApiFixture({ schema: null });
  const definition = loadSync(
    [
      "trellis/v1/permission_service.proto",
      "trellis/v1/relationship_service.proto",
      "trellis/v1/schema_service.proto",
    ],
    {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      enums: String,
      defaults: true,
      oneofs: true,
      longs: Number,
    },
  );
  const pkg = loadPackageDefinition(definition) as unknown as {
    trellis: { v1: Record<string, Ctor> };
  };
  const creds = credentials.createInsecure();
  permissions = new pkg.trellis.v1.PermissionService!(api.address, creds);
  relationships = new pkg.trellis.v1.RelationshipService!(api.address, creds);
  schema = new pkg.trellis.v1.SchemaService!(api.address, creds);
});

afterAll(async () => {
  for (const c of [permissions, relationships, schema]) c.close();
  await api.close();
});

describe("the wire contract, from the .proto files alone", () => {
  test("schema, write, check, read and list objects round-trip", async () => {
    const written = await call(schema, "WriteSchema", {
      schema:
        "definition user {}\ndefinition doc {\n\trelation viewer: user\n\tpermission view = viewer\n}\n",
    });
    expect((written.written_at as { token: string }).token).toMatch(/^z1\./);

    const write = await call(relationships, "Write", {
      updates: [
        {
          operation: "OPERATION_TOUCH",
          relationship: {
            resource: { object_type: "doc", object_id: "readme" },
            relation: "viewer",
            subject: { object: { object_type: "user", object_id: "ann" } },
          },
        },
      ],
    });
    const zookie = write.written_at as { token: string };

    const check = await call(permissions, "Check", {
      consistency: { at_least_as_fresh: zookie },
      resource: { object_type: "doc", object_id: "readme" },
      permission: "view",
      subject: { object: { object_type: "user", object_id: "ann" } },
    });
    expect(check.permissionship).toBe("PERMISSIONSHIP_HAS_PERMISSION");
    expect((check.checked_at as { token: string }).token).toBeTruthy();

    const read = await stream(relationships, "Read", {
      consistency: { fully_consistent: true },
      filter: { resource_type: "doc" },
    });
    expect(read).toHaveLength(1);
    const r = read[0]!.relationship as {
      resource: { object_id: string };
      subject: { object: { object_id: string } };
    };
    expect([r.resource.object_id, r.subject.object.object_id]).toEqual(["readme", "ann"]);
    expect((read[0]!.after_result_cursor as { token: string }).token).toBeTruthy();

    const listed = await stream(permissions, "ListObjects", {
      consistency: { fully_consistent: true },
      resource_type: "doc",
      permission: "view",
      subject: { object: { object_type: "user", object_id: "ann" } },
    });
    expect(listed.map((m) => m.object_id)).toEqual(["readme"]);
  });

  test("errors carry the documented status codes", async () => {
    await expect(
      call(permissions, "Check", {
        resource: { object_type: "doc", object_id: "bad id" },
        permission: "view",
        subject: { object: { object_type: "user", object_id: "ann" } },
      }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(
      call(permissions, "Check", {
        resource: { object_type: "ghost", object_id: "x" },
        permission: "view",
        subject: { object: { object_type: "user", object_id: "ann" } },
      }),
    ).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
  });
});
