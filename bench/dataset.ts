/**
 * A seeded document-sharing dataset for benchmarks: the same seed and sizes give the same
 * tuples, in the same order, on every machine, so that runs (and other systems loaded with the
 * same data) compare.
 *
 * Shape. Every organization owns a contiguous range of users, groups and folders:
 * - users: 95% belong to one organization; the last 5% are external (no organization, no group;
 *   they only ever get direct grants on documents, some of them expiring);
 * - groups nest up to six levels (a level-5 group contains level-4 groups … down to level 0,
 *   which hold users); the top two levels are the organization's `member`s;
 * - folders form trees under a few roots per organization (random recursive trees, so most
 *   paths are short), plus one deep chain of `deepChain` folders per organization; roots carry
 *   the `org` relation, some roots are shared with `organization#member`, a few late folders are
 *   public (`user:*`), so their small subtrees are too;
 * - documents sit in a uniformly chosen folder, have one owner, sometimes editors and viewers
 *   (users of the organization, users of another organization or external ones, groups,
 *   `organization#member`), 0.5% are public, 1.5% ban one user who would often otherwise see
 *   them; a few grants expire, half of them already in the past (those do not exist for
 *   evaluation and test that expired tuples grant nothing).
 * Ids are decimal numbers per type (`user:17`, `group:3`, `folder:120`, `document:99`,
 * `organization:0`).
 *
 * The schema is the project's `schema/docs.zed` preset.
 *
 * File formats (`writeRelationships`), one relationship per line, no header:
 * - `jsonl`: `{"resource":"document:1","relation":"viewer","subject":"user:2"}`; `subject` may be
 *   a userset (`group:3#member`) or a wildcard (`user:*`); expiring tuples add
 *   `"expiration":"2200-01-01T00:00:00Z"` (RFC 3339, UTC). No caveats occur.
 * - `tuples`: the tuple string form of DESIGN.md §1,
 *   `document:1#viewer@user:2[expiration:2200-01-01T00:00:00Z]`.
 */
import { once } from "node:events";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  formatRelationship,
  formatSubjectRef,
  formatTimestamp,
  type Relationship,
  type SubjectRef,
} from "../src/core/relationship.js";
import { Prng } from "./prng.js";

export interface DatasetSizes {
  readonly users: number;
  readonly groups: number;
  readonly folders: number;
  readonly documents: number;
  /** Default: one per 500 folders, at least 2 (so that some queries can cross organizations). */
  readonly organizations?: number;
  /**
   * Length of the deep folder chain of each organization. Default 30: a check on a document at
   * the bottom, through a nested group, stays under the default depth limit of 50.
   */
  readonly deepChain?: number;
}

/**
 * Relationships per import transaction in the benchmarks: large batches, because each batch
 * writes every index page it touches to the write-ahead log once (at 3M relationships on
 * SQLite, 100k per batch imports about three times faster than 10k).
 */
export const IMPORT_BATCH = 100_000;

export const SCALES = {
  /** ≈ 30k tuples. */
  small: { users: 1_000, groups: 200, folders: 500, documents: 10_000 },
  /** ≈ 300k tuples: the default. */
  medium: { users: 10_000, groups: 2_000, folders: 5_000, documents: 100_000 },
  /** ≈ 3M tuples. */
  large: { users: 100_000, groups: 20_000, folders: 50_000, documents: 1_000_000 },
} as const satisfies Record<string, DatasetSizes>;

export type ScaleName = keyof typeof SCALES;

export function isScaleName(name: string): name is ScaleName {
  return Object.hasOwn(SCALES, name);
}

/** What a grant's subject is. */
export const GrantKind = {
  user: 0,
  group: 1,
  orgMembers: 2,
  everyone: 3,
  /** A user with an expiration in the future. */
  userExpiring: 4,
  /** A user with an expiration in the past: stored, but not a grant at evaluation time. */
  userExpired: 5,
} as const;
export type GrantKind = (typeof GrantKind)[keyof typeof GrantKind];

export const GrantRelation = { viewer: 0, editor: 1 } as const;
export type GrantRelation = (typeof GrantRelation)[keyof typeof GrantRelation];
const RELATION_NAMES = ["viewer", "editor"] as const;

/** Growable columns of grants (`viewer`/`editor` tuples) on folders or documents. */
export class GrantTable {
  target = new Int32Array(1024);
  relation = new Uint8Array(1024);
  kind = new Uint8Array(1024);
  subject = new Int32Array(1024);
  length = 0;

