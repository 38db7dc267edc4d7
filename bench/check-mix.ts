/**
 * Seeded query mixes over a `DocsDataset`: checks that are about half allowed and half denied,
 * drawn from the paths that cost differently (direct tuples, nested groups, deep folder chains,
 * organization admins, public documents, bans, expired grants), each with the answer the
 * dataset's construction guarantees, so a benchmark also notices a wrong answer.
 */
import type { ObjectRef, SubjectRef } from "../src/core/relationship.js";
import { type DocsDataset, GrantKind, GrantRelation } from "./dataset.js";
import { Prng } from "./prng.js";

export type Expected = "ALLOWED" | "DENIED";

export interface CheckQuery {
  readonly resource: ObjectRef;
  readonly permission: string;
  readonly subject: SubjectRef;
  readonly kind: CheckKind;
  /** The answer the dataset guarantees. */
  readonly expected: Expected;
}

/** Kinds of check, their guaranteed answer and their share of the mix (percent). */
export const CHECK_KINDS = {
  /** A user named directly as the document's viewer. */
  "direct-viewer": { expected: "ALLOWED", weight: 8 },
  /** The owner asks for `edit`. */
  "owner-edit": { expected: "ALLOWED", weight: 6 },
  /** A user several group levels below a group the document is shared with. */
  "nested-group": { expected: "ALLOWED", weight: 10 },
  /** A document 20+ folders deep; the user owns the root of its tree. */
  "deep-folder": { expected: "ALLOWED", weight: 10 },
  /** An organization admin, on any document of the organization (`view` or `edit`). */
  "org-admin": { expected: "ALLOWED", weight: 6 },
  /** A member of the organization, on a document under a root shared with its members. */
  "org-member": { expected: "ALLOWED", weight: 4 },
  /** Anyone, on a public document (directly or through a public folder). */
  public: { expected: "ALLOWED", weight: 6 },
  /** A user of another organization: the whole graph above the document is walked. */
  "cross-org": { expected: "DENIED", weight: 20 },
  /** As `cross-org`, on a document 20+ folders deep. */
  "deep-folder-denied": { expected: "DENIED", weight: 8 },
  /** The banned user of a document, whatever else grants them. */
  banned: { expected: "DENIED", weight: 8 },
  /** A guest whose only grant on the document expired. */
  expired: { expected: "DENIED", weight: 4 },
  /** A viewer from outside the organization asks for `edit`. */
  "viewer-cannot-edit": { expected: "DENIED", weight: 4 },
  /** A guest on a document not shared with them. */
  "guest-denied": { expected: "DENIED", weight: 6 },
} as const satisfies Record<string, { expected: Expected; weight: number }>;

export type CheckKind = keyof typeof CHECK_KINDS;

export interface CheckMix {
  readonly seed: number;
  readonly queries: CheckQuery[];
  /** Queries per kind. */
  readonly composition: Record<string, number>;
  readonly allowed: number;
  readonly denied: number;
}

/** A mix as reports print it: its seed, size, answers and composition, not its queries. */
export function describeMix(mix: CheckMix) {
  return {
    seed: mix.seed,
    queries: mix.queries.length,
    allowed: mix.allowed,
    denied: mix.denied,
    composition: mix.composition,
  };
}

/** Documents at least this many folders deep count as deep. */
const DEEP = 20;

/** Pools the mixes draw from; computed once per dataset. */
interface Pools {
  /** Document grant indices by kind of draw. */
  readonly userViewerGrants: number[];
  readonly crossViewerGrants: number[];
  readonly deepGroupGrants: number[];
  readonly expiredGrants: number[];
  readonly deepDocs: number[];
  readonly publicDocs: number[];
  readonly orgSharedDocs: number[];
  readonly bannedDocs: number[];
  /** First document grant index of each document (length documents + 1). */
  readonly grantStart: Int32Array;
}

const poolCache = new WeakMap<DocsDataset, Pools>();

