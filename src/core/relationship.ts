/**
 * Objects, subjects and relationships, and their string forms:
 * `document:1#viewer@group:eng#member[caveat_name:{"k":1}][expiration:2030-01-01T00:00:00Z]`.
 */
import { invalidArgument, TrellisError } from "./errors.js";
import {
  ELLIPSIS,
  isValidIdentifier,
  isValidObjectId,
  isValidTypeName,
  WILDCARD_ID,
} from "./names.js";
import { quoteInput } from "./quote-input.js";

/** An object: `type:id`. */
export interface ObjectRef {
  readonly type: string;
  readonly id: string;
}

/**
 * A subject: an object (`user:alice`), a userset (`group:eng#member`: everyone with `member`
 * on `group:eng`) or a wildcard (`user:*`: every `user`). `relation` is absent for the object
 * itself (SpiceDB's `...`).
 */
export interface SubjectRef {
  readonly type: string;
  readonly id: string;
  readonly relation?: string;
}

/** JSON object given as caveat context, on a tuple or a request. */
export type CaveatContext = Readonly<Record<string, unknown>>;

/** A caveat on a relationship: its name and the context written with the tuple. */
export interface CaveatRef {
  readonly name: string;
  readonly context?: CaveatContext;
}

/** One relation tuple: `resource#relation@subject`, optionally caveated and expiring. */
export interface Relationship {
  readonly resource: ObjectRef;
  readonly relation: string;
  readonly subject: SubjectRef;
  readonly caveat?: CaveatRef;
  /** The instant after which the tuple no longer exists for evaluation. */
  readonly expiration?: Date;
}

export function isWildcard(subject: SubjectRef): boolean {
  return subject.id === WILDCARD_ID;
}

// ---- validation -------------------------------------------------------------------------

function checkType(type: string, field: string): void {
  if (!isValidTypeName(type)) {
    throw invalidArgument(`invalid object type ${quoteInput(type)}: expected ${typeRule}`, field);
  }
}

const typeRule =
  "lowercase letters, digits and '_', 3-64 characters, optionally with 'prefix/' segments";

function checkRelation(relation: string, field: string): void {
  if (!isValidIdentifier(relation)) {
    throw invalidArgument(
      `invalid relation ${quoteInput(relation)}: expected lowercase letters, digits and '_', 3-64 characters`,
      field,
    );
  }
}

function checkId(id: string, field: string): void {
  if (!isValidObjectId(id)) {
    throw invalidArgument(
      `invalid object id ${quoteInput(id)}: expected 1-1024 characters of [A-Za-z0-9/_|-=+@.:]`,
      field,
    );
  }
}

export function validateObjectRef(ref: ObjectRef, field = "resource"): void {
  checkType(ref.type, `${field}.type`);
  checkId(ref.id, `${field}.id`);
}

export function validateSubjectRef(ref: SubjectRef, field = "subject"): void {
  checkType(ref.type, `${field}.type`);
  if (ref.id === WILDCARD_ID) {
    if (ref.relation !== undefined) {
      throw invalidArgument(
        `wildcard subject ${ref.type}:* cannot carry a relation (${quoteInput(ref.relation)})`,
        `${field}.relation`,
      );
    }
    return;
  }
  checkId(ref.id, `${field}.id`);
  if (ref.relation !== undefined) checkRelation(ref.relation, `${field}.relation`);
}