  push(target: number, relation: GrantRelation, kind: GrantKind, subject: number): void {
    if (this.length === this.target.length) this.#grow();
    const i = this.length++;
    this.target[i] = target;
    this.relation[i] = relation;
    this.kind[i] = kind;
    this.subject[i] = subject;
  }

  #grow(): void {
    const n = this.target.length * 2;
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.target = grow(this.target, (k) => new Int32Array(k));
    this.relation = grow(this.relation, (k) => new Uint8Array(k));
    this.kind = grow(this.kind, (k) => new Uint8Array(k));
    this.subject = grow(this.subject, (k) => new Int32Array(k));
  }
}

/** Group nesting: six levels, 0 (users only) to 5 (the top). */
export const GROUP_LEVELS = 6;
/** Share of an organization's groups at each level, from the top (5) down to 1; the rest are 0. */
const LEVEL_SHARES = [0.02, 0.03, 0.05, 0.1, 0.2] as const;
/** Deepest folder a random folder may hang under (chains included), so checks stay < 50 deep. */
const MAX_FOLDER_DEPTH = 34;
const EXTERNAL_SHARE = 0.05;
const ORG_DIRECT_MEMBERS = 20;
/** Base instants of expiring grants: far future (live) and far past (already expired). */
const LIVE_EXPIRY = Date.UTC(2200, 0, 1);
const PAST_EXPIRY = Date.UTC(2001, 0, 1);

/** `[start, end)` of part `k` of `total` cut into `parts` nearly equal contiguous ranges. */
function part(total: number, parts: number, k: number): [number, number] {
  return [Math.floor((k * total) / parts), Math.floor(((k + 1) * total) / parts)];
}

/** Resolves `schema/docs.zed` from this file's folder upwards (works from source and build). */
export function docsSchemaText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "schema", "docs.zed");
    if (existsSync(candidate)) return readFileSync(candidate, "utf8");
    const up = dirname(dir);
    if (up === dir) throw new Error("schema/docs.zed not found above the benchmark directory");
    dir = up;
  }
}

export interface ResolvedSizes extends Required<DatasetSizes> {}

export function resolveSizes(sizes: DatasetSizes): ResolvedSizes {
  const organizations = sizes.organizations ?? Math.max(2, Math.round(sizes.folders / 500));
  const deepChain = sizes.deepChain ?? 30;
  const resolved = { ...sizes, organizations, deepChain };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`dataset size ${name} must be a non-negative integer, got ${value}`);
    }
  }
  const minimum = (name: string, value: number, least: number) => {
    if (value < least) {
      throw new TypeError(
        `dataset size ${name} must be at least ${least} for ${organizations} organizations, got ${value}`,
      );
    }
  };
  minimum("organizations", organizations, 1);
  // Every organization needs enough users and groups to fill its group levels and ownerships.
  minimum("users", Math.floor(resolved.users * (1 - EXTERNAL_SHARE)), 40 * organizations);
  minimum("groups", resolved.groups, 12 * organizations);
  minimum("folders", resolved.folders, 2 * organizations);
  minimum("documents", resolved.documents, 1);
  if (deepChain > MAX_FOLDER_DEPTH - 2) {
    throw new TypeError(`deepChain must be at most ${MAX_FOLDER_DEPTH - 2}, got ${deepChain}`);
  }
  return resolved;
}

/**
 * The dataset's structure, held in compact columns (a `large` model is a few tens of MB), from
 * which the tuple stream is produced and against which query mixes are drawn.
 */
export class DocsDataset {
  readonly seed: number;
  readonly sizes: ResolvedSizes;
  readonly schema: string;
  /** Users `[0, internalUsers)` belong to organizations; the rest are external. */
  readonly internalUsers: number;

  readonly groupOrg: Int32Array;
  readonly groupLevel: Uint8Array;
  readonly groupUsers: number[][] = [];
  readonly groupChildren: number[][] = [];
  /** Per organization and level, the group ids of that level. */
  readonly orgGroupsByLevel: number[][][] = [];

  readonly orgAdmins: number[][] = [];
  readonly orgMemberGroups: number[][] = [];
  readonly orgMemberUsers: number[][] = [];

