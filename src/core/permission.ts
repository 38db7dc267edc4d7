/**
 * What a permission question answers, declared once for every layer and face: the answer
 * itself, the trace of a check, and the userset tree of Expand.
 */
import type { CaveatRef, ObjectRef, SubjectRef } from "./relationship.js";

/** The answer to a permission question. */
export type Permissionship = "ALLOWED" | "DENIED" | "CONDITIONAL";

/** A permission answer; `missingContext` lists the caveat parameters a CONDITIONAL one needs. */
export interface PermissionAnswer {
  readonly permissionship: Permissionship;
  readonly missingContext?: readonly string[];
}

/** One sub-problem of a check and how it was answered. */
export interface CheckTrace {
  /** `type:id`. */
  readonly resource: string;
  /** The relation or permission. */
  readonly relation: string;
  readonly kind: "relation" | "permission";
  readonly result: Permissionship;
  /** Answered from a cache: `memo` (this request) or `shared` (the result cache). */
  readonly cached?: "memo" | "shared";
  /** Met again while being computed: a cycle in the data, taken as DENIED for that visit. */
  readonly cycle?: boolean;
  readonly children: readonly CheckTrace[];
}

/** A subject written on a relation, as Expand lists it (usersets are named, not expanded). */
export interface ExpandedSubject {
  readonly subject: SubjectRef;
  readonly caveat?: CaveatRef;
  readonly expiration?: Date;
}

/** The userset tree of a permission: operators over leaves that list direct subjects. */
export type ExpandTree =
  | {
      readonly kind: "union" | "intersection" | "exclusion";
      /** The object and member this node computes (`document:1#view`). */
      readonly resource: ObjectRef;
      readonly relation: string;
      readonly children: readonly ExpandTree[];
    }
  | {
      readonly kind: "leaf";
      readonly resource: ObjectRef;
      readonly relation: string;
      readonly subjects: readonly ExpandedSubject[];
    };
