// The failure limiter as callers meet it, through the Authenticator over a real SQLite store
// and a clock the test moves: valid credentials are always served, failing attempts are
// throttled per address (IPv6 by /64) and per key id, and a throttled source's refusals are
// one audit line per window.
import { afterEach, describe, expect, test } from "vitest";
import { ManualClock } from "../../test/support/manual-clock.js";
import { openTestStore, type TestStore } from "../../test/support/test-stores.js";
import { TrellisError } from "../core/errors.js";
import { parseApiKey } from "./api-key-token.js";
import { ApiKeys } from "./api-keys.js";
import type { AuditLog, AuthFailureEvent, AuthThrottledEvent } from "./audit-log.js";
import { Authenticator } from "./authenticator.js";
import { FailureLimiter, limitedAddress } from "./failure-limiter.js";

const MAX = 5;
const WINDOW = 60_000;

class RecordedAudit implements AuditLog {
  readonly failures: AuthFailureEvent[] = [];
  readonly throttled: AuthThrottledEvent[] = [];
  authFailure(event: AuthFailureEvent): void {
    this.failures.push(event);
  }
  authThrottled(event: AuthThrottledEvent): void {
    this.throttled.push(event);
  }
  write(): void {}
}

let t: TestStore | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function setup() {
  const clock = new ManualClock(new Date());
  t = await openTestStore("sqlite", clock);
  await t.store.createTenant("t1");
  const keys = new ApiKeys(t.store, { clock });
  const audit = new RecordedAudit();
  const auth = new Authenticator({
    apiKeys: keys,
    limiter: new FailureLimiter({ clock, maxFailures: MAX, windowMs: WINDOW }),
    audit,
  });
  const valid = (await keys.create({ tenant: "t1", scopes: ["check"] })).token;
  /** The status code a call from `peer` with `token` ends with. */
  const code = async (token: string | undefined, peer: string): Promise<string> => {
    try {
      await auth.authenticate(token === undefined ? undefined : `Bearer ${token}`, peer, "m");
      return "OK";
    } catch (err) {
      return (err as TrellisError).code;
    }
  };
  return { clock, keys, auth, audit, valid, code };
}

/** A well-formed token of `token`'s key id with another secret. */
function wrongSecret(token: string, n: number): string {
  const id = parseApiKey(token)!.id;
  return `trls_${id}_${String(n).padStart(43, "A")}`;
}

describe("the failure limiter never locks out a valid credential", () => {
  test("junk from an address throttles the junk, not a valid key from the same address", async () => {
    const { valid, code, keys } = await setup();
    const nat = "ipv4:10.0.0.1:40000";
    for (let i = 0; i < MAX; i++) expect(await code("trls_junk", nat)).toBe("UNAUTHENTICATED");
    expect(await code("trls_junk", nat)).toBe("RESOURCE_EXHAUSTED");
    expect(await code(undefined, nat)).toBe("RESOURCE_EXHAUSTED");
    // Never seen before (a store read), then remembered: served both times.
    expect(await code(valid, nat)).toBe("OK");
    expect(await code(valid, nat)).toBe("OK");
    const other = (await keys.create({ tenant: "t1", scopes: ["read"] })).token;
    expect(await code(other, "ipv4:10.0.0.1:40001")).toBe("OK");
    // Another address is not affected at all.
    expect(await code("trls_junk", "ipv4:10.0.0.2:40000")).toBe("UNAUTHENTICATED");
  });

  test("guessing one key id from many addresses is throttled by that key id; the key still works", async () => {
    const { valid, code, keys } = await setup();
    for (let i = 0; i < MAX; i++) {
      expect(await code(wrongSecret(valid, i), `ipv4:10.1.0.${i}:1`)).toBe("UNAUTHENTICATED");
    }
    expect(await code(wrongSecret(valid, 99), "ipv4:10.1.1.1:1")).toBe("RESOURCE_EXHAUSTED");
    expect(await code(valid, "ipv4:10.1.1.1:1")).toBe("OK");
    const other = (await keys.create({ tenant: "t1", scopes: ["check"] })).token;
    expect(await code(wrongSecret(other, 1), "ipv4:10.1.1.2:1")).toBe("UNAUTHENTICATED");
  });

  test("IPv6 addresses count by their /64", async () => {
    const { code } = await setup();
    for (let i = 1; i <= MAX; i++) {
      expect(await code("trls_junk", `ipv6:[2001:db8:1:2::${i.toString(16)}]:1`)).toBe(
        "UNAUTHENTICATED",
      );
    }
    expect(await code("trls_junk", "ipv6:[2001:db8:1:2:ffff:1:2:3]:1")).toBe("RESOURCE_EXHAUSTED");
    expect(await code("trls_junk", "ipv6:[2001:db8:1:3::1]:1")).toBe("UNAUTHENTICATED");
    expect(limitedAddress("2001:0DB8:0001:0002:0000:0000:0000:0009")).toBe("2001:db8:1:2::/64");
    expect(limitedAddress("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(limitedAddress("::1")).toBe("0:0:0:0::/64");
    expect(limitedAddress("10.0.0.1")).toBe("10.0.0.1");
  });

  test("refusals while throttled are one audit line per address per window, with their count", async () => {
    const { clock, code, audit, auth } = await setup();
    const peer = "ipv4:10.2.0.1:1";
    for (let i = 0; i < MAX + 1000; i++) await code("trls_junk", peer);
    expect(audit.failures).toHaveLength(MAX);
    expect(audit.throttled).toHaveLength(0);
    clock.advance(WINDOW);
    // The next call of anyone notices the ended window.
    await code(undefined, "ipv4:10.9.9.9:1");
    expect(audit.throttled).toEqual([
      expect.objectContaining({ address: "10.2.0.1", refused: 1000 }),
    ]);
    // A new window: counted afresh; at shutdown the open one is written too.
    for (let i = 0; i < MAX + 3; i++) await code("trls_junk", peer);
    auth.flush();
    expect(audit.throttled).toHaveLength(2);
    expect(audit.throttled[1]).toMatchObject({ address: "10.2.0.1", refused: 3 });
    expect(audit.failures).toHaveLength(2 * MAX + 1);
  });

  test("more than one authorization value is refused and audited, even with a valid key among them", async () => {
    const { valid, auth, audit } = await setup();
    const err = await Promise.resolve()
      .then(() => auth.authenticate([`Bearer ${valid}`, `Bearer ${valid}`], "ipv4:10.3.0.1:1", "m"))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe("UNAUTHENTICATED");
    expect(audit.failures.at(-1)).toMatchObject({ reason: "duplicate_authorization" });
  });
});
