/**
 * What replacing one schema by another changes, as DiffSchema reports it (computed in
 * `schema/schema-diff.ts`); declared here so that every face and the client share it.
 */
export type SchemaDifferenceKind =
  | "DEFINITION_ADDED"
  | "DEFINITION_REMOVED"
  | "MEMBER_ADDED"
  | "MEMBER_REMOVED"
  | "MEMBER_CHANGED"
  | "CAVEAT_ADDED"
  | "CAVEAT_REMOVED"
  | "CAVEAT_CHANGED";

export interface SchemaDifference {
  readonly kind: SchemaDifferenceKind;
  /** `document`, `document#viewer` or a caveat name. */
  readonly target: string;
  readonly description: string;
}
