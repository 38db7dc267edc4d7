// The README's curl lines for HTTP/JSON, run as written (only the address is pointed at the
// test server's port) against an authenticated server with the docs preset, so the README
// cannot drift from what works. They run with the machine's curl; where there is none, the
// same requests are parsed from the lines and sent with fetch (the test says which it did).
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { mintApiKey } from "../../src/auth/api-key-token.js";
import { type ApiFixture, DEFAULT_TENANT, startApiFixture } from "./api-fixture.js";

const root = join(import.meta.dirname, "..", "..");
const MARKER = "<!-- readme-http-example:";
const README_ADDRESS = "127.0.0.1:8080";

/** The commands of the README's block: continuation lines joined, comments left out. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const marker = readme.indexOf(MARKER);
  const start = readme.indexOf("```sh\n", marker);
  const end = readme.indexOf("```\n", start + 6);
  if (marker < 0 || start < 0 || end < 0) throw new Error("no HTTP example in README");
  return readme
    .slice(start + 6, end)
    .replaceAll("\\\n", " ")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
}

function hasCurl(): boolean {
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Shell words of a line: '…' literal, "…" with $VAR expanded, as `sh` would split them. */
function shellWords(line: string, env: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      word = (word ?? "") + line.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      const close = line.indexOf('"', i + 1);
      word =
        (word ?? "") +
        line
          .slice(i + 1, close)
          .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => env[n] ?? "");
      i = close;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The request a `curl -H … -d … URL` line makes, sent with fetch; the body it answers. */
async function replay(line: string, env: Readonly<Record<string, string>>): Promise<string> {
  const words = shellWords(line, env);
  expect(words[0]).toBe("curl");
  const headers: Record<string, string> = {};
  let body: string | undefined;
  let url: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === "-H") {
      const [name, ...value] = words[++i]!.split(":");
      headers[name!.trim()] = value.join(":").trim();
    } else if (w === "-d") {
      body = words[++i];
    } else if (w.startsWith("http")) {
      url = w;
    } else if (!/^-[sSN]+$/.test(w)) {
      throw new Error(`the replay does not know curl's ${w}`);
    }
  }
  // `curl -d` posts as a form; the server reads the body as JSON whatever its type.
  const res = await fetch(url!, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  return res.text();
}

let api: ApiFixture;
let env: Record<string, string>;

beforeAll(async () => {
  api = await startApiFixture({
    httpListen: "127.0.0.1:0",
    auth: {},
    schema: readFileSync(join(root, "schema", "docs.zed"), "utf8"),
  });
  const key = mintApiKey();
  await api.store.createApiKey({
    id: key.id,
    tenant: DEFAULT_TENANT,
    secretHash: key.secretHash,
    scopes: ["check", "write"],
    description: "readme",
    createdAt: new Date(),
  });
  env = { PATH: process.env.PATH ?? "", TRELLIS_TOKEN: key.token };
});

afterAll(() => api.close());

test("the README's curl lines write, check and list over HTTP/JSON", async () => {
  const commands = readmeCommands().map((c) =>
    c.replaceAll(README_ADDRESS, api.server.httpAddress!),
  );
  expect(commands).toHaveLength(4);
  const curl = hasCurl();
  console.info(
    curl
      ? "running the README's lines with curl"
      : "no curl on this machine: replaying the README's requests with fetch",
  );
  const outputs: string[] = [];
  for (const command of commands) {
    outputs.push(
      curl
        ? (await promisify(execFile)("sh", ["-c", command], { env })).stdout
        : await replay(command, env),
    );
  }
  const [write, check, list, spicedbCheck] = outputs.map((o) =>
    o
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
  expect(write).toEqual([{ writtenAt: { token: expect.any(String) } }]);
  expect(check).toEqual([
    { checkedAt: { token: expect.any(String) }, permissionship: "PERMISSIONSHIP_HAS_PERMISSION" },
  ]);
  expect(list).toEqual([
    {
      result: expect.objectContaining({
        objectId: "readme",
        permissionship: "PERMISSIONSHIP_HAS_PERMISSION",
      }),
    },
  ]);
  expect(spicedbCheck).toEqual([
    expect.objectContaining({
      permissionship: "PERMISSIONSHIP_HAS_PERMISSION",
      partialCaveatInfo: null,
    }),
  ]);
});

test("the replay reads the lines as the shell does", () => {
  expect(
    shellWords(`curl -sS -H "authorization: Bearer $T" http://x/y -d '{"a":"$T"}'`, { T: "tok" }),
  ).toEqual(["curl", "-sS", "-H", "authorization: Bearer tok", "http://x/y", "-d", '{"a":"$T"}']);
});
