/**
 * Caveat context values as JavaScript holds them — a `Date` for a timestamp, `{ seconds,
 * nanos? }` for a duration, a `bigint`, bytes — converted once, in `caveat-values.ts`, for
 * both entry points: the same context gives the same answer embedded and over gRPC, in a
 * request's context and in a relationship's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startServer } from "../../src/api/server.js";
import { Engine } from "../../src/engine/engine.js";
import { Trellis } from "../../src/index.js";
import { caveatContextToWire, formatGoDuration } from "../../src/sdk/caveat-values.js";
import { type TrellisApi, TrellisClient, TrellisError } from "../../src/sdk/index.js";
import { openTestStore } from "../support/test-stores.js";

describe("caveatContextToWire", () => {
  test("a Date becomes an RFC 3339 string, anywhere in the context", () => {
    const at = new Date("2030-01-02T03:04:05.678Z");
    expect(caveatContextToWire({ now: at, list: [at], map: { a: at } })).toEqual({
      now: "2030-01-02T03:04:05.678Z",
      list: ["2030-01-02T03:04:05.678Z"],
      map: { a: "2030-01-02T03:04:05.678Z" },
    });
  });

  test("{ seconds, nanos? } becomes a Go duration string", () => {
    expect(caveatContextToWire({ d: { seconds: 90 } })).toEqual({ d: "90s" });
    expect(caveatContextToWire({ d: { seconds: 1, nanos: 500_000_000 } })).toEqual({ d: "1.5s" });
    expect(caveatContextToWire({ d: { seconds: 0, nanos: 1 } })).toEqual({ d: "0.000000001s" });
    expect(caveatContextToWire({ d: { seconds: -2, nanos: -250_000_000 } })).toEqual({
      d: "-2.25s",
    });
    expect(caveatContextToWire({ d: { seconds: 10n } })).toEqual({ d: "10s" });
    expect(formatGoDuration(3600)).toBe("3600s");
    // Other keys: an ordinary map, left as it is.
    expect(caveatContextToWire({ m: { seconds: 1, unit: "x" } })).toEqual({
      m: { seconds: 1, unit: "x" },
    });
  });

  test("bigints become decimal strings and bytes base64; JSON passes unchanged", () => {
    expect(caveatContextToWire({ big: 2n ** 63n - 1n, raw: new Uint8Array([1, 2, 255]) })).toEqual({
      big: "9223372036854775807",
      raw: "AQL/",
    });
    const plain = { s: "x", n: 1, b: true, l: [1, "a"], nil: null };
    expect(caveatContextToWire(plain)).toEqual(plain);
  });

  test("an invalid Date or an out-of-range duration is INVALID_ARGUMENT naming the field", () => {
    let thrown: unknown;
    try {
      caveatContextToWire({ when: new Date("nope") });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TrellisError);
    expect(thrown).toMatchObject({ code: "INVALID_ARGUMENT", field: "context.when" });
    expect(() => caveatContextToWire({ d: { seconds: 1, nanos: 2_000_000_000 } })).toThrow(
      TrellisError,
    );
    expect(() => caveatContextToWire({ d: { seconds: 2n ** 62n } })).toThrow(TrellisError);
  });
});

const SCHEMA = `
caveat before_deadline(now timestamp, deadline timestamp) { now < deadline }

caveat short_enough(elapsed duration, limit duration) { elapsed <= limit }

definition user {}

definition document {
	relation viewer: user with before_deadline | user with short_enough
	permission view = viewer
}
`;

const DEADLINE = new Date("2030-06-01T00:00:00Z");

/** The same questions to either entry point. */
function describeCaveatValues(
  name: string,
  open: () => Promise<{ api: TrellisApi; close(): Promise<void> }>,
) {
  describe(name, () => {
    let api: TrellisApi;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ api, close } = await open());
      await api.writeSchema(SCHEMA);
      await api.writeRelationships([
        {
          op: "TOUCH",
          relationship: {
            resource: { type: "document", id: "report" },
            relation: "viewer",
            subject: { type: "user", id: "ann" },
            caveat: { name: "before_deadline", context: { deadline: DEADLINE } },
          },
        },
        {
          op: "TOUCH",
          relationship: {
            resource: { type: "document", id: "call" },
            relation: "viewer",
            subject: { type: "user", id: "bo" },
            caveat: { name: "short_enough", context: { limit: { seconds: 90 } } },
          },
        },
      ]);
    });
    afterAll(() => close());

    const fresh = () => ({ consistency: { atLeastAsFresh: api.lastZookie! } });

    test("a Date written on a relationship is stored as its RFC 3339 text", async () => {
      const rels = [];
      for await (const r of api.readRelationships(
        { resourceType: "document", resourceId: "report" },
        fresh(),
      )) {
        rels.push(r);
      }
      expect(rels[0]?.caveat?.context).toEqual({ deadline: "2030-06-01T00:00:00.000Z" });
    });

    test("a Date in the request context decides a timestamp caveat", async () => {
      const before = await api.check("document:report", "view", "user:ann", {
        ...fresh(),
        context: { now: new Date("2030-05-31T23:59:59Z") },
      });
      expect(before.permissionship).toBe("ALLOWED");
      const after = await api.check("document:report", "view", "user:ann", {
        ...fresh(),
        context: { now: new Date("2030-06-01T00:00:01Z") },
      });
      expect(after.permissionship).toBe("DENIED");
    });

    test("{ seconds } in the request context decides a duration caveat, like the string form", async () => {
      const within = await api.check("document:call", "view", "user:bo", {
        ...fresh(),
        context: { elapsed: { seconds: 89, nanos: 999_000_000 } },
      });
      expect(within.permissionship).toBe("ALLOWED");
      const over = await api.check("document:call", "view", "user:bo", {
        ...fresh(),
        context: { elapsed: { seconds: 91 } },
      });
      expect(over.permissionship).toBe("DENIED");
      const asString = await api.check("document:call", "view", "user:bo", {
        ...fresh(),
        context: { elapsed: "1m31s" },
      });
      expect(asString.permissionship).toBe("DENIED");
      const listed: string[] = [];
      for await (const s of api.listSubjects("document:call", "view", "user", {
        ...fresh(),
        context: { elapsed: { seconds: 30 } },
      })) {
        listed.push(s);
      }
      expect(listed).toEqual(["user:bo"]);
    });

    test("a bare number for a duration is refused, as SpiceDB refuses it", async () => {
      await expect(
        api.check("document:call", "view", "user:bo", { ...fresh(), context: { elapsed: 90_000 } }),
      ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    });
  });
}

describeCaveatValues("the embedded Trellis", async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-caveat-values-"));
  const api = await Trellis.open({ datastore: `sqlite:${join(dir, "t.db")}` });
  return {
    api,
    close: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeCaveatValues("TrellisClient against a real server", async () => {
  const store = await openTestStore("sqlite");
  const engine = new Engine(store.store, { zookieSecret: "caveat-values-zookie-secret-0123" });
  const server = await startServer({
    engine,
    listen: "127.0.0.1:0",
    insecureDev: true,
    defaultTenant: "default",
    logger: pino({ level: "silent" }),
  });
  const api = new TrellisClient({ address: server.address });
  return {
    api,
    close: async () => {
      await api.close();
      await server.close({ graceMs: 500 });
      await engine.close();
      await store.close();
    },
  };
});
