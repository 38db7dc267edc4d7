// `trellis context set|use|list|remove`: contexts in the configuration directory (XDG rules),
// a file only its owner can read, tokens redacted in listings, and which endpoint and token a
// remote command then uses.
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { configDirectory } from "../../src/cli/cli-environment.js";
import { resolveConnection } from "../../src/cli/remote-client.js";
import { CLI_SCHEMA, startCliServer, temporaryDirectory, trellis } from "../support/cli-harness.js";

const tmp = temporaryDirectory("trellis-cli-context-");
afterAll(() => tmp.remove());

describe("the configuration directory", () => {
  test("is $XDG_CONFIG_HOME/trellis when that is absolute, ~/.config/trellis otherwise", () => {
    expect(configDirectory({ XDG_CONFIG_HOME: "/xdg" }, "/home/u")).toBe("/xdg/trellis");
    expect(configDirectory({}, "/home/u")).toBe("/home/u/.config/trellis");
    expect(configDirectory({ XDG_CONFIG_HOME: "relative" }, "/home/u")).toBe(
      "/home/u/.config/trellis",
    );
  });
});

describe("trellis context", () => {
  const configDir = join(tmp.path, "config", "trellis");
  const run = (args: string[]) => trellis(args, { configDir });

  test("set stores endpoint and token in a file only its owner reads, and makes it current", async () => {
    const set = await run([
      "context",
      "set",
      "dev",
      "127.0.0.1:50051",
      "trls_abcdefgh12345678_secret",
    ]);
    expect(set.code, set.stderr).toBe(0);
    const file = join(configDir, "contexts.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    const prod = await run([
      "--insecure",
      "context",
      "set",
      "prod",
      "10.1.2.3:50051",
      "jwt.header.sig",
    ]);
    expect(prod.code).toBe(0);
    const listed = await run(["--json", "context", "list"]);
    expect(listed.lines()).toEqual([
      {
        name: "dev",
        current: false,
        endpoint: "127.0.0.1:50051",
        token: "trls_abcdefgh12345678_<redacted>",
        insecure: false,
      },
      {
        name: "prod",
        current: true,
        endpoint: "10.1.2.3:50051",
        token: "<redacted>",
        insecure: true,
      },
    ]);
    const text = await run(["context", "list"]);
    expect(text.stdout).not.toContain("secret");
    expect(text.stdout).toMatch(/^\* prod/m);
    const revealed = await run(["--json", "context", "list", "--reveal-tokens"]);
    expect(revealed.lines()[0]!.token).toBe("trls_abcdefgh12345678_secret");
  });

  test("use switches the current context; remove forgets one; unknown names are exit 3", async () => {
    expect((await run(["context", "use", "dev"])).code).toBe(0);
    expect((await run(["--json", "context", "list"])).lines()[0]!.current).toBe(true);
    expect((await run(["context", "use", "nope"])).code).toBe(3);
    expect((await run(["context", "remove", "prod"])).code).toBe(0);
    expect((await run(["context", "remove", "prod"])).code).toBe(3);
    expect((await run(["--json", "context", "list"])).lines().map((c) => c.name)).toEqual(["dev"]);
    expect((await run(["context", "set", "bad name", "h:1"])).code).toBe(2);
  });

  test("a contexts file others may read is refused, not used", async () => {
    const dir = join(tmp.path, "loose");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "contexts.json");
    writeFileSync(
      file,
      JSON.stringify({ current: "x", contexts: { x: { endpoint: "h:1", token: "t" } } }),
    );
    chmodSync(file, 0o644);
    const r = await trellis(["context", "list"], { configDir: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("chmod 600");
  });
});

describe("which server a remote command reaches", () => {
  const configDir = join(tmp.path, "resolve");

  test("--endpoint, then TRELLIS_ENDPOINT, then the current context, then 127.0.0.1:50051", async () => {
    const environment = (env: NodeJS.ProcessEnv) => ({
      io: { out: () => {}, err: () => {} },
      env,
      cwd: tmp.path,
      stdinLines: undefined,
      stderrIsTTY: false,
      stderrColumns: 80,
      confirm: undefined,
      configDir,
    });
    expect(resolveConnection({}, environment({})).endpoint).toBe("127.0.0.1:50051");
    await trellis(["context", "set", "ctx", "10.0.0.9:50051", "ctx-token", "--insecure"], {
      configDir,
    });
    const fromContext = resolveConnection({}, environment({}));
    expect(fromContext).toMatchObject({
      endpoint: "10.0.0.9:50051",
      token: "ctx-token",
      tls: false,
      source: "context",
    });
    const fromEnv = resolveConnection({}, environment({ TRELLIS_ENDPOINT: "10.0.0.8:1" }));
    // The context's token is never sent to another endpoint.
    expect(fromEnv).toMatchObject({
      endpoint: "10.0.0.8:1",
      token: undefined,
      source: "environment",
    });
    const fromFlag = resolveConnection(
      { endpoint: "10.0.0.7:1", token: "flag-token" },
      environment({ TRELLIS_ENDPOINT: "10.0.0.8:1", TRELLIS_TOKEN: "env-token" }),
    );
    expect(fromFlag).toMatchObject({ endpoint: "10.0.0.7:1", token: "flag-token", source: "flag" });
  });

  test("a remote command uses the current context's endpoint and token", async () => {
    const server = await startCliServer("sqlite", { schema: CLI_SCHEMA });
    try {
      const dir = join(tmp.path, "live");
      await trellis(["context", "set", "local", server.address], { configDir: dir });
      const read = await trellis(["schema", "read"], { configDir: dir });
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout).toContain("definition document");
    } finally {
      await server.close();
    }
  });
});