function poolsOf(ds: DocsDataset): Pools {
  const cached = poolCache.get(ds);
  if (cached !== undefined) return cached;
  const g = ds.docGrants;
  const { documents } = ds.sizes;
  const grantStart = new Int32Array(documents + 1);
  const userViewerGrants: number[] = [];
  const crossViewerGrants: number[] = [];
  const groupGrants: number[] = [];
  const deepGroupGrants: number[] = [];
  const expiredGrants: number[] = [];
  // Grants are stored in document order: each document's grants are one run.
  for (let d = 0, i = 0; d <= documents; d++) {
    while (i < g.length && g.target[i]! < d) i++;
    grantStart[d] = i;
  }
  for (let i = 0; i < g.length; i++) {
    const kind = g.kind[i]!;
    const doc = g.target[i]!;
    if (kind === GrantKind.user && g.relation[i] === GrantRelation.viewer) {
      userViewerGrants.push(i);
      if (ds.userOrg(g.subject[i]!) !== ds.docOrg(doc)) crossViewerGrants.push(i);
    } else if (kind === GrantKind.group) {
      groupGrants.push(i);
      if (ds.groupLevel[g.subject[i]!]! >= 2) deepGroupGrants.push(i);
    } else if (kind === GrantKind.userExpired) {
      expiredGrants.push(i);
    }
  }
  const deepDocs: number[] = [];
  const publicDocs: number[] = [];
  const orgSharedDocs: number[] = [];
  const bannedDocs: number[] = [];
  for (let d = 0; d < documents; d++) {
    const f = ds.docFolder[d]!;
    if (ds.folderDepth[f]! >= DEEP) deepDocs.push(d);
    if (ds.docIsPublic(d)) publicDocs.push(d);
    if (ds.rootOrgShared[ds.folderRoot[f]!] === 1) orgSharedDocs.push(d);
    if (ds.docBanned[d]! >= 0) bannedDocs.push(d);
  }
  const pools: Pools = {
    userViewerGrants,
    crossViewerGrants,
    deepGroupGrants: deepGroupGrants.length > 0 ? deepGroupGrants : groupGrants,
    expiredGrants,
    deepDocs,
    publicDocs,
    orgSharedDocs,
    bannedDocs,
    grantStart,
  };
  poolCache.set(ds, pools);
  return pools;
}

const doc = (d: number): ObjectRef => ({ type: "document", id: String(d) });
const user = (u: number): SubjectRef => ({ type: "user", id: String(u) });

/**
 * `count` distinct checks drawn with `seed`. Kinds the dataset cannot produce (no public
 * documents in a tiny dataset, say) are left out and the others fill in.
 */
export function checkMix(ds: DocsDataset, count: number, seed = ds.seed): CheckMix {
  const pools = poolsOf(ds);
  const rng = new Prng(seed, 100);
  const kinds = (Object.keys(CHECK_KINDS) as CheckKind[]).filter((k) => available(ds, pools, k));
  const queries: CheckQuery[] = [];
  const seen = new Set<string>();
  const composition: Record<string, number> = {};
  let allowed = 0;
  let failures = 0;
  // After a failed draw, the next one keeps its expected answer, so the allowed/denied split
  // holds even where a small dataset runs out of distinct queries of one kind.
  let want: Expected | undefined;
  while (queries.length < count) {
    const eligible =
      want === undefined ? kinds : kinds.filter((k) => CHECK_KINDS[k].expected === want);
    const weight = eligible.reduce((s, k) => s + CHECK_KINDS[k].weight, 0);
    let r = rng.float() * weight;
    let kind = eligible[eligible.length - 1]!;
    for (const k of eligible) {
      r -= CHECK_KINDS[k].weight;
      if (r < 0) {
        kind = k;
        break;
      }
    }
    const q = draw(ds, pools, rng, kind);
    const key =
      q === undefined ? "" : `${q.resource.id}#${q.permission}@${q.subject.type}:${q.subject.id}`;
    if (q === undefined || seen.has(key)) {
      // A small dataset runs out of distinct queries of some kinds; never loop forever.
      if (++failures > count * 50 + 1000) {
        throw new Error(`cannot draw ${count} distinct checks from this dataset`);
      }
      want = CHECK_KINDS[kind].expected;
      continue;
    }
    want = undefined;
    seen.add(key);
    queries.push(q);
    composition[kind] = (composition[kind] ?? 0) + 1;
    if (q.expected === "ALLOWED") allowed++;
  }
  return { seed, queries, composition, allowed, denied: queries.length - allowed };
}

