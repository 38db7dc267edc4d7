/** Small builders and assertions the conformance topics share. */
import { expect } from "vitest";
import {
  parseRelationship,
  type Relationship,
  relationshipKey,
  TrellisError,
  type TrellisErrorCode,
} from "../../core/index.js";
import type { Datastore, Mutation } from "../datastore.js";

/** A relationship from its string form, e.g. `doc:readme#viewer@user:alice`. */
export function rel(text: string): Relationship {
  return parseRelationship(text);
}

export function create(text: string): Mutation {
  return { op: "CREATE", relationship: rel(text) };
}

export function touch(text: string): Mutation {
  return { op: "TOUCH", relationship: rel(text) };
}

export function remove(text: string): Mutation {
  return { op: "DELETE", relationship: rel(text) };
}

/** The tuple keys (no caveat or expiration), sorted, for order-insensitive comparison. */
export function keys(rels: readonly Relationship[]): string[] {
  return rels.map(relationshipKey).sort();
}

/** The tuple keys in the order given. */
export function orderedKeys(rels: readonly Relationship[]): string[] {
  return rels.map(relationshipKey);
}

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** Every live tuple of the tenant at `revision` (head by default), through export. */
export async function everything(
  store: Datastore,
  tenant: string,
  revision?: number,
): Promise<Relationship[]> {
  const at = revision ?? (await store.headRevision(tenant));
  return collect(store.export(tenant, at));
}

/** Awaits `promise`, expecting a TrellisError with `code`; returns it for further checks. */
export async function expectCode(
  promise: Promise<unknown> | (() => Promise<unknown>),
  code: TrellisErrorCode,
): Promise<TrellisError> {
  let error: unknown;
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (err) {
    error = err;
  }
  expect(error, `expected a ${code} error`).toBeInstanceOf(TrellisError);
  expect((error as TrellisError).code).toBe(code);
  return error as TrellisError;
}

/** Byte-wise string order, the stable order of the stores. */
export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