/** Throws INVALID_ARGUMENT naming the field when any part of the relationship is malformed. */
export function validateRelationship(rel: Relationship, field = "relationship"): void {
  validateObjectRef(rel.resource, `${field}.resource`);
  if (rel.resource.id === WILDCARD_ID) {
    throw invalidArgument("a resource id cannot be the wildcard '*'", `${field}.resource.id`);
  }
  checkRelation(rel.relation, `${field}.relation`);
  validateSubjectRef(rel.subject, `${field}.subject`);
  if (rel.caveat !== undefined) {
    if (!isValidTypeName(rel.caveat.name)) {
      throw invalidArgument(
        `invalid caveat name ${quoteInput(rel.caveat.name)}`,
        `${field}.caveat.name`,
      );
    }
    const ctx = rel.caveat.context;
    if (ctx !== undefined && (ctx === null || typeof ctx !== "object" || Array.isArray(ctx))) {
      throw invalidArgument("caveat context must be a JSON object", `${field}.caveat.context`);
    }
  }
  if (rel.expiration !== undefined && Number.isNaN(rel.expiration.getTime())) {
    throw invalidArgument("invalid expiration time", `${field}.expiration`);
  }
}

// ---- parsing ----------------------------------------------------------------------------

/** Parses `type:id`. */
export function parseObjectRef(text: string, field = "resource"): ObjectRef {
  const colon = text.indexOf(":");
  if (colon <= 0) throw invalidArgument(`expected "type:id", got ${quoteInput(text)}`, field);
  const ref = { type: text.slice(0, colon), id: text.slice(colon + 1) };
  validateObjectRef(ref, field);
  return ref;
}

/** Parses `type:id`, `type:id#relation` or `type:*`. `#...` means no relation. */
export function parseSubjectRef(text: string, field = "subject"): SubjectRef {
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw invalidArgument(`expected "type:id[#relation]", got ${quoteInput(text)}`, field);
  }
  const hash = text.indexOf("#", colon);
  const type = text.slice(0, colon);
  const id = hash < 0 ? text.slice(colon + 1) : text.slice(colon + 1, hash);
  const relation = hash < 0 ? undefined : text.slice(hash + 1);
  const ref: SubjectRef =
    relation === undefined || relation === ELLIPSIS ? { type, id } : { type, id, relation };
  validateSubjectRef(ref, field);
  return ref;
}

/**
 * Parses the tuple string form. Caveat context is a JSON object; expiration is RFC 3339.
 * Throws INVALID_ARGUMENT with a reason on any malformed part.
 */
export function parseRelationship(text: string, field = "relationship"): Relationship {
  const input = text.trim();
  const hash = input.indexOf("#");
  if (hash < 0) throw malformed(input, "missing '#relation'", field);
  const at = input.indexOf("@", hash);
  if (at < 0) throw malformed(input, "missing '@subject'", field);
  const bracket = input.indexOf("[", at);
  const subjectText = bracket < 0 ? input.slice(at + 1) : input.slice(at + 1, bracket);

  const resource = parseObjectRef(input.slice(0, hash), `${field}.resource`);
  const relation = input.slice(hash + 1, at);
  checkRelation(relation, `${field}.relation`);
  const subject = parseSubjectRef(subjectText, `${field}.subject`);

  let caveat: CaveatRef | undefined;
  let expiration: Date | undefined;
  let pos = bracket;
  while (pos >= 0 && pos < input.length) {
    if (input[pos] !== "[")
      throw malformed(input, `unexpected ${quoteInput(input.slice(pos))}`, field);
    const parsed = parseBracket(input, pos + 1, field);
    if (parsed.kind === "expiration") {
      if (expiration !== undefined) throw malformed(input, "two expirations", field);
      expiration = parsed.expiration;
    } else {
      if (caveat !== undefined) throw malformed(input, "two caveats", field);
      if (expiration !== undefined) {
        throw malformed(input, "the caveat must come before the expiration", field);
      }
      caveat = parsed.caveat;
    }
    pos = parsed.end;
  }
  const rel: Relationship = {
    resource,
    relation,
    subject,
    ...(caveat !== undefined ? { caveat } : {}),
    ...(expiration !== undefined ? { expiration } : {}),
  };
  validateRelationship(rel, field);
  return rel;
}

function malformed(text: string, reason: string, field: string): TrellisError {
  return invalidArgument(`malformed relationship ${quoteInput(text)}: ${reason}`, field);
}

