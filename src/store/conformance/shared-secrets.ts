/** Store-wide shared secrets on one instance: created once, read back, refused when malformed. */
import { expect, it } from "vitest";
import type { OpenFixture } from "./fixture.js";
import { expectCode } from "./tuple-fixtures.js";

/** A `generate` that returns `value` and counts its calls. */
function generator(value: string) {
  const calls = { count: 0 };
  const generate = (): string => {
    calls.count++;
    return value;
  };
  return { generate, calls };
}

export function sharedSecretTests(open: OpenFixture): void {
  it("creates a secret from generate once and returns the stored one afterwards", async () => {
    const { store } = await open();
    const first = generator("s3cr3t-one");
    expect(await store.sharedSecret("zookie", first.generate)).toBe("s3cr3t-one");
    const second = generator("another-value");
    expect(await store.sharedSecret("zookie", second.generate)).toBe("s3cr3t-one");
    expect(first.calls.count).toBe(1);
    expect(second.calls.count).toBe(0);
  });

  it("keeps secrets apart by name, exactly as generated", async () => {
    const { store } = await open();
    const odd = "ünïcode ✓ with spaces, quotes \" ' and \\ backslashes";
    expect(await store.sharedSecret("a", () => "value-a")).toBe("value-a");
    expect(await store.sharedSecret("A", () => odd)).toBe(odd);
    expect(await store.sharedSecret("a", () => "other")).toBe("value-a");
    expect(await store.sharedSecret("A", () => "other")).toBe(odd);
  });

  it("keeps secrets outside tenants, revisions and the changelog", async () => {
    const { store, tenant } = await open();
    await store.sharedSecret("zookie", () => "v");
    expect(await store.headRevision(tenant)).toBe(0);
    expect(await store.changesSince(tenant, 0, 10)).toEqual([]);
    expect(await store.listTenants()).toEqual([tenant]);
  });

  it("refuses malformed names and generated values with INVALID_ARGUMENT, storing nothing", async () => {
    const { store } = await open();
    for (const name of ["", "has space", "nul\0", "x".repeat(129), "slash/ed"]) {
      const err = await expectCode(
        store.sharedSecret(name, () => "v"),
        "INVALID_ARGUMENT",
      );
      expect(err.field).toBe("name");
    }
    for (const value of ["", "with\0nul", "x".repeat(4097), 42 as unknown as string]) {
      const err = await expectCode(
        store.sharedSecret("s", () => value),
        "INVALID_ARGUMENT",
      );
      expect(err.field).toBe("value");
    }
    expect(await store.sharedSecret("s", () => "x".repeat(4096))).toHaveLength(4096);
  });

  it("lets an exception of generate propagate and stores nothing", async () => {
    const { store } = await open();
    const boom = new Error("no entropy");
    await expect(
      store.sharedSecret("s", () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await store.sharedSecret("s", () => "later")).toBe("later");
  });
}
