/**
 * Reading the command line's words into the SDK's inputs — relationships in zed's three-word
 * form (`document:readme viewer user:alice`) or the tuple string, filters
 * (`document[:id] [relation] [subject_type[:id][#relation]]`), JSON contexts — and printing
 * relationships. A malformed word is a usage error naming it.
 */
import { TrellisError } from "../core/errors.js";
import {
  formatObjectRef,
  formatRelationship,
  formatSubjectRef,
  parseRelationship,
  type Relationship,
} from "../core/relationship.js";
import type { RelationshipFilter } from "../sdk/trellis-api.js";
import { UsageError } from "./serve-command.js";

/** Runs a parse; its INVALID_ARGUMENT becomes a usage error. */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TrellisError && err.code === "INVALID_ARGUMENT") {
      throw new UsageError(err.message);
    }
    throw err;
  }
}

/** A JSON object given on the command line (`--caveat-context '{"ip":"10.0.0.1"}'`). */
export function jsonObjectArgument(text: string, flag: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag}: not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${flag}: expected a JSON object such as '{"key": "value"}'`);
  }
  return value as Record<string, unknown>;
}

export interface RelationshipFlags {
  /** `name` or `name:{json}`, as zed's `--caveat`. */
  readonly caveat?: string;
  /** RFC 3339, as zed's `--expiration-time`. */
  readonly expirationTime?: string;
}

/**
 * A relationship from one tuple word (`document:readme#viewer@user:alice`) or zed's three
 * (`document:readme viewer user:alice`), with `--caveat` and `--expiration-time`.
 */
export function relationshipFromWords(
  words: readonly string[],
  flags: RelationshipFlags = {},
): Relationship {
  let tuple: string;
  if (words.length === 1) tuple = words[0]!;
  else if (words.length === 3) tuple = `${words[0]}#${words[1]}@${words[2]}`;
  else {
    throw new UsageError(
      "expected <resource:id> <relation> <subject:id[#relation]>, or one tuple resource:id#relation@subject:id",
    );
  }
  if (flags.caveat !== undefined) {
    const colon = flags.caveat.indexOf(":");
    const name = colon < 0 ? flags.caveat : flags.caveat.slice(0, colon);
    const context = colon < 0 ? "{}" : flags.caveat.slice(colon + 1);
    jsonObjectArgument(context, "--caveat");
    tuple += `[${name}:${context}]`;
  }
  if (flags.expirationTime !== undefined) tuple += `[expiration:${flags.expirationTime}]`;
  return asUsage(() => parseRelationship(tuple, "relationship"));
}

const TYPE_AND_ID = /^([^:#@]+)(?::([^#@]+))?$/;
const SUBJECT = /^([^:#@]+)(?::([^#@]+))?(?:#([^#@]+))?$/;

/**
 * A filter from zed's words: `resource_type[:id]`, an optional relation, an optional subject
 * `type[:id][#relation]` (`#...` for subjects without a relation).
 */
export function filterFromWords(
  resource: string,
  relation?: string,
  subject?: string,
): RelationshipFilter {
  const r = TYPE_AND_ID.exec(resource);
  if (r === null) {
    throw new UsageError(`invalid resource filter ${JSON.stringify(resource)}: expected type[:id]`);
  }
  let filter: RelationshipFilter = {
    resourceType: r[1]!,
    ...(r[2] !== undefined ? { resourceId: r[2] } : {}),
    ...(relation !== undefined && relation !== "" ? { relation } : {}),
  };
  if (subject !== undefined && subject !== "") {
    const s = SUBJECT.exec(subject);
    if (s === null) {
      throw new UsageError(
        `invalid subject filter ${JSON.stringify(subject)}: expected type[:id][#relation]`,
      );
    }
    filter = {
      ...filter,
      subjectType: s[1]!,
      ...(s[2] !== undefined ? { subjectId: s[2] } : {}),
      ...(s[3] !== undefined ? { subjectRelation: s[3] === "..." ? null : s[3] } : {}),
    };
  }
  return filter;
}

/** `type#relation` (`--from`, `--to` of migrate). */
export function typeAndRelation(text: string, flag: string): { type: string; relation: string } {
  const m = /^([^#:@]+)#([^#:@]+)$/.exec(text);
  if (m === null)
    throw new UsageError(`${flag}: expected type#relation, got ${JSON.stringify(text)}`);
  return { type: m[1]!, relation: m[2]! };
}

/** A positive integer flag. */
export function positiveInteger(text: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(
      `${flag} must be an integer from 1 to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/** A relationship as `--json` prints it: its parts and its tuple string. */
export function relationshipJson(rel: Relationship): Record<string, unknown> {
  return {
    relationship: formatRelationship(rel),
    resource: formatObjectRef(rel.resource),
    relation: rel.relation,
    subject: formatSubjectRef(rel.subject),
    ...(rel.caveat !== undefined
      ? { caveat: { name: rel.caveat.name, context: rel.caveat.context ?? {} } }
      : {}),
    ...(rel.expiration !== undefined ? { expiration: rel.expiration.toISOString() } : {}),
  };
}
