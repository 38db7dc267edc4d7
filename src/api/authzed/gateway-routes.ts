/**
 * SpiceDB's HTTP gateway routes (`POST /v1/permissions/check`, `/v1/relationships/write`, …),
 * read from the `google.api.http` annotations that the published `@authzed/authzed-node`
 * service descriptions carry, so the route table is SpiceDB's own contract rather than a copy
 * of it. Messages map to proto3 JSON as SpiceDB's gateway maps them: unknown request fields
 * ignored, every response field written (unset messages as `null`), enums by name, 64-bit
 * integers as strings.
 */
import { v1 } from "@authzed/authzed-node";
import type { JsonRoute } from "../http/json-route.js";

/** The JSON half of a protobuf-ts message type. */
interface JsonMessageType {
  fromJson(json: never, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(message: never, options?: { emitDefaultValues?: boolean }): unknown;
}

interface AnnotatedService {
  readonly typeName: string;
  readonly methods: readonly {
    readonly name: string;
    readonly I: JsonMessageType;
    readonly O: JsonMessageType;
    readonly options: { readonly [key: string]: unknown };
  }[];
}

const SERVICES: readonly AnnotatedService[] = [
  v1.PermissionsService,
  v1.SchemaService,
  v1.WatchService,
  v1.ExperimentalService,
];

/** The POST path of a method's `google.api.http` annotation, if it has one. */
function postPath(options: { readonly [key: string]: unknown }): string | undefined {
  const rule = options["google.api.http"];
  if (typeof rule !== "object" || rule === null) return undefined;
  const post = (rule as { post?: unknown }).post;
  return typeof post === "string" ? post : undefined;
}

/** Every annotated method of SpiceDB's v1 services, at its gateway path. */
export const SPICEDB_GATEWAY_ROUTES: readonly JsonRoute[] = SERVICES.flatMap((service) =>
  service.methods.flatMap((method): JsonRoute[] => {
    const httpPath = postPath(method.options);
    if (httpPath === undefined) return [];
    return [
      {
        httpPath,
        grpcPath: `/${service.typeName}/${method.name}`,
        errors: "gateway",
        decodeRequest: (json) => method.I.fromJson(json as never, { ignoreUnknownFields: true }),
        encodeResponse: (message) => method.O.toJson(message as never, { emitDefaultValues: true }),
      },
    ];
  }),
);
