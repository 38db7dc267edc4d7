/**
 * The workspace: what a user builds in the playground — a schema, relationships one a line,
 * assertions and expected relations (the `assertions:` and `validation:` blocks of a
 * validation file, as YAML) and the inputs of the check panel. It is written out as a
 * validation file that `trellis validate` runs, read back from one, and carried in the URL
 * fragment for sharing (the fragment never reaches a server).
 */
import { isMap, isScalar, isSeq, type Node, parseDocument, stringify, type YAMLMap } from "yaml";

export interface CheckInputs {
  readonly resource: string;
  readonly permission: string;
  readonly subject: string;
  /** JSON object text, or empty. */
  readonly context: string;
}

export interface Workspace {
  readonly schema: string;
  /** One relationship a line, in the string form; blank lines and `//` comments allowed. */
  readonly relationships: string;
  /** YAML: the value of a validation file's `assertions:` (`assertTrue: [...]`, …). */
  readonly assertions: string;
  /** YAML: the value of a validation file's `validation:` (`resource#permission: [...]`). */
  readonly validation: string;
  readonly check: CheckInputs;
}

export const EMPTY_CHECK: CheckInputs = { resource: "", permission: "", subject: "", context: "" };

/** Where each block of a validation file written by `toValidationYaml` starts (1-based lines). */
export interface BlockLines {
  readonly relationships: number;
  readonly assertions: number;
  readonly validation: number;
}

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((line) => (line.trim() === "" ? "" : by + line))
    .join("\n");
}

/**
 * The workspace as a validation file. `relationships` replaces the workspace's lines (the
 * playground runs only those that parse). The blocks' first lines are returned so that an
 * error the file's reader reports at a line can be shown in the editor it came from.
 */
export function toValidationYaml(
  ws: Workspace,
  relationships: string = ws.relationships,
): { text: string; lines: BlockLines } {
  const head = stringify(
    { schema: ws.schema.replace(/\s+$/, ""), relationships: relationships.replace(/\s+$/, "") },
    { blockQuote: "literal", lineWidth: 0 },
  );
  let text = head;
  const lineCount = (s: string) => s.split("\n").length - (s.endsWith("\n") ? 1 : 0);
  const relationshipsKey = head.split("\n").findIndex((l) => l.startsWith("relationships:"));
  // A block scalar's content starts on the line after its key.
  const lines = {
    relationships: relationshipsKey + 2,
    assertions: 0,
    validation: 0,
  };
  const assertions = ws.assertions.replace(/\s+$/, "");
  if (assertions.trim() !== "") {
    lines.assertions = lineCount(text) + 2;
    text += `assertions:\n${indent(assertions, "  ")}\n`;
  }
  const validation = ws.validation.replace(/\s+$/, "");
  if (validation.trim() !== "") {
    lines.validation = lineCount(text) + 2;
    text += `validation:\n${indent(validation, "  ")}\n`;
  }
  return { text, lines };
}

/**
 * The text of a top-level key's block value as written (comments above its first entry
 * included), its indentation removed; a flow value (`{}`, `[a]`) as YAML writes it.
 */
function blockText(source: string, root: YAMLMap, key: string): string {
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === key);
  const node = pair?.value as Node | null | undefined;
  if (pair === undefined || node === null || node === undefined) return "";
  if (isScalar(node) && node.value === null) return "";
  const keyEnd = (pair.key as Node).range?.[1];
  if ((isMap(node) || isSeq(node)) && !node.flow && node.range && keyEnd !== undefined) {
    const from = source.indexOf("\n", keyEnd) + 1;
    const lines = source.slice(from, node.range[2]).replace(/\s+$/, "").split("\n");
    const depth = Math.min(
      ...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length),
    );
    return lines.map((l) => l.slice(Math.min(depth, l.length - l.trimStart().length))).join("\n");
  }
  return stringify(node.toJSON()).replace(/\s+$/, "");
}

/**
 * A workspace from a validation file's text: `schema:` inline, or a `schemaFile:` that
 * `schemaFiles` has (the presets); a browser reads no other file. Throws `Error` with a message
 * for the user when the file is not one.
 */
export function fromValidationYaml(
  text: string,
  check: CheckInputs = EMPTY_CHECK,
  schemaFiles: ReadonlyMap<string, string> = new Map(),
): Workspace {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`not YAML: ${doc.errors[0]!.message}`);
  const root = doc.contents;
  if (!isMap(root)) throw new Error("a validation file is a YAML mapping");
  const schemaFile = root.get("schemaFile");
  const schema = typeof schemaFile === "string" ? schemaFiles.get(schemaFile) : root.get("schema");
  if (typeof schema !== "string") {
    throw new Error(
      root.has("schemaFile")
        ? "this file names a schemaFile:, which a browser cannot read: paste the schema inline (trellis schema compile prints it)"
        : "the file has no schema:",
    );
  }
  const relationships = root.get("relationships");
  return {
    schema,
    relationships: typeof relationships === "string" ? relationships : "",
    assertions: blockText(text, root, "assertions"),
    validation: blockText(text, root, "validation"),
    check,
  };
}

// ---- the URL fragment -------------------------------------------------------------------

const FRAGMENT_KEY = "w=";

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The bytes a (de)compression stream makes of `bytes`. */
async function transform(
  bytes: Uint8Array,
  stream: {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<ArrayBufferView | ArrayBuffer>;
  },
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  void writer.write(bytes).then(
    () => writer.close(),
    () => {},
  );
  const chunks: Uint8Array[] = [];
  const reader = stream.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `#w=…`: the workspace as deflated JSON in base64url. */
export async function toFragment(ws: Workspace): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(ws));
  return `#${FRAGMENT_KEY}${toBase64Url(await transform(json, new CompressionStream("deflate-raw")))}`;
}

/** The workspace a fragment carries; undefined for a fragment that carries none. */
export async function fromFragment(fragment: string): Promise<Workspace | undefined> {
  const body = fragment.replace(/^#/, "");
  if (!body.startsWith(FRAGMENT_KEY)) return undefined;
  const bytes = await transform(
    fromBase64Url(body.slice(FRAGMENT_KEY.length)),
    new DecompressionStream("deflate-raw"),
  );
  return normalizeWorkspace(JSON.parse(new TextDecoder().decode(bytes)));
}

/** A workspace from JSON of unknown shape (a link, local storage): what is missing is empty. */
export function normalizeWorkspace(value: unknown): Workspace {
  const parsed = (value !== null && typeof value === "object" ? value : {}) as Partial<Workspace>;
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  const check = (
    parsed.check !== null && typeof parsed.check === "object" ? parsed.check : {}
  ) as Partial<CheckInputs>;
  return {
    schema: text(parsed.schema),
    relationships: text(parsed.relationships),
    assertions: text(parsed.assertions),
    validation: text(parsed.validation),
    check: {
      resource: text(check.resource),
      permission: text(check.permission),
      subject: text(check.subject),
      context: text(check.context),
    },
  };
}
