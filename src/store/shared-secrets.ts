/** The engine-independent half of `sharedSecret`: argument checks every engine shares. */
import { invalidArgument } from "../core/index.js";

const SECRET_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_SECRET_LENGTH = 4096;

export function checkSecretName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    throw invalidArgument("a secret name is 1-128 characters of [A-Za-z0-9_.:-]", "name");
  }
}

/**
 * Calls `generate` once and checks what it returned: INVALID_ARGUMENT for a bad value, a
 * TypeError when `generate` is not a function.
 */
export function generateSecret(generate: () => string): string {
  if (typeof generate !== "function") {
    throw new TypeError("generate must be a function returning the new secret");
  }
  const value: unknown = generate();
  if (
    typeof value !== "string" ||
    value === "" ||
    value.length > MAX_SECRET_LENGTH ||
    value.includes("\0")
  ) {
    throw invalidArgument(
      `a secret is a non-empty string of at most ${MAX_SECRET_LENGTH} characters without NUL`,
      "value",
    );
  }
  return value;
}
