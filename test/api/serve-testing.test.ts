// `trellis serve-testing`: both faces in memory, every bearer token its own empty tenant, no
// credentials checked, loopback only; and the help and banner say so.
import { v1 } from "@authzed/authzed-node";
import { status } from "@grpc/grpc-js";
import { Command } from "commander";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tenantOfToken } from "../../src/api/per-token-tenants.js";
import {
  registerServeTestingCommand,
  runServeTesting,
} from "../../src/cli/serve-testing-command.js";
import { expectCode } from "./api-fixture.js";

const SCHEMA = "definition user {}\n\ndefinition doc {\n\trelation viewer: user\n}\n";

function output() {
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
    banner,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

describe("trellis serve-testing", () => {
  const stop = new AbortController();
  const io = output();
  let done: Promise<number>;
  let address: string;
  const clients: v1.ZedClientInterface[] = [];
  const as = (token: string) => {
    const c = v1.NewClient(token, address, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS);
    clients.push(c);
    return c.promises;
  };

  beforeAll(async () => {
    done = runServeTesting(
      { listen: "127.0.0.1:0" },
      io.io,
      stop.signal,
      pino({ level: "silent" }),
    );
    const ended = await Promise.race([io.banner.then(() => false), done.then(() => true)]);
    if (ended) throw new Error(`serve-testing ended before serving: ${io.err}`);
    address = /on (127\.0\.0\.1:\d+)/.exec(io.out)![1]!;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    stop.abort();
    expect(await done).toBe(0);
  });

  test("its banner says no credentials are checked and every token is its own tenant", () => {
    expect(io.out).toContain("no credentials are checked");
    expect(io.out).toContain("its own empty in-memory tenant");
  });

  test("gives every distinct bearer token its own empty tenant", async () => {
    const alice = as("alice-test");
    const bob = as("bob-test");
    await alice.writeSchema(v1.WriteSchemaRequest.create({ schema: SCHEMA }));
    expect((await alice.readSchema({})).schemaText).toBe(SCHEMA);
    await expectCode(bob.readSchema({}), status.NOT_FOUND);
    await bob.writeSchema(v1.WriteSchemaRequest.create({ schema: "definition user {}" }));
    expect((await alice.readSchema({})).schemaText).toBe(SCHEMA);
  });

  test("names a token's tenant by a hash of it that the tenant-id rule accepts", () => {
    expect(tenantOfToken("alice-test")).toMatch(/^t-[0-9a-f]{32}$/);
    expect(tenantOfToken("alice-test")).not.toBe(tenantOfToken("bob-test"));
  });

  test("refuses an address that is not loopback", async () => {
    const refused = output();
    const code = await runServeTesting(
      { listen: "0.0.0.0:0" },
      refused.io,
      AbortSignal.abort(),
      pino({ level: "silent" }),
    );
    expect(code).toBe(1);
    expect(refused.err).toContain("loopback");
  });

  test("its --help says it never needs real credentials", () => {
    const program = new Command("trellis");
    registerServeTestingCommand(program, { out: () => {}, err: () => {} });
    const help = program.commands.find((c) => c.name() === "serve-testing")!.helpInformation();
    expect(help).toContain("no credentials checked");
    expect(help).toContain("localhost:50051");
  });
});