  readonly folderOrg: Int32Array;
  /** -1 for a root. Parents always have a lower id than their children. */
  readonly folderParent: Int32Array;
  readonly folderDepth: Uint16Array;
  readonly folderRoot: Int32Array;
  readonly folderOwner: Int32Array;
  /** 1 where the folder or an ancestor is public (`viewer@user:*`). */
  readonly folderPublic: Uint8Array;
  /** 1 for a root shared with its organization's members. */
  readonly rootOrgShared: Uint8Array;
  readonly folderGrants = new GrantTable();
  /** The bottom folder of each organization's deep chain (-1 when it has none). */
  readonly deepChainBottoms: number[] = [];

  readonly docFolder: Int32Array;
  readonly docOwner: Int32Array;
  /** The banned user, or -1. */
  readonly docBanned: Int32Array;
  readonly docPublic: Uint8Array;
  readonly docGrants = new GrantTable();
  /** `doc * users + user` for every live direct user grant (viewer or editor) on a document. */
  readonly #docUserGrants = new Set<number>();

  /** Number of relationships the stream yields. */
  readonly tupleCount: number;

  constructor(sizes: DatasetSizes, seed: number) {
    this.seed = seed;
    this.sizes = resolveSizes(sizes);
    this.schema = docsSchemaText();
    const { users, groups, folders, documents } = this.sizes;
    this.internalUsers = users - Math.floor(users * EXTERNAL_SHARE);
    this.groupOrg = new Int32Array(groups);
    this.groupLevel = new Uint8Array(groups);
    this.folderOrg = new Int32Array(folders);
    this.folderParent = new Int32Array(folders);
    this.folderDepth = new Uint16Array(folders);
    this.folderRoot = new Int32Array(folders);
    this.folderOwner = new Int32Array(folders);
    this.folderPublic = new Uint8Array(folders);
    this.rootOrgShared = new Uint8Array(folders);
    this.docFolder = new Int32Array(documents);
    this.docOwner = new Int32Array(documents);
    this.docBanned = new Int32Array(documents).fill(-1);
    this.docPublic = new Uint8Array(documents);

    // Each part draws from its own stream, so resizing one part leaves the others unchanged.
    let tuples = this.#buildGroups(new Prng(seed, 1));
    tuples += this.#buildOrganizations(new Prng(seed, 2));
    tuples += this.#buildFolders(new Prng(seed, 3));
    tuples += this.#buildDocuments(new Prng(seed, 4));
    this.tupleCount = tuples;
  }

  get organizations(): number {
    return this.sizes.organizations;
  }

  /** `[start, end)` of the users of organization `k`. */
  orgUserRange(k: number): [number, number] {
    return part(this.internalUsers, this.organizations, k);
  }

  /** The organization of a user, -1 for an external user. */
  userOrg(user: number): number {
    if (user >= this.internalUsers) return -1;
    // Inverse of `part`: the k with start(k) <= user < start(k + 1).
    let k = Math.floor(((user + 1) * this.organizations) / this.internalUsers);
    while (k > 0 && this.orgUserRange(k)[0] > user) k--;
    while (k < this.organizations - 1 && this.orgUserRange(k)[1] <= user) k++;
    return k;
  }

  orgUser(rng: Prng, k: number): number {
    const [start, end] = this.orgUserRange(k);
    return start + rng.int(end - start);
  }

  externalUser(rng: Prng): number {
    return this.internalUsers + rng.int(this.sizes.users - this.internalUsers);
  }

  docOrg(doc: number): number {
    return this.folderOrg[this.docFolder[doc]!]!;
  }

  /** True when the document is public, directly or through a folder. */
  docIsPublic(doc: number): boolean {
    return this.docPublic[doc] === 1 || this.folderPublic[this.docFolder[doc]!] === 1;
  }

  /** True when `user` has a live direct `viewer` or `editor` tuple on the document. */
  hasDirectGrant(doc: number, user: number): boolean {
    return this.#docUserGrants.has(doc * this.sizes.users + user);
  }

  /** A user reached from `group` by walking down through nested groups to a leaf group. */
  memberOf(rng: Prng, group: number): number {
    let g = group;
    for (;;) {
      const children = this.groupChildren[g]!;
      const users = this.groupUsers[g]!;
      // Prefer going down, so the user is as deeply nested as the group allows.
      if (children.length > 0 && (users.length === 0 || rng.chance(0.85))) {
        g = rng.pick(children);
        continue;
      }
      return rng.pick(users);
    }
  }

