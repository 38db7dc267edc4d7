/**
 * Static files on the HTTP listener under one path prefix (the playground at `/playground/`).
 * The folder is read once, at start: only the regular files found then (no dot files, no
 * symbolic links, only known types) are served, from memory, so no request path can reach
 * anything else (`..` and encoded slashes included) and no request touches the disk. Text files are kept gzipped too, for clients that accept it.
 *
 * Caching: every answer carries a strong `ETag` and `cache-control: no-cache`, so a browser
 * revalidates (a `304` without a body) and never runs a stale page after an upgrade. Pages get
 * a content security policy that allows only this origin's scripts, styles and connections.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/**
 * The page's own scripts, styles and connections only. Inline styles: the editor (CodeMirror)
 * writes its theme into a style element. `blob:` and `data:` images: the export's download link.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Files smaller than this are not worth compressing. */
const GZIP_MIN_BYTES = 1024;

interface StaticFile {
  readonly body: Buffer;
  readonly gzipped?: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

export interface StaticFilesOptions {
  /** The URL path the folder is served under, without a trailing slash: `/playground`. */
  readonly prefix: string;
  /** The folder; its `index.html` answers `prefix/`. */
  readonly directory: string;
}

export class StaticFiles {
  readonly prefix: string;
  /** By URL path below the prefix: `index.html`, `app.js`, `assets/x.svg`. */
  readonly #files = new Map<string, StaticFile>();

  /** Reads the folder; throws when it is missing or has no `index.html`. */
  constructor(options: StaticFilesOptions) {
    if (!/^\/[A-Za-z0-9_-]+$/.test(options.prefix)) {
      throw new TypeError(`static files prefix must be one path segment, got "${options.prefix}"`);
    }
    this.prefix = options.prefix;
    this.#read(options.directory, "");
    if (!this.#files.has("index.html")) {
      throw new Error(`${options.directory} has no index.html`);
    }
  }

  #read(directory: string, below: string): void {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        this.#read(path, `${below}${entry.name}/`);
        continue;
      }
      const type = CONTENT_TYPES[extname(entry.name).toLowerCase()];
      if (!entry.isFile() || type === undefined) continue;
      const body = readFileSync(path);
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type);
      this.#files.set(`${below}${entry.name}`, {
        body,
        ...(compressible && body.length >= GZIP_MIN_BYTES ? { gzipped: gzipSync(body) } : {}),
        contentType: type,
        etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      });
    }
  }

  /** Whether `pathname` (no query) is this folder's: the prefix itself or below it. */
  handles(pathname: string): boolean {
    return pathname === this.prefix || pathname.startsWith(`${this.prefix}/`);
  }

  /** Answers a request whose path `handles` accepted. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") {
      answer(req, res, 405, "text/plain; charset=utf-8", `${pathname} takes GET or HEAD\n`, {
        allow: "GET, HEAD",
      });
      return;
    }
    if (pathname === this.prefix) {
      // Relative URLs in the page resolve against the folder, so the folder needs its slash.
      answer(req, res, 308, "text/plain; charset=utf-8", `${this.prefix}/\n`, {
        location: `${this.prefix}/`,
      });
      return;
    }
    let name = pathname.slice(this.prefix.length + 1);
    try {
      name = decodeURIComponent(name);
    } catch {
      answer(req, res, 400, "text/plain; charset=utf-8", "malformed path\n");
      return;
    }
    const file = this.#files.get(name === "" ? "index.html" : name);
    if (file === undefined) {
      answer(req, res, 404, "text/plain; charset=utf-8", `no file ${pathname}\n`);
      return;
    }
    const headers: Record<string, string> = {
      etag: file.etag,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      ...(file.contentType.startsWith("text/html")
        ? { "content-security-policy": CONTENT_SECURITY_POLICY, "referrer-policy": "no-referrer" }
        : {}),
      ...(file.gzipped !== undefined ? { vary: "accept-encoding" } : {}),
    };
    if (matches(req.headers["if-none-match"], file.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = file.gzipped !== undefined && acceptsGzip(req.headers["accept-encoding"]);
    answer(req, res, 200, file.contentType, gzip ? file.gzipped! : file.body, {
      ...headers,
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
  }
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(",")
    .map((t) => t.trim().replace(/^W\//, ""))
    .some((t) => t === etag || t === "*");
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return (acceptEncoding ?? "").split(",").some((part) => {
    const [coding, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return coding?.trim().toLowerCase() === "gzip" && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Readonly<Record<string, string>> = {},
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...headers,
    "content-type": contentType,
    "content-length": bytes.length,
  });
  res.end(req.method === "HEAD" ? undefined : bytes);
  // A body sent with a GET is read and dropped, so the connection can serve the next request.
  if (!req.complete) req.resume();
}
