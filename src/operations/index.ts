/**
 * The operation layer: every operation of Trellis once, in domain terms, for every face (gRPC
 * services, SpiceDB's API, HTTP, the embedded class, the CLI). May import core, schema, store,
 * engine and auth; faces import it, never the other way round.
 */
export * from "./operations.js";