  // ---- construction -----------------------------------------------------------------------

  #buildGroups(rng: Prng): number {
    let tuples = 0;
    const orgs = this.organizations;
    for (let k = 0; k < orgs; k++) {
      const [start, end] = part(this.sizes.groups, orgs, k);
      const n = end - start;
      // Level counts from the top, at least one per level; the rest are leaf groups.
      const counts = LEVEL_SHARES.map((share) => Math.max(1, Math.floor(share * n)));
      const leaves = n - counts.reduce((a, b) => a + b, 0);
      const byLevel: number[][] = Array.from({ length: GROUP_LEVELS }, () => []);
      // Ids ascend from level 0 up, so a group's children always have lower ids.
      const perLevel = [leaves, ...[...counts].reverse()];
      let next = start;
      for (let level = 0; level < GROUP_LEVELS; level++) {
        for (let i = 0; i < perLevel[level]!; i++, next++) {
          this.groupOrg[next] = k;
          this.groupLevel[next] = level;
          byLevel[level]!.push(next);
        }
      }
      this.orgGroupsByLevel.push(byLevel);
      const [userStart, userEnd] = this.orgUserRange(k);
      const orgUsers = userEnd - userStart;
      for (let g = start; g < end; g++) {
        const level = this.groupLevel[g]!;
        let size: number;
        if (level === 0) {
          const r = rng.float();
          size = r < 0.7 ? rng.range(3, 12) : r < 0.95 ? rng.range(13, 40) : rng.range(50, 250);
        } else {
          size = rng.range(0, 4);
        }
        const users = distinct(Math.min(size, orgUsers), () => this.orgUser(rng, k));
        const children: number[] = [];
        if (level > 0) {
          const below = byLevel[level - 1]!;
          const want = Math.min(below.length, rng.range(1, 3));
          children.push(...distinct(want, () => rng.pick(below)));
          if (level >= 2 && rng.chance(0.3)) {
            const deeper = byLevel[rng.int(level - 1)]!;
            const extra = rng.pick(deeper);
            if (!children.includes(extra)) children.push(extra);
          }
        }
        this.groupUsers[g] = users;
        this.groupChildren[g] = children;
        tuples += users.length + children.length;
      }
    }
    return tuples;
  }

  #buildOrganizations(rng: Prng): number {
    let tuples = 0;
    for (let k = 0; k < this.organizations; k++) {
      const admins = distinct(2, () => this.orgUser(rng, k));
      const byLevel = this.orgGroupsByLevel[k]!;
      const memberGroups = [...byLevel[GROUP_LEVELS - 1]!, ...byLevel[GROUP_LEVELS - 2]!];
      const memberUsers = distinct(ORG_DIRECT_MEMBERS, () => this.orgUser(rng, k));
      this.orgAdmins.push(admins);
      this.orgMemberGroups.push(memberGroups);
      this.orgMemberUsers.push(memberUsers);
      tuples += admins.length + memberGroups.length + memberUsers.length;
    }
    return tuples;
  }

  #buildFolders(rng: Prng): number {
    let tuples = 0;
    const { folders, deepChain } = this.sizes;
    for (let k = 0; k < this.organizations; k++) {
      const [start, end] = part(folders, this.organizations, k);
      const n = end - start;
      const roots = Math.max(1, Math.round(n / 50));
      const chain = n >= roots + deepChain + 10 ? deepChain : 0;
      this.deepChainBottoms.push(chain > 0 ? start + roots + chain - 1 : -1);
      const orgGroups = this.orgGroupsByLevel[k]!.flat();
      for (let f = start; f < end; f++) {
        const local = f - start;
        this.folderOrg[f] = k;
        let parent = -1;
        if (local >= roots && local < roots + chain) {
          parent = f - 1;
        } else if (local >= roots) {
          parent = start + rng.int(local);
          if (this.folderDepth[parent]! >= MAX_FOLDER_DEPTH) parent = start + rng.int(roots);
        }
        this.folderParent[f] = parent;
        this.folderDepth[f] = parent < 0 ? 0 : this.folderDepth[parent]! + 1;
        this.folderRoot[f] = parent < 0 ? f : this.folderRoot[parent]!;
        this.folderOwner[f] = this.orgUser(rng, k);
        tuples += 2; // owner, and org (roots) or parent (the others)
        if (parent < 0 && rng.chance(0.2)) {
          this.rootOrgShared[f] = 1;
          this.folderGrants.push(f, GrantRelation.viewer, GrantKind.orgMembers, k);
          tuples++;
        }
        const taken: number[] = [];
        if (rng.chance(0.25)) {
          tuples += this.#grant(
            rng,
            this.folderGrants,
            f,
            GrantRelation.editor,
            k,
            orgGroups,
            taken,
            [
              [0.7, GrantKind.group],
              [0.95, GrantKind.user],
              [1, GrantKind.userExpiring],
            ],
          );
        }
        taken.length = 0;
        if (rng.chance(0.3)) {
          tuples += this.#grant(
            rng,
            this.folderGrants,
            f,
            GrantRelation.viewer,
            k,
            orgGroups,
            taken,
            [
              [0.6, GrantKind.group],
              [0.95, GrantKind.user],
              [1, GrantKind.userExpiring],
            ],
          );
        }
        // Late folders have small subtrees: making one public exposes a handful of documents.
        if (parent >= 0 && local >= n / 2 && rng.chance(0.004)) {
          this.folderGrants.push(f, GrantRelation.viewer, GrantKind.everyone, -1);
          this.folderPublic[f] = 1;
          tuples++;
        }
        if (parent >= 0 && this.folderPublic[parent] === 1) this.folderPublic[f] = 1;
      }
    }
    return tuples;
  }

  /**
   * Adds one grant drawn from `kinds` (cumulative probabilities). Users of a folder grant are of
   * the organization; expiring users of a document grant are external guests. Returns the
   * number of tuples added (0 when the drawn subject already has this relation).
   */
  #grant(
    rng: Prng,
    table: GrantTable,
    target: number,
    relation: GrantRelation,
    org: number,
    orgGroups: readonly number[],
    taken: number[],
    kinds: readonly (readonly [number, GrantKind])[],
    externalGuests = false,
  ): number {
    const r = rng.float();
    let kind: GrantKind = kinds[kinds.length - 1]![1];
    for (const [upTo, k] of kinds) {
      if (r < upTo) {
        kind = k;
        break;
      }
    }
    let subject: number;
    switch (kind) {
      case GrantKind.group:
        subject = rng.pick(orgGroups);
        break;
      case GrantKind.orgMembers:
        subject = org;
        break;
      case GrantKind.everyone:
        subject = -1;
        break;
      case GrantKind.userExpiring:
        subject = externalGuests ? this.externalUser(rng) : this.orgUser(rng, org);
        // Half of the expiring grants are already over.
        if (rng.chance(0.5)) kind = GrantKind.userExpired;
        break;
      default:
        subject = this.orgUser(rng, org);
    }
    // One tuple per (resource, relation, subject): users and expiring users share the key space.
    const key = subjectKind(kind) * 0x1000000 + subject + 1;
    if (taken.includes(key)) return 0;
    taken.push(key);
    table.push(target, relation, kind, subject);
    return 1;
  }

  #buildDocuments(rng: Prng): number {
    let tuples = 0;
    const { documents, folders, users } = this.sizes;
    const groupsOf = this.orgGroupsByLevel.map((levels) => levels.flat());
    const taken: number[] = [];
    for (let d = 0; d < documents; d++) {
      const f = rng.int(folders);
      const k = this.folderOrg[f]!;
      const orgGroups = groupsOf[k]!;
      this.docFolder[d] = f;
      const owner = this.orgUser(rng, k);
      this.docOwner[d] = owner;
      tuples += 2; // folder, owner
      const firstGrant = this.docGrants.length;
      taken.length = 0;
      if (rng.chance(0.005)) {
        this.docGrants.push(d, GrantRelation.viewer, GrantKind.everyone, -1);
        this.docPublic[d] = 1;
        taken.push(subjectKind(GrantKind.everyone) * 0x1000000);
        tuples++;
      }
      if (rng.chance(0.1)) {
        const before = this.docGrants.length;
        tuples += this.#grant(
          rng,
          this.docGrants,
          d,
          GrantRelation.editor,
          k,
          orgGroups,
          [],
          [
            [0.6, GrantKind.user],
            [0.95, GrantKind.group],
            [1, GrantKind.userExpiring],
          ],
          true,
        );
        this.#noteUserGrants(before);
      }
      if (rng.chance(0.3)) {
        const viewers = 1 + (rng.chance(0.3) ? 1 : 0) + (rng.chance(0.1) ? 1 : 0);
        for (let i = 0; i < viewers; i++) {
          const before = this.docGrants.length;
          if (rng.chance(0.1)) {
            // Shared across the organization boundary: a user of another organization or a guest.
            const u = rng.int(users);
            const key = subjectKind(GrantKind.user) * 0x1000000 + u + 1;
            if (this.userOrg(u) !== k && !taken.includes(key)) {
              taken.push(key);
              this.docGrants.push(d, GrantRelation.viewer, GrantKind.user, u);
              tuples++;
            }
          } else {
            tuples += this.#grant(
              rng,
              this.docGrants,
              d,
              GrantRelation.viewer,
              k,
              orgGroups,
              taken,
              [
                [0.5, GrantKind.user],
                [0.89, GrantKind.group],
                [0.945, GrantKind.orgMembers],
                [1, GrantKind.userExpiring],
              ],
              true,
            );
          }
          this.#noteUserGrants(before);
        }
      }
      if (rng.chance(0.015)) {
        // Ban someone who would often see the document otherwise: a member of a group it is
        // shared with, or anyone of the organization (who sees it when it is public).
        let banned = -1;
        for (let i = firstGrant; i < this.docGrants.length; i++) {
          if (this.docGrants.kind[i] === GrantKind.group) {
            banned = this.memberOf(rng, this.docGrants.subject[i]!);
            break;
          }
        }
        if (banned < 0 || banned === owner) banned = this.orgUser(rng, k);
        if (banned !== owner) {
          this.docBanned[d] = banned;
          tuples++;
        }
      }
    }
    return tuples;
  }

  #noteUserGrants(from: number): void {
    const g = this.docGrants;
    for (let i = from; i < g.length; i++) {
      if (g.kind[i] === GrantKind.user || g.kind[i] === GrantKind.userExpiring) {
        this.#docUserGrants.add(g.target[i]! * this.sizes.users + g.subject[i]!);
      }
    }
  }

  // ---- the tuple stream -------------------------------------------------------------------

  /**
   * Every relationship, in a fixed order: organizations, groups, folders, documents. Objects
   * are made as the stream is read, so a `large` dataset streams without being held.
   */
  *relationships(): Generator<Relationship> {
    const orgRef = (k: number) => ({ type: "organization", id: String(k) });
    for (let k = 0; k < this.organizations; k++) {
      for (const u of this.orgAdmins[k]!) yield rel(orgRef(k), "admin", user(u));
      for (const g of this.orgMemberGroups[k]!) yield rel(orgRef(k), "member", groupMembers(g));
      for (const u of this.orgMemberUsers[k]!) yield rel(orgRef(k), "member", user(u));
    }
    for (let g = 0; g < this.sizes.groups; g++) {
      const ref = { type: "group", id: String(g) };
      for (const u of this.groupUsers[g]!) yield rel(ref, "member", user(u));
      for (const c of this.groupChildren[g]!) yield rel(ref, "member", groupMembers(c));
    }
    const fg = this.folderGrants;
    let next = 0;
    for (let f = 0; f < this.sizes.folders; f++) {
      const ref = { type: "folder", id: String(f) };
      const parent = this.folderParent[f]!;
      yield parent < 0
        ? rel(ref, "org", { type: "organization", id: String(this.folderOrg[f]) })
        : rel(ref, "parent", { type: "folder", id: String(parent) });
      yield rel(ref, "owner", user(this.folderOwner[f]!));
      for (; next < fg.length && fg.target[next] === f; next++) yield grantTuple(ref, fg, next);
    }
    const dg = this.docGrants;
    next = 0;
    for (let d = 0; d < this.sizes.documents; d++) {
      const ref = { type: "document", id: String(d) };
      yield rel(ref, "folder", { type: "folder", id: String(this.docFolder[d]) });
      yield rel(ref, "owner", user(this.docOwner[d]!));
      for (; next < dg.length && dg.target[next] === d; next++) yield grantTuple(ref, dg, next);
      const banned = this.docBanned[d]!;
      if (banned >= 0) yield rel(ref, "banned", user(banned));
    }
  }

  /** Counts of the model's parts, for a run's header. */
  describe(): Record<string, number> {
    let maxFolderDepth = 0;
    for (const d of this.folderDepth) if (d > maxFolderDepth) maxFolderDepth = d;
    let publicDocs = 0;
    let banned = 0;
    for (let d = 0; d < this.sizes.documents; d++) {
      if (this.docIsPublic(d)) publicDocs++;
      if (this.docBanned[d]! >= 0) banned++;
    }
    let expiring = 0;
    let expired = 0;
    for (const t of [this.folderGrants, this.docGrants]) {
      for (let i = 0; i < t.length; i++) {
        if (t.kind[i] === GrantKind.userExpiring) expiring++;
        if (t.kind[i] === GrantKind.userExpired) expired++;
      }
    }
    return {
      tuples: this.tupleCount,
      users: this.sizes.users,
      externalUsers: this.sizes.users - this.internalUsers,
      groups: this.sizes.groups,
      organizations: this.organizations,
      folders: this.sizes.folders,
      maxFolderDepth,
      documents: this.sizes.documents,
      publicDocuments: publicDocs,
      bannedDocuments: banned,
      expiringGrants: expiring,
      expiredGrants: expired,
    };
  }
}

