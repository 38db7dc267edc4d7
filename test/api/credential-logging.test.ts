// No secret reaches a log, whatever shape a credential arrives in: a real server with caller
// authentication, every malformed authorization header a person or a broken client sends, and
// every line written at every level — our pino logger (request log, audit log) and anything
// written to the console, where grpc-js logs by default.
import { logVerbosity, setLogVerbosity, status } from "@grpc/grpc-js";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { mintApiKey, parseApiKey } from "../../src/auth/api-key-token.js";
import { JwtVerifier, PinoAuditLog } from "../../src/auth/index.js";
import { systemClock } from "../../src/core/clock.js";
import { CheckRequest } from "../../src/gen/trellis/v1/permission_service.js";
import {
  type ApiFixture,
  capturedLog,
  DEFAULT_TENANT,
  obj,
  startApiFixture,
  subj,
} from "./api-fixture.js";
import { rawGrpcCall } from "./raw-http2.js";

const CHECK = "/trellis.v1.PermissionService/Check";
const request = CheckRequest.encode(
  CheckRequest.fromPartial({
    resource: obj("document:readme"),
    permission: "view",
    subject: subj("user:alice"),
  }),
).finish();

describe("credentials never reach a log", () => {
  let api: ApiFixture;
  const log = capturedLog("trace");
  const console_: string[] = [];
  let apiKey: string;
  let jwt: string;

  beforeAll(async () => {
    // Everything grpc-js has to say, at every level, wherever it goes.
    setLogVerbosity(logVerbosity.DEBUG);
    for (const method of ["error", "warn", "info", "debug", "log"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        console_.push(args.map(String).join(" "));
      });
    }
    const pair = await generateKeyPair("ES256");
    const verifier = await JwtVerifier.create(
      { keyFile: await exportSPKI(pair.publicKey), issuer: "https://idp", audience: "trellis" },
      systemClock,
    );
    api = await startApiFixture({
      auth: { jwt: verifier, maxFailuresPerMinute: 1000 },
      logger: log.logger,
      audit: new PinoAuditLog(log.logger),
      tuples: ["document:readme#viewer@user:alice"],
    });
    const minted = mintApiKey();
    await api.store.createApiKey({
      id: minted.id,
      tenant: DEFAULT_TENANT,
      secretHash: minted.secretHash,
      scopes: ["check"],
      description: "",
      createdAt: new Date(),
    });
    apiKey = minted.token;
    jwt = await new SignJWT({ tenant: DEFAULT_TENANT, scope: "check" })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer("https://idp")
      .setAudience("trellis")
      .setExpirationTime("5m")
      .sign(pair.privateKey);
  });

  afterAll(async () => {
    await api?.close();
    setLogVerbosity(logVerbosity.ERROR);
    vi.restoreAllMocks();
  });

  /** Every run of 12 characters of a secret: a fragment of it is a leak too. */
  function fragments(secret: string): string[] {
    const out: string[] = [];
    for (let i = 0; i + 12 <= secret.length; i++) out.push(secret.slice(i, i + 12));
    return out;
  }

  function leaks(secret: string): string[] {
    const lines = [...log.lines.map((l) => JSON.stringify(l)), ...console_];
    return lines.filter((line) => fragments(secret).some((f) => line.includes(f)));
  }

  test("for every malformed authorization header shape, at every log level", async () => {
    const secret = parseApiKey(apiKey)!.secret;
    const jwtSignature = jwt.split(".")[2]!;
    const latin1 = (text: string) => Buffer.from(text, "latin1");
    const half = Math.floor(apiKey.length / 2);
    const shapes: [string, string | Buffer][][] = [
      [["authorization", latin1(`Bearer\u00a0${apiKey}`)]], // a non-breaking space, as pasted
      [
        [
          "authorization",
          Buffer.concat([Buffer.from("Bearer"), Buffer.from([0xc2, 0xa0]), Buffer.from(apiKey)]),
        ],
      ], // the same in UTF-8
      [["authorization", `Bearer\t${apiKey}`]],
      [["authorization", latin1(`Bearer ${apiKey.slice(0, half)}\u00e9${apiKey.slice(half)}`)]], // a stray byte inside
      [["authorization", latin1(`Bearer ${apiKey}\u00ff`)]],
      [["authorization", `Bearer  ${apiKey}`]], // two spaces
      [["authorization", `bearer ${apiKey}`]], // lowercase scheme
      [["authorization", `Bearer ${apiKey} `]], // a trailing space
      [["authorization", `Bearer ${apiKey}x`]],
      [["authorization", apiKey]], // no scheme
      [["authorization", `Basic ${apiKey}`]],
      [
        ["authorization", `Bearer ${apiKey}`],
        ["authorization", "Bearer junk"],
      ], // two headers
      [["authorization", latin1(`Bearer\u00a0${jwt}`)]],
      [["authorization", `Bearer\t${jwt}`]],
      [["authorization", `Bearer ${jwt}x`]],
      [["x-api-key", latin1(`${apiKey}\u00a0`)]], // a credential in another header
    ];
    const codes: (number | undefined)[] = [];
    for (const headers of shapes) {
      codes.push((await rawGrpcCall(api.address, CHECK, headers, request)).code);
    }
    // The server logged them (request lines, audit lines) without the secrets.
    expect(leaks(secret)).toEqual([]);
    expect(leaks(jwtSignature)).toEqual([]);
    expect(log.lines.filter((l) => l.event === "auth_failure").length).toBeGreaterThan(5);
    // Every call was answered; the malformed ones were refused as credentials.
    expect(codes.every((c) => c !== undefined)).toBe(true);
    expect(codes[0]).toBe(status.UNAUTHENTICATED);
    expect(codes[2]).toBe(status.UNAUTHENTICATED);
  });
});
