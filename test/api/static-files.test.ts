// The HTTP face's static files (the playground at /playground/): what is served, with which
// content type and caching headers, and that no request path reaches a file outside the folder
// or one that was not there at start.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { StaticFiles } from "../../src/api/http/static-files.js";
import { runServe } from "../../src/cli/serve-command.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-static-"));
const site = join(dir, "site");
const APP = `console.log(${JSON.stringify("x".repeat(4000))});\n`;
let server: Server;
let port: number;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Sends `path` exactly as written (no URL normalisation, unlike fetch). */
function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  mkdirSync(join(site, "assets"), { recursive: true });
  writeFileSync(join(site, "index.html"), "<!doctype html><title>t</title>");
  writeFileSync(join(site, "app.js"), APP);
  writeFileSync(join(site, "assets", "logo.svg"), "<svg/>");
  writeFileSync(join(site, ".hidden.txt"), "hidden");
  writeFileSync(join(site, "notes.unknown"), "no type");
  writeFileSync(join(dir, "secret.txt"), "outside");
  symlinkSync(join(dir, "secret.txt"), join(site, "linked.txt"));
  const files = new StaticFiles({ prefix: "/playground", directory: site });
  // Files added after start are not served.
  writeFileSync(join(site, "late.js"), "late");
  server = createServer((req, res) => {
    const pathname = (req.url ?? "/").split("?")[0]!;
    if (files.handles(pathname)) files.serve(req, res, pathname);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("static files", () => {
  test("serve the folder's index at the prefix's slash, and redirect the bare prefix to it", async () => {
    const index = await get("/playground/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(index.body.toString()).toContain("<title>t</title>");
    const bare = await get("/playground");
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe("/playground/");
  });

  test("name each file's content type, and never let a browser guess one", async () => {
    const app = await get("/playground/app.js?v=1");
    expect(app.status).toBe(200);
    expect(app.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(app.headers["x-content-type-options"]).toBe("nosniff");
    expect(app.body.toString()).toBe(APP);
    const svg = await get("/playground/assets/logo.svg");
    expect(svg.headers["content-type"]).toBe("image/svg+xml");
  });

  test("are revalidated by ETag: no-cache, and 304 without a body when unchanged", async () => {
    const first = await get("/playground/app.js");
    expect(first.headers["cache-control"]).toBe("no-cache");
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await get("/playground/app.js", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await get("/playground/app.js", { "if-none-match": '"other"' })).status).toBe(200);
  });

  test("are sent gzipped to a client that accepts it", async () => {
    const zipped = await get("/playground/app.js", { "accept-encoding": "br, gzip" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.vary).toBe("accept-encoding");
    expect(gunzipSync(zipped.body).toString()).toBe(APP);
    const refused = await get("/playground/app.js", { "accept-encoding": "gzip;q=0" });
    expect(refused.headers["content-encoding"]).toBeUndefined();
  });

  test("answer HEAD without a body and other methods with 405", async () => {
    const head = await get("/playground/app.js", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBe(Buffer.byteLength(APP));
    const post = await get("/playground/app.js", {}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
  });

  test.each([
    "/playground/../secret.txt",
    "/playground/%2e%2e/secret.txt",
    "/playground/..%2fsecret.txt",
    "/playground/assets/..%2f..%2fsecret.txt",
    "/playground//etc/passwd",
    "/playground/%2fetc%2fpasswd",
    "/playground/.hidden.txt",
    "/playground/notes.unknown",
    "/playground/late.js",
    "/playground/assets",
  ])("refuse %s: only the files found at start are served", async (path) => {
    const answer = await get(path);
    expect(answer.status).toBe(404);
    expect(answer.body.toString()).not.toContain("outside");
  });

  test("do not follow a symbolic link out of the folder", async () => {
    const linked = await get("/playground/linked.txt");
    expect(linked.status).toBe(404);
    expect(linked.body.toString()).not.toContain("outside");
  });

  test("refuse a malformed percent-encoding with 400", async () => {
    expect((await get("/playground/%E0%A4%A")).status).toBe(400);
  });

  test("refuse a folder without index.html at construction", () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    expect(() => new StaticFiles({ prefix: "/playground", directory: empty })).toThrow(
      /index\.html/,
    );
    expect(() => new StaticFiles({ prefix: "/a/b", directory: site })).toThrow(TypeError);
  });
});

describe("trellis serve --playground", () => {
  test("needs the HTTP listener", async () => {
    let err = "";
    const code = await runServe(
      { insecureDev: true, playground: true },
      { out: () => {}, err: (text: string) => (err += text) },
      AbortSignal.abort(),
      {},
    );
    expect(code).toBe(2);
    expect(err).toContain("--http-listen");
  });
});
