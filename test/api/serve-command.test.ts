// `trellis serve`: flag checks before anything opens, a full run with a preset, the zookie
// secret kept across restarts, and an authenticated run with a key made by `trellis keys`.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, describe, expect, test } from "vitest";
import { runServe, type ServeFlags } from "../../src/cli/serve-command.js";
import { Permissionship } from "../../src/gen/trellis/v1/core.js";
import {
  CheckRequest,
  PermissionServiceClient,
} from "../../src/gen/trellis/v1/permission_service.js";
import { expectCode, obj, subj, unary } from "./api-fixture.js";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "trellis-serve-"));
const silent = pino({ level: "silent" });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  let out = "";
  let err = "";
  let printed!: () => void;
  const banner = new Promise<void>((resolve) => {
    printed = resolve;
  });
  return {
    io: {
      out: (t: string) => {
        out += t;
        if (out.includes("Stop with")) printed();
      },
      err: (t: string) => {
        err += t;
      },
    },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    /** Resolves once the command has printed its banner (it serves from then on). */
    banner,
  };
}

/** Waits for a started command's banner; fails with its output if it ends first. */
async function bannerOf(c: ReturnType<typeof capture>, done: Promise<number>): Promise<string> {
  const ended = await Promise.race([c.banner.then(() => false), done.then(() => true)]);
  if (ended) throw new Error(`serve ended before its banner; stderr: ${c.err}`);
  return c.out;
}

async function refused(flags: ServeFlags, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const c = capture();
  const code = await runServe(flags, c.io, new AbortController().signal, env, silent);
  expect(code).toBe(2);
  return c.err;
}

describe("trellis serve refuses bad configurations before opening anything", () => {
  test("with JWT settings that are incomplete, ambiguous or combined with --insecure-dev", async () => {
    const datastore = `sqlite:${join(dir, "never", "t.db")}`;
    expect(await refused({ datastore, jwtIssuer: "https://idp" })).toContain("--jwt-key-file");
    const keyFile = join(dir, "jwt.pem");
    writeFileSync(keyFile, "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n");
    expect(await refused({ datastore, jwtKeyFile: keyFile, jwtAudience: "trellis" })).toContain(
      "--jwt-issuer",
    );
    expect(await refused({ datastore, jwtKeyFile: keyFile, jwtIssuer: "https://idp" })).toContain(
      "--jwt-audience",
    );
    expect(
      await refused({
        datastore,
        jwtKeyFile: keyFile,
        jwtJwksUrl: "https://idp/jwks",
        jwtIssuer: "i",
        jwtAudience: "a",
      }),
    ).toContain("one JWT key source");
    expect(
      await refused({
        datastore,
        insecureDev: true,
        jwtKeyFile: keyFile,
        jwtIssuer: "i",
        jwtAudience: "a",
      }),
    ).toContain("--insecure-dev");
    expect(
      await refused({
        datastore,
        jwtJwksUrl: "file:///etc/keys",
        jwtIssuer: "i",
        jwtAudience: "a",
      }),
    ).toContain("--jwt-jwks-url");
    expect(await refused({ datastore }, { TRELLIS_AUTH_FAILURES_PER_MINUTE: "0" })).toContain(
      "--auth-failures-per-minute",
    );
    expect(existsSync(join(dir, "never"))).toBe(false);
  });

  test("with --insecure-dev on a non-loopback address", async () => {
    expect(await refused({ insecureDev: true, listen: "0.0.0.0:50051" })).toContain("--listen");
    expect(await refused({ insecureDev: true }, { TRELLIS_LISTEN: "10.0.0.1:50051" })).toContain(
      "--listen",
    );
    expect(await refused({ insecureDev: true, httpListen: "0.0.0.0:8080" })).toContain(
      "--http-listen",
    );
  });

  test("with a malformed flag or variable, naming it", async () => {
    expect(await refused({ insecureDev: true, maxDepth: "deep" })).toContain("--max-depth");
    expect(await refused({ insecureDev: true, preset: "nope" })).toContain("--preset");
    expect(await refused({ insecureDev: true, datastore: "mysql://x" })).toContain("--datastore");
    expect(await refused({ insecureDev: true, httpListen: "8080" })).toContain("--http-listen");
    expect(await refused({ insecureDev: true, tlsCert: join(dir, "missing.pem") })).toContain(
      "--tls-key",
    );
    expect(
      await refused({
        insecureDev: true,
        tlsCert: join(dir, "missing.pem"),
        tlsKey: join(dir, "missing.key"),
      }),
    ).toContain("--tls-cert");
    expect(await refused({ insecureDev: true, zookieSecret: "short" })).toContain(
      "--zookie-secret",
    );
    expect(await refused({ insecureDev: true }, { TRELLIS_DEFAULT_DEADLINE: "soon" })).toContain(
      "--default-deadline",
    );
  });
});

