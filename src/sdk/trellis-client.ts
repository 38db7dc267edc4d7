/**
 * `TrellisClient`: the gRPC client of a Trellis server, with the same methods and shapes as
 * the embedded `Trellis`. Calls carry a deadline and the caller's token; calls that failed with
 * UNAVAILABLE are retried with backoff when repeating them is safe; streamed answers are async
 * iterators that cancel their call when the consumer stops early.
 */
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ChannelCredentials,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  credentials,
  type CallOptions as GrpcCallOptions,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { invalidArgument, TrellisError } from "../core/errors.js";
import type { Relationship } from "../core/relationship.js";
import type { Zookie } from "../core/revision.js";
import { AdminServiceClient, type ApiKey as PbApiKey } from "../gen/trellis/v1/admin_service.js";
import {
  type CheckBulkRequestItem,
  PermissionServiceClient,
} from "../gen/trellis/v1/permission_service.js";
import {
  type ImportRequest,
  type ImportResponse,
  RelationshipServiceClient,
} from "../gen/trellis/v1/relationship_service.js";
import { SchemaServiceClient } from "../gen/trellis/v1/schema_service.js";
import {
  answerFromResponse,
  changeFromResponse,
  committedAtFromResponse,
  consistencyToWire,
  expandTreeFromResponse,
  filterToWire,
  mutationToWire,
  objectRefToWire,
  preconditionToWire,
  relationshipFromResponse,
  relationshipToWire,
  schemaDiffFromResponse,
  schemaErrorFromResponse,
  subjectRefToWire,
  traceFromResponse,
  zookieFromResponse,
} from "../wire/trellis-v1.js";
import type { ApiKeyInfo, CreateApiKeyInput, CreatedApiKey } from "./admin-api.js";
import {
  type CallOptions,
  checkDeadlineMs,
  isLoopbackAddress,
  type ResolvedClientOptions,
  resolveClientOptions,
  type TrellisClientOptions,
} from "./client-options.js";
import { errorFromGrpc, trellisCodeOf } from "./grpc-status.js";
import {
  allowedObjects,
  allowedSubjects,
  checkItemOf,
  consistencyOf,
  contextOf,
  filterOf,
  formatListedSubject,
  memberNameOf,
  mutationsOf,
  objectRefOf,
  type ParsedCheckItem,
  positiveIntegerOf,
  preconditionsOf,
  relationshipOf,
  subjectRefOf,
  subjectTypeOf,
  typeNameOf,
} from "./request-inputs.js";
import { backoffDelayMs, isRetryable } from "./retry-policy.js";
import { readStream } from "./stream-reader.js";
import type {
  CheckBulkItemInput,
  CheckBulkResponse,
  CheckBulkResult,
  CheckOptions,
  CheckResult,
  ConsistencyOptions,
  DeleteOptions,
  DeleteResult,
  ExpandResult,
  ExportBatch,
  ImportResult,
  ListedObject,
  ListedSubject,
  ListOptions,
  ObjectInput,
  ReadOptions,
  ReadSchemaResult,
  RelationshipFilter,
  RelationshipInput,
  SchemaDiffResult,
  SchemaValidation,
  SubjectInput,
  TrellisApi,
  WatchEvent,
  WatchOptions,
  WriteItem,
  WriteOptions,
  WriteResult,
} from "./trellis-api.js";

/** Metadata keys the server reads. */
const AUTHORIZATION_HEADER = "authorization";
const TENANT_HEADER = "trellis-tenant";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

type StreamMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
) => ClientReadableStream<Res>;

function cancelled(signal: AbortSignal): TrellisError {
  return new TrellisError("CANCELLED", "the call was cancelled", { cause: signal.reason });
}

function apiKeyFromWire(key: PbApiKey | undefined): ApiKeyInfo {
  if (key === undefined || key.createdAt === undefined) {
    throw new TrellisError("INTERNAL", "the server sent an API key without its fields");
  }
  return {
    id: key.keyId,
    tenant: key.tenant,
    scopes: key.scopes,
    description: key.description,
    createdAt: key.createdAt,
    ...(key.optionalExpiresAt !== undefined ? { expiresAt: key.optionalExpiresAt } : {}),
    ...(key.optionalRevokedAt !== undefined ? { revokedAt: key.optionalRevokedAt } : {}),
  };
}