function available(ds: DocsDataset, pools: Pools, kind: CheckKind): boolean {
  switch (kind) {
    case "direct-viewer":
      return pools.userViewerGrants.length > 0;
    case "nested-group":
      return pools.deepGroupGrants.length > 0;
    case "deep-folder":
      return pools.deepDocs.length > 0;
    case "deep-folder-denied":
      return pools.deepDocs.length > 0 && ds.organizations > 1;
    case "org-member":
      return pools.orgSharedDocs.length > 0;
    case "public":
      return pools.publicDocs.length > 0;
    case "cross-org":
      return ds.organizations > 1;
    case "banned":
      return pools.bannedDocs.length > 0;
    case "expired":
      return pools.expiredGrants.length > 0;
    case "viewer-cannot-edit":
      return pools.crossViewerGrants.length > 0;
    case "guest-denied":
      return ds.sizes.users > ds.internalUsers;
    default:
      return true;
  }
}

function banned(ds: DocsDataset, d: number, u: number): boolean {
  return ds.docBanned[d] === u;
}

/** A user of an organization other than `org`. */
function outsider(ds: DocsDataset, rng: Prng, org: number): number {
  const other = (org + 1 + rng.int(ds.organizations - 1)) % ds.organizations;
  return ds.orgUser(rng, other);
}

/** One query of `kind`, or undefined when this draw does not fit (the caller draws again). */
function draw(ds: DocsDataset, pools: Pools, rng: Prng, kind: CheckKind): CheckQuery | undefined {
  const g = ds.docGrants;
  const make = (d: number, permission: string, u: number | SubjectRef): CheckQuery => ({
    resource: doc(d),
    permission,
    subject: typeof u === "number" ? user(u) : u,
    kind,
    expected: CHECK_KINDS[kind].expected,
  });
  const randomDoc = () => rng.int(ds.sizes.documents);
  switch (kind) {
    case "direct-viewer": {
      const i = rng.pick(pools.userViewerGrants);
      const d = g.target[i]!;
      const u = g.subject[i]!;
      return banned(ds, d, u) ? undefined : make(d, "view", u);
    }
    case "owner-edit": {
      const d = randomDoc();
      return make(d, "edit", ds.docOwner[d]!);
    }
    case "nested-group": {
      const i = rng.pick(pools.deepGroupGrants);
      const d = g.target[i]!;
      const u = ds.memberOf(rng, g.subject[i]!);
      return banned(ds, d, u) ? undefined : make(d, "view", u);
    }
    case "deep-folder": {
      const d = rng.pick(pools.deepDocs);
      const u = ds.folderOwner[ds.folderRoot[ds.docFolder[d]!]!]!;
      return banned(ds, d, u) ? undefined : make(d, rng.chance(0.7) ? "view" : "edit", u);
    }
    case "org-admin": {
      const d = randomDoc();
      const u = rng.pick(ds.orgAdmins[ds.docOrg(d)]!);
      return banned(ds, d, u) ? undefined : make(d, rng.chance(0.5) ? "view" : "edit", u);
    }
    case "org-member": {
      const d = rng.pick(pools.orgSharedDocs);
      const k = ds.docOrg(d);
      const u = rng.chance(0.3)
        ? rng.pick(ds.orgMemberUsers[k]!)
        : ds.memberOf(rng, rng.pick(ds.orgMemberGroups[k]!));
      return banned(ds, d, u) ? undefined : make(d, "view", u);
    }
    case "public": {
      const d = rng.pick(pools.publicDocs);
      const u = rng.int(ds.sizes.users);
      return banned(ds, d, u) ? undefined : make(d, "view", u);
    }
    case "cross-org":
    case "deep-folder-denied": {
      const d = kind === "cross-org" ? randomDoc() : rng.pick(pools.deepDocs);
      const u = outsider(ds, rng, ds.docOrg(d));
      return ds.docIsPublic(d) || ds.hasDirectGrant(d, u) ? undefined : make(d, "view", u);
    }
    case "banned": {
      const d = rng.pick(pools.bannedDocs);
      return make(d, rng.chance(0.8) ? "view" : "edit", ds.docBanned[d]!);
    }
    case "expired": {
      const i = rng.pick(pools.expiredGrants);
      const d = g.target[i]!;
      const u = g.subject[i]!;
      return ds.docIsPublic(d) || ds.hasDirectGrant(d, u) ? undefined : make(d, "view", u);
    }
    case "viewer-cannot-edit": {
      const i = rng.pick(pools.crossViewerGrants);
      const d = g.target[i]!;
      const u = g.subject[i]!;
      // Outside users get `edit` only as a direct editor; skip those.
      for (let j = pools.grantStart[d]!; j < pools.grantStart[d + 1]!; j++) {
        if (g.relation[j] === GrantRelation.editor && g.subject[j] === u) return undefined;
      }
      return make(d, "edit", u);
    }
    case "guest-denied": {
      const d = randomDoc();
      const u = ds.externalUser(rng);
      return ds.docIsPublic(d) || ds.hasDirectGrant(d, u) ? undefined : make(d, "view", u);
    }
  }
}

