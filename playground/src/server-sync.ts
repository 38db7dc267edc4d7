/**
 * The workspace's schema and relationships loaded from, and written to, a Trellis server
 * through its HTTP/JSON face (`trellis serve --http-listen`), with the caller's own token and
 * scopes: loading needs `read`; saving needs `write` and `schema`. Assertions and expected
 * relations stay in the page (and in the exported validation file).
 *
 * Saving makes the server's tenant hold what the workspace holds: the relationships the
 * workspace dropped are deleted first (so that the new schema orphans none of them), then the
 * schema is written, then the workspace's relationships are touched.
 */
import { formatRelationship, parseRelationship, type Relationship } from "../../src/browser.js";

export interface ServerTarget {
  /** `http://127.0.0.1:8080`; empty: the page's own origin. */
  readonly url: string;
  readonly token: string;
  /** `trellis-tenant`, when the token's tenant is not the server's default. */
  readonly tenant: string;
}

/** Updates per Write call: under the server's default `--max-updates-per-write` (1,000). */
const WRITE_BATCH = 500;

/** A relationship as proto3 JSON of `trellis.v1.Relationship`. */
interface WireRelationship {
  resource: { objectType: string; objectId: string };
  relation: string;
  subject: { object: { objectType: string; objectId: string }; optionalRelation?: string };
  optionalCaveat?: { caveatName: string; context?: Record<string, unknown> };
  optionalExpiresAt?: string;
}

function toWire(rel: Relationship): WireRelationship {
  return {
    resource: { objectType: rel.resource.type, objectId: rel.resource.id },
    relation: rel.relation,
    subject: {
      object: { objectType: rel.subject.type, objectId: rel.subject.id },
      ...(rel.subject.relation !== undefined ? { optionalRelation: rel.subject.relation } : {}),
    },
    ...(rel.caveat !== undefined
      ? {
          optionalCaveat: {
            caveatName: rel.caveat.name,
            ...(rel.caveat.context !== undefined ? { context: { ...rel.caveat.context } } : {}),
          },
        }
      : {}),
    ...(rel.expiration !== undefined ? { optionalExpiresAt: rel.expiration.toISOString() } : {}),
  };
}

/** The string form of a wire relationship, through the one parser of that form. */
function fromWire(w: WireRelationship): string {
  const subject = `${w.subject.object.objectType}:${w.subject.object.objectId}${w.subject.optionalRelation ? `#${w.subject.optionalRelation}` : ""}`;
  let text = `${w.resource.objectType}:${w.resource.objectId}#${w.relation}@${subject}`;
  if (w.optionalCaveat !== undefined) {
    const context = w.optionalCaveat.context;
    text += `[${w.optionalCaveat.caveatName}${context !== undefined && Object.keys(context).length > 0 ? `:${JSON.stringify(context)}` : ""}]`;
  }
  if (w.optionalExpiresAt !== undefined) text += `[expiration:${w.optionalExpiresAt}]`;
  return formatRelationship(parseRelationship(text));
}

export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call(target: ServerTarget, method: string, body: unknown): Promise<string> {
  const base = (target.url.trim() || location.origin).replace(/\/+$/, "");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (target.token.trim() !== "") headers.authorization = `Bearer ${target.token.trim()}`;
  if (target.tenant.trim() !== "") headers["trellis-tenant"] = target.tenant.trim();
  const response = await fetch(`${base}/trellis.v1.${method}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let code = `HTTP ${response.status}`;
    let message = text;
    try {
      const parsed = JSON.parse(text) as { code?: string; message?: string };
      code = parsed.code ?? code;
      message = parsed.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new ServerError(response.status, code, `${method}: ${code}: ${message}`);
  }
  return text;
}

/** The tenant's schema text (empty when it has none) and relationships in string form. */
export async function loadFromServer(
  target: ServerTarget,
): Promise<{ schema: string; relationships: string[] }> {
  const consistency = { fullyConsistent: true };
  let schema = "";
  try {
    const read = JSON.parse(await call(target, "SchemaService/ReadSchema", { consistency })) as {
      schemaText?: string;
    };
    schema = read.schemaText ?? "";
  } catch (err) {
    // A tenant without a schema holds no relationships (and refuses to export them).
    if (err instanceof ServerError && err.code === "NOT_FOUND")
      return { schema, relationships: [] };
    throw err;
  }
  const lines: string[] = [];
  const exported = await call(target, "RelationshipService/Export", { consistency });
  for (const line of exported.split("\n")) {
    if (line.trim() === "") continue;
    const message = JSON.parse(line) as {
      result?: { relationships?: WireRelationship[] };
      error?: { code?: string; message?: string };
    };
    if (message.error !== undefined) {
      throw new ServerError(
        200,
        message.error.code ?? "UNKNOWN",
        `Export: ${message.error.message}`,
      );
    }
    for (const rel of message.result?.relationships ?? []) lines.push(fromWire(rel));
  }
  return { schema, relationships: lines };
}

async function write(
  target: ServerTarget,
  operation: "OPERATION_TOUCH" | "OPERATION_DELETE",
  relationships: readonly Relationship[],
): Promise<void> {
  for (let i = 0; i < relationships.length; i += WRITE_BATCH) {
    const updates = relationships
      .slice(i, i + WRITE_BATCH)
      .map((relationship) => ({ operation, relationship: toWire(relationship) }));
    await call(target, "RelationshipService/Write", { updates });
  }
}

/** Makes the server's tenant hold the workspace's schema and relationships; returns counts. */
export async function saveToServer(
  target: ServerTarget,
  schema: string,
  relationships: readonly Relationship[],
): Promise<{ deleted: number; written: number }> {
  const current = await loadFromServer(target);
  const keep = new Set(relationships.map(formatRelationship));
  const stale = current.relationships
    .filter((line) => !keep.has(line))
    .map((line) => parseRelationship(line));
  await write(target, "OPERATION_DELETE", stale);
  await call(target, "SchemaService/WriteSchema", { schema });
  await write(target, "OPERATION_TOUCH", relationships);
  return { deleted: stale.length, written: relationships.length };
}