describe("trellis serve runs", () => {
  /** Starts the command, waits for its banner, returns the address and a stop function. */
  async function serve(flags: ServeFlags, env: NodeJS.ProcessEnv = {}) {
    const c = capture();
    const stop = new AbortController();
    const done = runServe(flags, c.io, stop.signal, env, silent);
    const banner = await bannerOf(c, done);
    const address = /serving on (\S+)/.exec(banner)![1]!;
    return {
      address,
      banner,
      stop: async () => {
        stop.abort();
        return done;
      },
    };
  }

  test("with a preset and a generated zookie secret that survives a restart", async () => {
    const datastore = `sqlite:${join(dir, "data", "trellis.db")}`;
    const flags: ServeFlags = {
      insecureDev: true,
      datastore,
      preset: "docs",
      listen: "127.0.0.1:0",
    };
    // The environment is overridden by the flag: TRELLIS_LISTEN would be refused.
    const first = await serve(flags, { TRELLIS_LISTEN: "0.0.0.0:1" });
    expect(first.banner).toContain("grpcurl -plaintext");
    expect(first.banner).toContain(first.address);
    // The secret lives in the datastore, not in a file beside it.
    expect(existsSync(join(dir, "data", "zookie.secret"))).toBe(false);

    const ask = async (address: string, token?: string) => {
      const client = new PermissionServiceClient(address, credentials.createInsecure());
      try {
        return await unary(
          client.check.bind(client),
          CheckRequest.fromPartial({
            ...(token !== undefined
              ? {
                  consistency: {
                    requirement: { $case: "atLeastAsFresh", atLeastAsFresh: { token } },
                  },
                }
              : {}),
            resource: obj("document:readme"),
            permission: "view",
            subject: subj("user:alice"),
          }),
        );
      } finally {
        client.close();
      }
    };
    // The docs preset is loaded: `document#view` exists (an unknown type would fail).
    const answer = await ask(first.address);
    expect(answer.permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
    const zookie = answer.checkedAt!.token;
    expect(await first.stop()).toBe(0);

    const second = await serve(flags);
    try {
      // Same secret, so the first run's zookie is honoured, not refused as forged.
      expect((await ask(second.address, zookie)).permissionship).toBe(
        Permissionship.PERMISSIONSHIP_NO_PERMISSION,
      );
    } finally {
      expect(await second.stop()).toBe(0);
    }
    // A different secret refuses it.
    const third = await serve({ ...flags, zookieSecret: "another-secret-0123456789" });
    try {
      await expectCode(ask(third.address, zookie), status.INVALID_ARGUMENT);
    } finally {
      await third.stop();
    }
  });
});

describe("trellis serve --http-listen", () => {
  test("serves HTTP/JSON beside gRPC and says how to call it with curl", async () => {
    const c = capture();
    const stop = new AbortController();
    const done = runServe(
      {
        insecureDev: true,
        datastore: `sqlite:${join(dir, "http", "trellis.db")}`,
        preset: "docs",
        listen: "127.0.0.1:0",
        httpListen: "127.0.0.1:0",
      },
      c.io,
      stop.signal,
      {},
      silent,
    );
    try {
      const banner = await bannerOf(c, done);
      const url = /curl -d '[^']*' (http:\/\/\S+)/.exec(banner)?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/trellis\.v1\.PermissionService\/Check$/);
      const res = await fetch(url!, {
        method: "POST",
        body: JSON.stringify({
          resource: obj("document:readme"),
          permission: "view",
          subject: subj("user:alice"),
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ permissionship: "PERMISSIONSHIP_NO_PERMISSION" });
    } finally {
      stop.abort();
      expect(await done).toBe(0);
    }
  });
});

describe("the built executable", () => {
  test("makes a key that an authenticated server accepts, and refuses calls without it", async () => {
    if (!existsSync(join(root, "dist", "cli", "main.js"))) {
      throw new Error("dist/ is missing: run `make build` (make test does) before this test");
    }
    const run = promisify(execFile);
    const datastore = `sqlite:${join(dir, "keys", "trellis.db")}`;
    const trellis = (...args: string[]) =>
      run(process.execPath, [join(root, "bin", "trellis"), ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "" },
      });
    await trellis("tenants", "create", "acme", "--datastore", datastore);
    const { stdout: token } = await trellis(
      "keys",
      "create",
      "--tenant",
      "acme",
      "--scopes",
      "check",
      "--quiet",
      "--datastore",
      datastore,
    );
    expect(token.trim()).toMatch(/^trls_[a-z0-9]{16}_/);
    const listed = (await trellis("keys", "list", "--tenant", "acme", "--datastore", datastore))
      .stdout;
    expect(listed).toContain("acme  check  created");
    expect(listed).not.toContain(token.trim());
    const unknown = await trellis(
      "keys",
      "list",
      "--tenant",
      "nope",
      "--datastore",
      datastore,
    ).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("NOT_FOUND");

    const c = capture();
    const stop = new AbortController();
    const done = runServe(
      { datastore, preset: "docs", tenant: "acme", listen: "127.0.0.1:0" },
      c.io,
      stop.signal,
      {},
      silent,
    );
    try {
      await bannerOf(c, done);
      expect(c.out).toContain("callers authenticate");
      expect(c.out).toContain("trellis keys create");
      const address = /serving on (\S+)/.exec(c.out)![1]!;
      const client = new PermissionServiceClient(address, credentials.createInsecure());
      const request = CheckRequest.fromPartial({
        resource: obj("document:readme"),
        permission: "view",
        subject: subj("user:alice"),
      });
      try {
        await expectCode(unary(client.check.bind(client), request), status.UNAUTHENTICATED);
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer ${token.trim()}`);
        const answer = await unary(client.check.bind(client), request, { metadata });
        expect(answer.permissionship).toBe(Permissionship.PERMISSIONSHIP_NO_PERMISSION);
      } finally {
        client.close();
      }
    } finally {
      stop.abort();
      expect(await done).toBe(0);
    }
  });
});