/** Subjects and resources for ListObjects and ListSubjects runs. */
export interface ListQueries {
  /** Users for ListObjects(document, view), from many visible documents to few. */
  readonly users: readonly {
    readonly label: string;
    readonly subject: SubjectRef;
    /** What the construction says the user roughly sees. */
    readonly note: string;
  }[];
  /** Documents for ListSubjects(view, user). */
  readonly documents: readonly { readonly label: string; readonly resource: ObjectRef }[];
}

export function listQueries(ds: DocsDataset, seed = ds.seed): ListQueries {
  const pools = poolsOf(ds);
  const rng = new Prng(seed, 200);
  const g = ds.docGrants;
  let orgDocs = 0;
  for (let d = 0; d < ds.sizes.documents; d++) if (ds.docOrg(d) === 0) orgDocs++;
  // The guest with the fewest (but some) direct grants.
  const guestGrants = new Map<number, number>();
  for (let i = 0; i < g.length; i++) {
    const u = g.subject[i]!;
    const live = g.kind[i] === GrantKind.user || g.kind[i] === GrantKind.userExpiring;
    if (live && u >= ds.internalUsers) guestGrants.set(u, (guestGrants.get(u) ?? 0) + 1);
  }
  let guest = ds.internalUsers;
  let fewest = Number.POSITIVE_INFINITY;
  for (const [u, n] of guestGrants) {
    if (n < fewest || (n === fewest && u < guest)) {
      guest = u;
      fewest = n;
    }
  }
  const typical = ds.orgUser(rng, rng.int(ds.organizations));
  const users = [
    {
      label: "org admin",
      subject: user(ds.orgAdmins[0]![0]!),
      note: `administers organization 0: ${orgDocs} documents, plus public ones`,
    },
    {
      label: "org member",
      subject: user(typical),
      note: "a random member: grants through groups and shared roots",
    },
    {
      label: "guest",
      subject: user(guest),
      note: `external: ${Number.isFinite(fewest) ? fewest : 0} direct grant(s) plus public documents`,
    },
  ];
  const documents: { label: string; resource: ObjectRef }[] = [];
  if (pools.deepDocs.length > 0) {
    let deepest = pools.deepDocs[0]!;
    for (const d of pools.deepDocs) {
      if (ds.folderDepth[ds.docFolder[d]!]! > ds.folderDepth[ds.docFolder[deepest]!]!) deepest = d;
    }
    documents.push({ label: "deepest document", resource: doc(deepest) });
  }
  if (pools.publicDocs.length > 0) {
    documents.push({ label: "public document", resource: doc(pools.publicDocs[0]!) });
  }
  if (pools.deepGroupGrants.length > 0) {
    documents.push({
      label: "shared with a nested group",
      resource: doc(g.target[pools.deepGroupGrants[0]!]!),
    });
  }
  if (pools.orgSharedDocs.length > 0) {
    documents.push({ label: "under an org-shared root", resource: doc(pools.orgSharedDocs[0]!) });
  }
  documents.push({ label: "random document", resource: doc(rng.int(ds.sizes.documents)) });
  return { users, documents };
}
