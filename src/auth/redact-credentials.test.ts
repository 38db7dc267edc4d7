import { describe, expect, test } from "vitest";
import { mintApiKey } from "./api-key-token.js";
import { redactCredentials } from "./redact-credentials.js";

describe("redactCredentials", () => {
  const key = mintApiKey().token;
  const secret = key.slice(22);
  const jwt =
    "eyJhbGciOiJFUzI1NiJ9.eyJ0ZW5hbnQiOiJ0MSIsImV4cCI6MTk5OTk5OTk5OX0.MEUCIQDx1vY2l0b2tlbi1zaWduYXR1cmUtcGFydA";

  test("removes API keys, JWTs, bearer tokens and authorization values in any shape", () => {
    const lines = [
      `Failed to add metadata entry authorization: Bearer\u00a0${key}. Metadata string value "Bearer\u00a0${key}" contains illegal characters`,
      `Failed to add metadata entry x-api-key: ${key}\u00a0. Metadata string value`,
      `received headers {"authorization":["Bearer ${jwt}"],"user-agent":"grpc-node-js"}`,
      `token ${jwt} in a message`,
      `bearer\t${key.slice(5)}`,
    ];
    for (const line of lines) {
      const out = redactCredentials(line);
      expect(out).not.toContain(secret.slice(1, 20));
      expect(out).not.toContain(jwt.split(".")[2]!.slice(0, 20));
      expect(out).toContain("[REDACTED]");
    }
  });

  test("leaves text without credentials alone", () => {
    const text = "Server bind failed: 127.0.0.1:50051 EADDRINUSE (grpc-js 1.14.7)";
    expect(redactCredentials(text)).toBe(text);
  });
});
