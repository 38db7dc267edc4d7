/**
 * `core/` owns the vocabulary every layer shares — objects, subjects, relationships and their
 * string forms, filters, mutations and preconditions, permission answers, check traces and
 * expand trees, revisions, zookie and consistency types, the clock, and the error type with
 * gRPC-named codes. It does no I/O and imports nothing from other layers.
 */
export * from "./clock.js";
export * from "./errors.js";
export * from "./names.js";
export * from "./permission.js";
export * from "./quote-input.js";
export * from "./relationship.js";
export * from "./relationship-filter.js";
export * from "./revision.js";
export * from "./schema-difference.js";