type Bracket =
  | { kind: "caveat"; caveat: CaveatRef; end: number }
  | { kind: "expiration"; expiration: Date; end: number };

/** Parses one `[...]` group starting after its `[`; returns the index after its `]`. */
function parseBracket(input: string, start: number, field: string): Bracket {
  let i = start;
  while (i < input.length && input[i] !== ":" && input[i] !== "]") i++;
  if (i >= input.length) throw malformed(input, "unclosed '['", field);
  const name = input.slice(start, i);
  if (input[i] === "]") {
    if (name === "expiration") throw malformed(input, "expiration needs a time", field);
    return { kind: "caveat", caveat: { name }, end: i + 1 };
  }
  i++; // past ':'
  if (name === "expiration") {
    const close = input.indexOf("]", i);
    if (close < 0) throw malformed(input, "unclosed '['", field);
    const stamp = input.slice(i, close);
    return { kind: "expiration", expiration: parseTimestamp(stamp, field), end: close + 1 };
  }
  const jsonEnd = scanJsonObject(input, i);
  if (jsonEnd < 0 || input[jsonEnd] !== "]") {
    throw malformed(input, `caveat ${quoteInput(name)} context must be a JSON object`, field);
  }
  let context: unknown;
  try {
    context = JSON.parse(input.slice(i, jsonEnd));
  } catch (cause) {
    throw new TrellisError(
      "INVALID_ARGUMENT",
      `invalid caveat context JSON for ${quoteInput(name)}`,
      {
        cause,
        field: `${field}.caveat.context`,
      },
    );
  }
  if (context === null || typeof context !== "object" || Array.isArray(context)) {
    throw malformed(input, `caveat ${quoteInput(name)} context must be a JSON object`, field);
  }
  return {
    kind: "caveat",
    caveat: { name, context: context as CaveatContext },
    end: jsonEnd + 1,
  };
}

/** Returns the index after the balanced `{...}` starting at `start`, or -1. */
function scanJsonObject(input: string, start: number): number {
  if (input[start] !== "{") return -1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < input.length; i++) {
    const c = input[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp; INVALID_ARGUMENT when malformed. */
export function parseTimestamp(text: string, field = "expiration"): Date {
  const d = RFC3339.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) {
    throw invalidArgument(`invalid RFC 3339 time ${quoteInput(text)}`, field);
  }
  return d;
}

// ---- printing ---------------------------------------------------------------------------

export function formatObjectRef(ref: ObjectRef): string {
  return `${ref.type}:${ref.id}`;
}

export function formatSubjectRef(ref: SubjectRef): string {
  return ref.relation === undefined
    ? `${ref.type}:${ref.id}`
    : `${ref.type}:${ref.id}#${ref.relation}`;
}

/** RFC 3339 in UTC, without a fraction when the time has whole seconds (as SpiceDB prints). */
export function formatTimestamp(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** The canonical tuple string; `parseRelationship(formatRelationship(r))` equals `r`. */
export function formatRelationship(rel: Relationship): string {
  let s = `${formatObjectRef(rel.resource)}#${rel.relation}@${formatSubjectRef(rel.subject)}`;
  if (rel.caveat !== undefined) {
    const ctx = rel.caveat.context;
    s +=
      ctx !== undefined && Object.keys(ctx).length > 0
        ? `[${rel.caveat.name}:${JSON.stringify(ctx)}]`
        : `[${rel.caveat.name}]`;
  }
  if (rel.expiration !== undefined) s += `[expiration:${formatTimestamp(rel.expiration)}]`;
  return s;
}

/**
 * The identity of a tuple: resource, relation and subject. Two relationships with the same key
 * are the same tuple (a TOUCH of one replaces the other's caveat and expiration).
 */
export function relationshipKey(rel: Relationship): string {
  return `${rel.resource.type}:${rel.resource.id}#${rel.relation}@${formatSubjectRef(rel.subject)}`;
}