function grpcCallOptions(deadline: number): Partial<GrpcCallOptions> {
  return deadline === Number.POSITIVE_INFINITY ? {} : { deadline };
}

function pem(value: string | Uint8Array | undefined): Buffer | null {
  return value === undefined ? null : Buffer.from(value);
}

function channelCredentials(options: ResolvedClientOptions): ChannelCredentials {
  if (options.tls === false) return credentials.createInsecure();
  return credentials.createSsl(pem(options.tls.ca), pem(options.tls.key), pem(options.tls.cert));
}

export class TrellisClient implements TrellisApi {
  readonly #options: ResolvedClientOptions;
  readonly #permissions: PermissionServiceClient;
  readonly #relationships: RelationshipServiceClient;
  readonly #schema: SchemaServiceClient;
  readonly #admin: AdminServiceClient;
  /** Calls in flight, cancelled by `close`. */
  readonly #active = new Set<{ cancel(): void }>();
  #lastZookie: Zookie | undefined;
  #closed = false;

  /** Connects lazily: the first call opens the connection. Throws TypeError for bad options. */
  constructor(options: TrellisClientOptions) {
    this.#options = resolveClientOptions(options);
    const { address, token, tls } = this.#options;
    if (token !== undefined && tls === false && !isLoopbackAddress(address)) {
      process.emitWarning(
        `TrellisClient sends its token in clear text to ${address} (tls: false)`,
        { code: "TRELLIS_PLAINTEXT_TOKEN" },
      );
    }
    const creds = channelCredentials(this.#options);
    this.#permissions = new PermissionServiceClient(address, creds, {
      "grpc.primary_user_agent": "trellis-client",
    });
    // One connection for the three services.
    const channelOverride = this.#permissions.getChannel();
    this.#relationships = new RelationshipServiceClient(address, creds, { channelOverride });
    this.#schema = new SchemaServiceClient(address, creds, { channelOverride });
    this.#admin = new AdminServiceClient(address, creds, { channelOverride });
  }

  get lastZookie(): Zookie | undefined {
    return this.#lastZookie;
  }

  // ---- schema ---------------------------------------------------------------------------

  async writeSchema(schema: string, options: CallOptions = {}): Promise<WriteResult> {
    if (typeof schema !== "string") throw new TypeError("schema must be a string");
    const res = await this.#unary(
      "SchemaService/WriteSchema",
      this.#schema.writeSchema.bind(this.#schema),
      { schema },
      options,
    );
    return this.#wrote(zookieFromResponse(res.writtenAt, "WriteSchema"));
  }

  async readSchema(options: ConsistencyOptions & CallOptions = {}): Promise<ReadSchemaResult> {
    const res = await this.#unary(
      "SchemaService/ReadSchema",
      this.#schema.readSchema.bind(this.#schema),
      { consistency: consistencyToWire(consistencyOf(options.consistency)) },
      options,
    );
    return { schema: res.schemaText, zookie: zookieFromResponse(res.readAt, "ReadSchema") };
  }

  async validateSchema(schema: string, options: CallOptions = {}): Promise<SchemaValidation> {
    if (typeof schema !== "string") throw new TypeError("schema must be a string");
    const res = await this.#unary(
      "SchemaService/ValidateSchema",
      this.#schema.validateSchema.bind(this.#schema),
      { schema },
      options,
    );
    const problems = res.errors.map(schemaErrorFromResponse);
    return problems.length === 0 ? { problems, formatted: res.formattedSchema } : { problems };
  }

  async diffSchema(schema: string, options: CallOptions = {}): Promise<SchemaDiffResult> {
    if (typeof schema !== "string") throw new TypeError("schema must be a string");
    const res = await this.#unary(
      "SchemaService/DiffSchema",
      this.#schema.diffSchema.bind(this.#schema),
      { schema },
      options,
    );
    return {
      differences: res.diffs.map(schemaDiffFromResponse),
      problems: res.errors.map(schemaErrorFromResponse),
    };
  }

  // ---- relationships --------------------------------------------------------------------

  /**
   * Retried on UNAVAILABLE only when repeating the write cannot change its outcome: TOUCH and
   * DELETE items without preconditions. (A CREATE, or a precondition, that the lost first try
   * already satisfied would fail the second.)
   */
  async writeRelationships(
    items: readonly WriteItem[],
    options: WriteOptions & CallOptions = {},
  ): Promise<WriteResult> {
    const mutations = mutationsOf(items);
    const preconditions = preconditionsOf(options.preconditions);
    const res = await this.#unary(
      "RelationshipService/Write",
      this.#relationships.write.bind(this.#relationships),
      {
        updates: mutations.map(mutationToWire),
        preconditions: preconditions.map(preconditionToWire),
      },
      options,
      preconditions.length === 0 && mutations.every((m) => m.op !== "CREATE"),
    );
    return this.#wrote(zookieFromResponse(res.writtenAt, "Write"));
  }

  /** Retried on UNAVAILABLE only without `limit` (a retry would delete the next batch). */
  async deleteRelationships(
    filter: RelationshipFilter,
    options: DeleteOptions & CallOptions = {},
  ): Promise<DeleteResult> {
    const checked = filterOf(filter);
    const limit = positiveIntegerOf(options.limit, "limit");
    const preconditions = preconditionsOf(options.preconditions);
    const res = await this.#unary(
      "RelationshipService/Delete",
      this.#relationships.delete.bind(this.#relationships),
      {
        filter: filterToWire(checked),
        preconditions: preconditions.map(preconditionToWire),
        optionalLimit: limit ?? 0,
        allowPartialDeletions: options.allowPartial === true,
      },
      options,
      // Retried only when a lost first try cannot make the retry fail: without a limit and
      // without preconditions (which the first try's deletion could have changed).
      limit === undefined && preconditions.length === 0,
    );
    return {
      zookie: this.#wrote(zookieFromResponse(res.deletedAt, "Delete")).zookie,
      deleted: res.deletedCount,
      partial: res.partial,
    };
  }

  async *readRelationships(
    filter: RelationshipFilter,
    options: ReadOptions & CallOptions = {},
  ): AsyncGenerator<Relationship, void, undefined> {
    const checked = filterOf(filter);
    const limit = positiveIntegerOf(options.limit, "limit");
    const stream = this.#stream(
      "RelationshipService/Read",
      this.#relationships.read.bind(this.#relationships),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        filter: filterToWire(checked),
        optionalLimit: limit ?? 0,
        optionalCursor: undefined,
      },
      options,
    );
    for await (const message of stream) yield relationshipFromResponse(message.relationship);
  }

  // ---- permission queries ---------------------------------------------------------------

  async check(
    resource: ObjectInput,
    permission: string,
    subject: SubjectInput,
    options: CheckOptions & CallOptions = {},
  ): Promise<CheckResult> {
    const res = await this.#unary(
      "PermissionService/Check",
      this.#permissions.check.bind(this.#permissions),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        resource: objectRefToWire(objectRefOf(resource)),
        permission: memberNameOf(permission),
        subject: subjectRefToWire(subjectRefOf(subject)),
        context: contextOf(options.context),
        withTracing: options.trace === true,
      },
      options,
    );
    return {
      ...answerFromResponse(res.permissionship, res.partialCaveatInfo),
      zookie: zookieFromResponse(res.checkedAt, "Check"),
      ...(res.debugTrace !== undefined ? { trace: traceFromResponse(res.debugTrace) } : {}),
    };
  }

  async checkBulk(
    items: readonly CheckBulkItemInput[],
    options: ConsistencyOptions & CallOptions = {},
  ): Promise<CheckBulkResponse> {
    if (!Array.isArray(items)) throw new TypeError("items must be an array");
    // Malformed items are answered here, as the server would; the others are sent.
    const parsed = items.map((item, i) => checkItemOf(item, `items[${i}]`));
    const sent = parsed.filter((p): p is ParsedCheckItem => !(p instanceof TrellisError));
    const res = await this.#unary(
      "PermissionService/CheckBulk",
      this.#permissions.checkBulk.bind(this.#permissions),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        items: sent.map(
          (item): CheckBulkRequestItem => ({
            resource: objectRefToWire(item.resource),
            permission: item.permission,
            subject: subjectRefToWire(item.subject),
            context: item.context,
          }),
        ),
      },
      options,
    );
    if (res.pairs.length !== sent.length) {
      throw new TrellisError(
        "INTERNAL",
        `the server answered ${res.pairs.length} of ${sent.length} checks`,
      );
    }
    let next = 0;
    const results = parsed.map((p): CheckBulkResult => {
      if (p instanceof TrellisError) return { error: p };
      const response = res.pairs[next++]!.response;
      if (response?.$case === "item") {
        return answerFromResponse(response.item.permissionship, response.item.partialCaveatInfo);
      }
      if (response?.$case === "error") {
        return {
          error: new TrellisError(trellisCodeOf(response.error.code), response.error.message),
        };
      }
      throw new TrellisError("INTERNAL", "the server sent a CheckBulk pair without an answer");
    });
    return { results, zookie: zookieFromResponse(res.checkedAt, "CheckBulk") };
  }

  async expand(
    resource: ObjectInput,
    permission: string,
    options: ConsistencyOptions & CallOptions = {},
  ): Promise<ExpandResult> {
    const res = await this.#unary(
      "PermissionService/Expand",
      this.#permissions.expand.bind(this.#permissions),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        resource: objectRefToWire(objectRefOf(resource)),
        permission: memberNameOf(permission),
      },
      options,
    );
    return {
      tree: expandTreeFromResponse(res.tree),
      zookie: zookieFromResponse(res.expandedAt, "Expand"),
    };
  }

  async *listObjects(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options: ListOptions & CallOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    yield* allowedObjects(this.listObjectsDetailed(resourceType, permission, subject, options));
  }

  async *listObjectsDetailed(
    resourceType: string,
    permission: string,
    subject: SubjectInput,
    options: ListOptions & CallOptions = {},
  ): AsyncGenerator<ListedObject, void, undefined> {
    const type = typeNameOf(resourceType, "resourceType");
    const stream = this.#stream(
      "PermissionService/ListObjects",
      this.#permissions.listObjects.bind(this.#permissions),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        resourceType: type,
        permission: memberNameOf(permission),
        subject: subjectRefToWire(subjectRefOf(subject)),
        context: contextOf(options.context),
        optionalLimit: 0,
        optionalCursor: undefined,
      },
      options,
    );
    for await (const message of stream) {
      yield {
        object: `${type}:${message.objectId}`,
        ...answerFromResponse(message.permissionship, message.partialCaveatInfo),
      };
    }
  }

  async *listSubjects(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options: ListOptions & CallOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    yield* allowedSubjects(this.listSubjectsDetailed(resource, permission, subjectType, options));
  }

  async *listSubjectsDetailed(
    resource: ObjectInput,
    permission: string,
    subjectType: string,
    options: ListOptions & CallOptions = {},
  ): AsyncGenerator<ListedSubject, void, undefined> {
    const wanted = subjectTypeOf(subjectType);
    const stream = this.#stream(
      "PermissionService/ListSubjects",
      this.#permissions.listSubjects.bind(this.#permissions),
      {
        consistency: consistencyToWire(consistencyOf(options.consistency)),
        resource: objectRefToWire(objectRefOf(resource)),
        permission: memberNameOf(permission),
        subjectObjectType: wanted.type,
        optionalSubjectRelation: wanted.relation ?? "",
        context: contextOf(options.context),
      },
      options,
    );
    for await (const message of stream) {
      yield {
        subject: formatListedSubject(wanted.type, message.subjectObjectId, wanted.relation),
        ...answerFromResponse(message.permissionship, message.partialCaveatInfo),
        excluded: message.excludedSubjectIds.map((id) =>
          formatListedSubject(wanted.type, id, wanted.relation),
        ),
      };
    }
  }

  // ---- bulk transfers -------------------------------------------------------------------

  /**
   * Creates relationships in bulk (CREATE: one that exists fails the batch it is in). Each
   * batch is one message and one atomic write on the server (at most its `--max-import-batch`,
   * 10 000 by default); batches before a failing one stay written. `onBatch` is told after each
   * batch is sent. Never retried: a lost stream may have written part of it.
   */
  async importRelationships(
    batches: Iterable<readonly RelationshipInput[]> | AsyncIterable<readonly RelationshipInput[]>,
    options: CallOptions & { readonly onBatch?: (sent: number) => void } = {},
  ): Promise<ImportResult> {
    this.#checkOpen();
    const { signal } = options;
    if (signal?.aborted) throw cancelled(signal);
    let call: ClientWritableStream<ImportRequest> | undefined;
    const finished = new Promise<ImportResponse>((resolve, reject) => {
      call = this.#relationships.import(
        this.#metadata(),
        grpcCallOptions(this.#deadline(options)),
        (error, response) => (error === null ? resolve(response) : reject(errorFromGrpc(error))),
      );
    });
    const stream = call!;
    this.#active.add(stream);
    const onAbort = () => stream.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    // A failure the server reports while batches are still being sent ends the sending.
    let failed = false;
    finished.catch(() => {
      failed = true;
    });
    try {
      let index = 0;
      for await (const batch of batches) {
        if (failed) break;
        if (!Array.isArray(batch)) throw new TypeError("each import batch must be an array");
        const relationships = batch.map((r, i) =>
          relationshipToWire(relationshipOf(r, `batches[${index}][${i}]`)),
        );
        index++;
        if (!stream.write({ relationships })) {
          // Backpressure: wait until the batch is sent, or the call has ended.
          const settled = finished.then(
            () => undefined,
            () => undefined,
          );
          await Promise.race([once(stream, "drain").catch(() => undefined), settled]);
        }
        options.onBatch?.(relationships.length);
      }
      stream.end();
      const res = await finished;
      const zookie = zookieFromResponse(res.importedAt, "Import");
      this.#lastZookie = zookie;
      return { zookie, imported: Number(res.importedCount) };
    } catch (err) {
      if (signal?.aborted) throw cancelled(signal);
      stream.cancel();
      // The server's reason, when it gave one, says more than the local symptom.
      throw await finished.then(
        () => err,
        (serverError: unknown) => serverError,
      );
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#active.delete(stream);
    }
  }

  /**
   * Every relationship at one snapshot, in batches, in a stable order; the schema read with
   * `{ atExactSnapshot: batch.zookie }` belongs with them. Give it a `deadlineMs` fitting the
   * data (the client's default applies otherwise).
   */
  async *exportRelationships(
    options: ConsistencyOptions & CallOptions = {},
  ): AsyncGenerator<ExportBatch, void, undefined> {
    const stream = this.#stream(
      "RelationshipService/Export",
      this.#relationships.export.bind(this.#relationships),
      { consistency: consistencyToWire(consistencyOf(options.consistency)) },
      options,
    );
    for await (const message of stream) {
      yield {
        zookie: zookieFromResponse(message.exportedAt, "Export"),
        relationships: message.relationships.map(relationshipFromResponse),
      };
    }
  }

  // ---- administration (AdminService; the `admin` scope) ----------------------------------

  /** Creates an API key; its token is in the answer, and nowhere ever again. Not retried. */
  async createApiKey(input: CreateApiKeyInput, options: CallOptions = {}): Promise<CreatedApiKey> {
    if (input === null || typeof input !== "object" || !Array.isArray(input.scopes)) {
      throw new TypeError("createApiKey needs { scopes, tenant?, description?, expiresAt? }");
    }
    const res = await this.#unary(
      "AdminService/CreateApiKey",
      this.#admin.createApiKey.bind(this.#admin),
      {
        tenant: input.tenant ?? "",
        scopes: [...input.scopes],
        description: input.description ?? "",
        optionalExpiresAt: input.expiresAt,
      },
      options,
      false,
    );
    return { key: apiKeyFromWire(res.key), token: res.token };
  }

  /** The keys of a tenant (default: the caller's), newest first, without secrets. */
  async listApiKeys(
    input: { readonly tenant?: string } = {},
    options: CallOptions = {},
  ): Promise<ApiKeyInfo[]> {
    const res = await this.#unary(
      "AdminService/ListApiKeys",
      this.#admin.listApiKeys.bind(this.#admin),
      { tenant: input.tenant ?? "" },
      options,
    );
    return res.keys.map(apiKeyFromWire);
  }

  /** Revokes a key by id; NOT_FOUND when there is none. */
  async revokeApiKey(id: string, options: CallOptions = {}): Promise<ApiKeyInfo> {
    if (typeof id !== "string") throw new TypeError("the key id must be a string");
    const res = await this.#unary(
      "AdminService/RevokeApiKey",
      this.#admin.revokeApiKey.bind(this.#admin),
      { keyId: id },
      options,
    );
    return apiKeyFromWire(res.key);
  }

  /** Creates an empty tenant (an operator credential); ALREADY_EXISTS when it exists. */
  async createTenant(tenant: string, options: CallOptions = {}): Promise<string> {
    if (typeof tenant !== "string") throw new TypeError("the tenant must be a string");
    const res = await this.#unary(
      "AdminService/CreateTenant",
      this.#admin.createTenant.bind(this.#admin),
      { tenant },
      options,
      false,
    );
    return res.tenant;
  }

  /** Every tenant id, sorted (an operator credential). */
  async listTenants(options: CallOptions = {}): Promise<string[]> {
    const res = await this.#unary(
      "AdminService/ListTenants",
      this.#admin.listTenants.bind(this.#admin),
      {},
      options,
    );
    return res.tenants;
  }

  // ---- changes --------------------------------------------------------------------------

  /**
   * The changes after `after`, one event per write. Runs until the consumer stops, `signal`
   * aborts, `deadlineMs` (none by default) passes, or the server ends it (UNAVAILABLE when it
   * shuts down: resume with the last event's zookie).
   */
  async *watch(
    options: WatchOptions & CallOptions = {},
  ): AsyncGenerator<WatchEvent, void, undefined> {
    if (
      options.after !== undefined &&
      (typeof options.after !== "string" || options.after === "")
    ) {
      throw invalidArgument("after must be a zookie", "after");
    }
    const stream = this.#stream(
      "RelationshipService/Watch",
      this.#relationships.watch.bind(this.#relationships),
      {
        optionalStartCursor: options.after === undefined ? undefined : { token: options.after },
      },
      { ...options, deadlineMs: options.deadlineMs ?? Number.POSITIVE_INFINITY },
    );
    for await (const message of stream) {
      yield {
        zookie: zookieFromResponse(message.changesThrough, "Watch"),
        changes: message.updates.map(changeFromResponse),
        schemaChanged: message.schemaChanged,
        committedAt: committedAtFromResponse(message.committedAt),
      };
    }
  }

  /**
   * Cancels the calls in flight (they fail with CANCELLED, open streams included) and closes
   * the connection; later calls fail with UNAVAILABLE. Closing twice is a no-op.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // grpc-js lets open calls run on after a close; a forgotten Watch would then keep the
    // process alive.
    for (const call of this.#active) call.cancel();
    this.#active.clear();
    this.#relationships.close();
    this.#schema.close();
    this.#admin.close();
    this.#permissions.close();
  }

  // ---- calls ----------------------------------------------------------------------------

  #wrote(zookie: Zookie): WriteResult {
    this.#lastZookie = zookie;
    return { zookie };
  }

  #metadata(): Metadata {
    const metadata = new Metadata();
    if (this.#options.token !== undefined) {
      metadata.set(AUTHORIZATION_HEADER, `Bearer ${this.#options.token}`);
    }
    if (this.#options.tenant !== undefined) metadata.set(TENANT_HEADER, this.#options.tenant);
    return metadata;
  }

  /** The absolute deadline (epoch ms) of a call made now; `Infinity` for none. */
  #deadline(options: CallOptions): number {
    const ms =
      options.deadlineMs === undefined
        ? this.#options.deadlineMs
        : checkDeadlineMs(options.deadlineMs, "deadlineMs");
    return Date.now() + ms;
  }

  #checkOpen(): void {
    if (this.#closed) throw new TrellisError("UNAVAILABLE", "the client is closed");
  }

  /**
   * Throws `error` unless the call may be tried again: a retryable code, retries left, the
   * wait fits before the deadline. Otherwise tells `onRetry` and waits.
   */
  async #beforeRetry(
    method: string,
    error: TrellisError,
    retry: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const policy = this.#options.retries;
    if (!isRetryable(error) || retry > policy.maxRetries || this.#closed) throw error;
    const delayMs = backoffDelayMs(retry, policy);
    // The last UNAVAILABLE says more than a DEADLINE_EXCEEDED of a wait that cannot succeed.
    if (Date.now() + delayMs >= deadline) throw error;
    this.#options.onRetry?.({ method, retry, delayMs, error });
    try {
      await sleep(delayMs, undefined, signal === undefined ? {} : { signal });
    } catch {
      throw cancelled(signal!);
    }
  }

  async #unary<Req, Res>(
    method: string,
    fn: UnaryMethod<Req, Res>,
    request: Req,
    options: CallOptions,
    retryable = true,
  ): Promise<Res> {
    const deadline = this.#deadline(options);
    const { signal } = options;
    for (let retry = 1; ; retry++) {
      this.#checkOpen();
      try {
        return await this.#invoke(fn, request, deadline, signal);
      } catch (err) {
        const error = errorFromGrpc(err);
        if (!retryable) throw error;
        await this.#beforeRetry(method, error, retry, deadline, signal);
      }
    }
  }

  /**
   * A server stream with retries of its opening: a stream that failed before its first
   * message is tried again like a unary call; one that failed later is not (the consumer has
   * seen part of the answer).
   */
  async *#stream<Req, Res>(
    method: string,
    fn: StreamMethod<Req, Res>,
    request: Req,
    options: CallOptions,
  ): AsyncGenerator<Res, void, undefined> {
    const deadline = this.#deadline(options);
    const { signal } = options;
    for (let retry = 1; ; retry++) {
      this.#checkOpen();
      if (signal?.aborted) throw cancelled(signal);
      const call = fn(request, this.#metadata(), grpcCallOptions(deadline));
      this.#active.add(call);
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      let received = false;
      try {
        for await (const message of readStream(call)) {
          received = true;
          yield message;
        }
        return;
      } catch (err) {
        if (signal?.aborted) throw cancelled(signal);
        const error = errorFromGrpc(err);
        if (received) throw error;
        await this.#beforeRetry(method, error, retry, deadline, signal);
      } finally {
        signal?.removeEventListener("abort", onAbort);
        this.#active.delete(call);
      }
    }
  }

  /** One try of a unary call, cancelled by `signal` or `close`. */
  #invoke<Req, Res>(
    fn: UnaryMethod<Req, Res>,
    request: Req,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(cancelled(signal));
        return;
      }
      let call: ClientUnaryCall | undefined;
      let settled = false;
      const onAbort = () => call?.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      call = fn(request, this.#metadata(), grpcCallOptions(deadline), (error, response) => {
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (call !== undefined) this.#active.delete(call);
        if (error === null) resolve(response);
        else reject(signal?.aborted ? cancelled(signal) : errorFromGrpc(error));
      });
      if (!settled) this.#active.add(call);
    });
  }
}