/** Users and expiring users share a key (they are the same tuple identity). */
function subjectKind(kind: GrantKind): number {
  return kind === GrantKind.userExpiring || kind === GrantKind.userExpired ? GrantKind.user : kind;
}

/** `count` distinct values from `draw` (gives up after many repeats, for tiny pools). */
function distinct(count: number, draw: () => number): number[] {
  const out = new Set<number>();
  let attempts = 0;
  while (out.size < count && attempts < count * 20 + 20) {
    out.add(draw());
    attempts++;
  }
  return [...out];
}

function user(u: number): SubjectRef {
  return { type: "user", id: String(u) };
}

function groupMembers(g: number): SubjectRef {
  return { type: "group", id: String(g), relation: "member" };
}

function rel(
  resource: { type: string; id: string },
  relation: string,
  subject: SubjectRef,
): Relationship {
  return { resource, relation, subject };
}

function grantTuple(
  resource: { type: string; id: string },
  table: GrantTable,
  i: number,
): Relationship {
  const relation = RELATION_NAMES[table.relation[i]!]!;
  const subject = table.subject[i]!;
  switch (table.kind[i]) {
    case GrantKind.group:
      return rel(resource, relation, groupMembers(subject));
    case GrantKind.orgMembers:
      return rel(resource, relation, {
        type: "organization",
        id: String(subject),
        relation: "member",
      });
    case GrantKind.everyone:
      return rel(resource, relation, { type: "user", id: "*" });
    case GrantKind.userExpiring:
      // Spread over a thousand hours so entries do not all share one instant.
      return { resource, relation, subject: user(subject), expiration: expiry(LIVE_EXPIRY, i) };
    case GrantKind.userExpired:
      return { resource, relation, subject: user(subject), expiration: expiry(PAST_EXPIRY, i) };
    default:
      return rel(resource, relation, user(subject));
  }
}

