/**
 * The request pipeline as SpiceDB's services use it: every handler runs through
 * `RequestPipeline` (caller, scope, deadline, log, audit, metrics) under the method's full name
 * (`authzed.api.v1.SchemaService/WriteSchema`, distinct from trellis.v1's), and its failures
 * take the codes SpiceDB gives them where those differ from trellis.v1's (`spiceDBFailure`).
 */
import type {
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
} from "@grpc/grpc-js";
import {
  DeleteLimitExceededError,
  RelationshipExistsError,
  SchemaOrphansError,
  TrellisError,
  type TrellisErrorCode,
} from "../../core/errors.js";
import type { CallContext, RequestPipeline, StreamOptions } from "../request-pipeline.js";
import type { StreamWriter } from "../stream-writer.js";
import { methodName, type ServiceDescription } from "./service-definitions.js";

/**
 * SpiceDB's code for a failure, where it differs from trellis.v1's: CREATE of an existing
 * relationship is ALREADY_EXISTS (also inside an import batch, where it is the cause); a delete
 * over its limit and a schema that would orphan relationships are INVALID_ARGUMENT.
 */
export function spiceDBFailure(err: unknown): unknown {
  if (!(err instanceof TrellisError)) return err;
  const code =
    spiceDBCode(err) ??
    (err.cause instanceof TrellisError && err.code === err.cause.code
      ? spiceDBCode(err.cause)
      : undefined);
  if (code === undefined || code === err.code) return err;
  return new TrellisError(code, err.message, {
    cause: err,
    ...(err.field !== undefined ? { field: err.field } : {}),
  });
}

function spiceDBCode(err: unknown): TrellisErrorCode | undefined {
  if (err instanceof RelationshipExistsError) return "ALREADY_EXISTS";
  if (err instanceof DeleteLimitExceededError || err instanceof SchemaOrphansError) {
    return "INVALID_ARGUMENT";
  }
  return undefined;
}

function rethrown(err: unknown): never {
  throw spiceDBFailure(err);
}

/** Handlers of one SpiceDB service, named by the service's full name. */
export class SpiceDBCalls {
  readonly #pipeline: RequestPipeline;
  readonly #service: ServiceDescription;

  constructor(pipeline: RequestPipeline, service: ServiceDescription) {
    this.#pipeline = pipeline;
    this.#service = service;
  }

  unary<Req, Res>(
    method: string,
    handler: (request: Req, ctx: CallContext) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return this.#pipeline.unary<Req, Res>(methodName(this.#service, method), (req, ctx) =>
      handler(req, ctx).catch(rethrown),
    );
  }

  serverStream<Req, Res>(
    method: string,
    options: StreamOptions,
    handler: (request: Req, ctx: CallContext, out: StreamWriter<Res>) => Promise<void>,
  ): handleServerStreamingCall<Req, Res> {
    return this.#pipeline.serverStream<Req, Res>(
      methodName(this.#service, method),
      options,
      (req, ctx, out) => handler(req, ctx, out).catch(rethrown),
    );
  }

  clientStream<Req, Res>(
    method: string,
    handler: (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>,
  ): handleClientStreamingCall<Req, Res> {
    return this.#pipeline.clientStream<Req, Res>(methodName(this.#service, method), (req, ctx) =>
      handler(req, ctx).catch(rethrown),
    );
  }

  /**
   * A method Trellis does not offer: UNIMPLEMENTED with the reason, once the caller is
   * authenticated (a stranger still learns only UNAUTHENTICATED).
   */
  unimplemented(method: string, reason: string): handleUnaryCall<unknown, unknown> {
    return this.unary<unknown, unknown>(method, async () => {
      throw new TrellisError(
        "UNIMPLEMENTED",
        `${methodName(this.#service, method)} is not supported by Trellis: ${reason}`,
      );
    });
  }
}
