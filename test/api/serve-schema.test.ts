// `trellis serve --schema FILE`: the file, with what it imports, compiled before anything opens
// and written to the tenant whenever it differs from the tenant's schema.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, describe, expect, test } from "vitest";
import { runServe, type ServeFlags } from "../../src/cli/serve-command.js";
import { ReadSchemaRequest, SchemaServiceClient } from "../../src/gen/trellis/v1/schema_service.js";
import { unary } from "./api-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-serve-schema-"));
const silent = pino({ level: "silent" });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `serve` until its banner (or its end); returns its output and a stop function. */
async function serve(flags: ServeFlags) {
  let out = "";
  let err = "";
  let printed!: () => void;
  const banner = new Promise<void>((resolve) => {
    printed = resolve;
  });
  const io = {
    out: (t: string) => {
      out += t;
      if (out.includes("Stop with")) printed();
    },
    err: (t: string) => {
      err += t;
    },
  };
  const stop = new AbortController();
  const done = runServe(
    { insecureDev: true, listen: "127.0.0.1:0", ...flags },
    io,
    stop.signal,
    {},
    silent,
  );
  const ended = await Promise.race([banner.then(() => false), done.then(() => true)]);
  return {
    ended,
    code: ended ? await done : undefined,
    err: () => err,
    address: ended ? "" : /serving on (\S+)/.exec(out)![1]!,
    stop: async () => {
      stop.abort();
      return done;
    },
  };
}

async function readSchema(address: string): Promise<string> {
  const client = new SchemaServiceClient(address, credentials.createInsecure());
  try {
    return (await unary(client.readSchema.bind(client), ReadSchemaRequest.fromPartial({})))
      .schemaText;
  } finally {
    client.close();
  }
}

function project(name: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, "parts"), { recursive: true });
  writeFileSync(
    join(root, "root.zed"),
    'use import\n\nimport "parts/user.zed"\n\ndefinition doc {\n\trelation owner: user\n}\n',
  );
  writeFileSync(join(root, "parts", "user.zed"), "definition user {}\n");
  return root;
}

describe("trellis serve --schema", () => {
  test("refuses to start with --preset too, or with a schema that does not compile", async () => {
    const root = project("refusals");
    const datastore = `sqlite:${join(root, "trellis.db")}`;
    const both = await serve({ datastore, schema: join(root, "root.zed"), preset: "docs" });
    expect(both.code).toBe(2);
    expect(both.err()).toMatch(/--schema and --preset/);
    writeFileSync(join(root, "parts", "user.zed"), "definition user {\n\trelation r: nope\n}\n");
    const broken = await serve({ datastore, schema: join(root, "root.zed") });
    expect(broken.code).toBe(2);
    expect(broken.err()).toContain(`${join(root, "parts", "user.zed")}:2:14: `);
  });

  test("writes the compiled schema, keeps it while the file is unchanged, and rewrites it when it changes", async () => {
    const root = project("runs");
    const flags = {
      datastore: `sqlite:${join(root, "trellis.db")}`,
      schema: join(root, "root.zed"),
    };
    const first = await serve(flags);
    expect(first.ended, first.err()).toBe(false);
    try {
      expect(await readSchema(first.address)).toBe(
        "definition user {}\n\ndefinition doc {\n\trelation owner: user\n}\n",
      );
    } finally {
      expect(await first.stop()).toBe(0);
    }
    writeFileSync(join(root, "parts", "user.zed"), "definition user {}\n\ndefinition team {}\n");
    const second = await serve(flags);
    expect(second.ended, second.err()).toBe(false);
    try {
      expect(await readSchema(second.address)).toContain("definition team {}");
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
