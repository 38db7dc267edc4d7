/**
 * Requests that do not decode are the caller's mistake (INVALID_ARGUMENT), not the server's:
 * grpc-js answers INTERNAL "Error deserializing request" whenever a method's deserializer
 * throws, before any handler or error mapping of ours runs. So the service definitions the
 * server registers decode through `decodingFailuresAsArguments`, whose deserializers never
 * throw: a message that fails to decode becomes an `UndecodableRequest`, and the pipeline
 * answers it with INVALID_ARGUMENT once the caller is known (an unauthenticated caller still
 * learns only UNAUTHENTICATED).
 *
 * The commonest such message nests a `google.protobuf.Struct` (a caveat context) too deeply:
 * the generated decoders stop at 100 levels of nested messages, which a Struct reaches at
 * about 33 levels of JSON nesting (each level is a Struct, a map entry and a Value).
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { invalidArgument, type TrellisError } from "../core/errors.js";
import { quoteInput } from "../core/quote-input.js";

/** Stands in for a request message whose bytes did not decode. */
export class UndecodableRequest {
  readonly error: TrellisError;
  constructor(error: TrellisError) {
    this.error = error;
  }
}

/** Throws the decoding error of a request that did not decode; returns any other unchanged. */
export function decodedRequest<T>(request: T): T {
  if (request instanceof UndecodableRequest) throw request.error;
  return request;
}

/** The definition with deserializers that return an `UndecodableRequest` instead of throwing. */
export function decodingFailuresAsArguments<D extends ServiceDefinition>(definition: D): D {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(decodingError(err));
        }
      },
    };
  }
  return wrapped as D;
}

function decodingError(err: unknown): TrellisError {
  const reason = err instanceof Error ? err.message : String(err);
  if (/recursion/i.test(reason) || err instanceof RangeError) {
    return invalidArgument(
      "the request nests messages too deeply: at most 100 levels of nested messages, about 33 levels of JSON in a google.protobuf.Struct such as a caveat context",
    );
  }
  return invalidArgument(`the request is not a valid protobuf message: ${quoteInput(reason, 120)}`);
}
