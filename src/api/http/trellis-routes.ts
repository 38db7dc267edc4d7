/**
 * Every trellis.v1 RPC over HTTP, at its gRPC path (`POST /trellis.v1.PermissionService/Check`),
 * its messages in proto3 JSON through the generated `fromJSON`/`toJSON` (field names in
 * lowerCamelCase or as in the .proto, enums by name or number). The tables are typed against
 * the generated service definitions: an RPC added to a .proto does not compile until its
 * messages are listed here, and a wrong message type does not compile either.
 */
import {
  AdminServiceService,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  CreateTenantRequest,
  CreateTenantResponse,
  ListApiKeysRequest,
  ListApiKeysResponse,
  ListTenantsRequest,
  ListTenantsResponse,
  RevokeApiKeyRequest,
  RevokeApiKeyResponse,
} from "../../gen/trellis/v1/admin_service.js";
import {
  CheckBulkRequest,
  CheckBulkResponse,
  CheckRequest,
  CheckResponse,
  ExpandRequest,
  ExpandResponse,
  ListObjectsRequest,
  ListObjectsResponse,
  ListSubjectsRequest,
  ListSubjectsResponse,
  PermissionServiceService,
} from "../../gen/trellis/v1/permission_service.js";
import {
  DeleteRequest,
  DeleteResponse,
  ExportRequest,
  ExportResponse,
  ImportRequest,
  ImportResponse,
  ReadRequest,
  ReadResponse,
  RelationshipServiceService,
  WatchRequest,
  WatchResponse,
  WriteRequest,
  WriteResponse,
} from "../../gen/trellis/v1/relationship_service.js";
import {
  DiffSchemaRequest,
  DiffSchemaResponse,
  ReadSchemaRequest,
  ReadSchemaResponse,
  SchemaServiceService,
  ValidateSchemaRequest,
  ValidateSchemaResponse,
  WriteSchemaRequest,
  WriteSchemaResponse,
} from "../../gen/trellis/v1/schema_service.js";
import type { JsonRoute } from "./json-route.js";

/** The JSON half of a ts-proto message's functions. */
interface JsonCodec<T> {
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

interface MethodShape {
  readonly path: string;
  requestDeserialize(bytes: Buffer): unknown;
  responseDeserialize(bytes: Buffer): unknown;
}

/** For each method of a generated service definition: its request and response codecs. */
type Codecs<S extends Record<string, MethodShape>> = {
  readonly [K in keyof S]: readonly [
    JsonCodec<ReturnType<S[K]["requestDeserialize"]>>,
    JsonCodec<ReturnType<S[K]["responseDeserialize"]>>,
  ];
};

const PERMISSION_SERVICE = {
  check: [CheckRequest, CheckResponse],
  checkBulk: [CheckBulkRequest, CheckBulkResponse],
  expand: [ExpandRequest, ExpandResponse],
  listObjects: [ListObjectsRequest, ListObjectsResponse],
  listSubjects: [ListSubjectsRequest, ListSubjectsResponse],
} as const satisfies Codecs<typeof PermissionServiceService>;

const RELATIONSHIP_SERVICE = {
  write: [WriteRequest, WriteResponse],
  delete: [DeleteRequest, DeleteResponse],
  read: [ReadRequest, ReadResponse],
  import: [ImportRequest, ImportResponse],
  export: [ExportRequest, ExportResponse],
  watch: [WatchRequest, WatchResponse],
} as const satisfies Codecs<typeof RelationshipServiceService>;

const SCHEMA_SERVICE = {
  writeSchema: [WriteSchemaRequest, WriteSchemaResponse],
  readSchema: [ReadSchemaRequest, ReadSchemaResponse],
  validateSchema: [ValidateSchemaRequest, ValidateSchemaResponse],
  diffSchema: [DiffSchemaRequest, DiffSchemaResponse],
} as const satisfies Codecs<typeof SchemaServiceService>;

const ADMIN_SERVICE = {
  createApiKey: [CreateApiKeyRequest, CreateApiKeyResponse],
  listApiKeys: [ListApiKeysRequest, ListApiKeysResponse],
  revokeApiKey: [RevokeApiKeyRequest, RevokeApiKeyResponse],
  createTenant: [CreateTenantRequest, CreateTenantResponse],
  listTenants: [ListTenantsRequest, ListTenantsResponse],
} as const satisfies Codecs<typeof AdminServiceService>;

function routesOf<S extends Record<string, MethodShape>>(
  service: S,
  codecs: Codecs<S>,
): JsonRoute[] {
  return Object.entries(service).map(([name, method]): JsonRoute => {
    const [request, response] = codecs[name as keyof S] as readonly [
      JsonCodec<unknown>,
      JsonCodec<unknown>,
    ];
    return {
      httpPath: method.path,
      grpcPath: method.path,
      errors: "trellis",
      decodeRequest: (json) => request.fromJSON(json),
      encodeResponse: (message) => response.toJSON(message),
    };
  });
}

/** The HTTP routes of every trellis.v1 RPC. */
export const TRELLIS_JSON_ROUTES: readonly JsonRoute[] = [
  ...routesOf(PermissionServiceService, PERMISSION_SERVICE),
  ...routesOf(RelationshipServiceService, RELATIONSHIP_SERVICE),
  ...routesOf(SchemaServiceService, SCHEMA_SERVICE),
  ...routesOf(AdminServiceService, ADMIN_SERVICE),
];