function expiry(base: number, i: number): Date {
  return new Date(base + (i % 1000) * 3_600_000);
}

// ---- files ------------------------------------------------------------------------------

export type RelationshipFormat = "jsonl" | "tuples";

/** One JSON-lines record (see the file header for the format). */
export function formatJsonLine(r: Relationship): string {
  const record: Record<string, string> = {
    resource: `${r.resource.type}:${r.resource.id}`,
    relation: r.relation,
    subject: formatSubjectRef(r.subject),
  };
  if (r.expiration !== undefined) record.expiration = formatTimestamp(r.expiration);
  return JSON.stringify(record);
}

/** Writes one relationship per line, honouring back-pressure; returns the number written. */
export async function writeRelationships(
  path: string,
  relationships: Iterable<Relationship>,
  format: RelationshipFormat,
): Promise<number> {
  const out = createWriteStream(path, { encoding: "utf8" });
  const line = format === "jsonl" ? formatJsonLine : formatRelationship;
  let n = 0;
  let chunk = "";
  for (const r of relationships) {
    chunk += `${line(r)}\n`;
    n++;
    // Write in chunks of a few hundred lines: one stream write per line is slow.
    if (chunk.length > 65_536) {
      if (!out.write(chunk)) await once(out, "drain");
      chunk = "";
    }
  }
  out.end(chunk);
  await once(out, "finish");
  return n;
}
