/**
 * Layer rules (DESIGN.md §5, CONVENTIONS.md §1): imports point down only,
 * core → schema, store → engine → auth → operations → api → cli.
 */
const { builtinModules } = require("node:module");

/** Node's built-in modules, with or without the `node:` prefix (`fs`, `node:fs/promises`). */
const NODE_BUILTINS = `^(node:)?(${builtinModules.map((m) => m.replace(/[/.]/g, "\\$&")).join("|")})(/|$)`;
const layer = (name, mayImport) => ({
  name: `${name}-imports-down-only`,
  severity: "error",
  comment: `src/${name}/ may import only ${mayImport.join(", ") || "nothing else in src/"}`,
  from: { path: `^src/${name}/` },
  to: {
    path: "^src/",
    pathNot: [`^src/${name}/`, ...mayImport.map((l) => `^src/${l}/`)],
  },
});

module.exports = {
  forbidden: [
    layer("core", []),
    layer("schema", ["core"]),
    layer("store", ["core", "schema"]),
    layer("engine", ["core", "schema", "store"]),
    layer("auth", ["core", "schema", "store", "engine"]),
    layer("operations", ["core", "schema", "store", "engine", "auth"]),
    // The trellis.v1 messages and core's vocabulary, both ways: shared by the server and the client.
    layer("wire", ["core", "gen"]),
    layer("api", ["core", "schema", "store", "engine", "auth", "operations", "gen", "wire"]),
    layer("sdk", ["core", "gen", "wire"]),
    layer("telemetry", ["core"]),
    {
      name: "main-entry-imports-below-api",
      severity: "error",
      comment:
        "src/index.ts and src/trellis.ts (the embedded entry point) sit above every layer but api/ and cli/: they may import core, schema, store, engine, operations and the gRPC-free vocabulary of sdk/",
      from: { path: "^src/(index|trellis)\\.ts$" },
      to: {
        path: "^src/",
        pathNot: [
          "^src/(core|schema|store|engine|operations|telemetry)/",
          "^src/sdk/(trellis-api|request-inputs)\\.ts$",
          "^src/trellis\\.ts$",
        ],
      },
    },
    {
      name: "main-entry-never-loads-grpc",
      severity: "error",
      comment: "importing the package's main entry must not load gRPC; trellis/client does",
      from: { path: "^src/(index|trellis)\\.ts$" },
      to: { path: "node_modules/@grpc/", reachable: true },
    },
    {
      name: "grpc-only-in-api",
      severity: "error",
      comment: "only src/api/ and src/sdk/ speak gRPC",
      from: { path: "^src/", pathNot: "^src/(api|sdk|gen)/" },
      to: { path: "node_modules/@grpc/" },
    },
    {
      name: "authzed-only-in-api-authzed",
      severity: "error",
      comment: "SpiceDB's messages (@authzed/authzed-node) belong to its face, src/api/authzed/",
      from: { path: "^src/", pathNot: "^src/api/authzed/" },
      to: { path: "node_modules/@authzed/" },
    },
    {
      name: "telemetry-only-from-entry-points",
      severity: "error",
      comment:
        "the OpenTelemetry SDK is wired by the entry points only (cli/, the embedded Trellis); the layers trace through core/tracing.ts",
      from: { path: "^src/", pathNot: "^src/(cli/|telemetry/|index\\.ts$|trellis\\.ts$)" },
      to: { path: "^src/telemetry/" },
    },
    {
      name: "opentelemetry-only-in-telemetry",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/telemetry/" },
      to: { path: "node_modules/@opentelemetry/" },
    },
    {
      name: "jose-only-in-auth",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/auth/" },
      to: { path: "node_modules/jose/" },
    },
    {
      name: "memory-store-runs-in-browsers",
      severity: "error",
      comment:
        "src/store/memory/ runs in browsers (the playground): nothing it reaches — its own files, the shared store modules, core — may load a Node built-in (node:*) or any package (better-sqlite3, pg, pino, …); allow a package here only after checking that it runs in a browser. Node-only globals (Buffer, process) are caught by src/store/memory/browser-safety.test.ts",
      from: { path: "^src/store/memory/" },
      to: { path: [NODE_BUILTINS, "node_modules/"], reachable: true },
    },
    {
      name: "browser-entry-runs-without-node",
      severity: "error",
      comment:
        "src/browser.ts is the engine the playground runs in a browser: nothing it reaches may import a Node built-in (node:fs, node:crypto, …); move the Node part beside it (as engine/machine-memory.ts, engine/validation-file.ts) and inject it",
      from: { path: "^src/browser\\.ts$" },
      to: { path: NODE_BUILTINS, reachable: true },
    },
    {
      name: "browser-entry-uses-browser-packages",
      severity: "error",
      comment:
        "the packages the browser entry may reach run in a browser; add one here only after bundling it with esbuild's platform: browser (playground/build.mjs)",
      from: { path: "^src/browser\\.ts$" },
      to: {
        path: "node_modules/",
        pathNot:
          "node_modules/(yaml|lru-cache|@noble/hashes|@bufbuild/(cel|cel-spec|protobuf|re2))/",
        reachable: true,
      },
    },
    {
      name: "playground-reaches-src-through-browser-entry",
      severity: "error",
      comment:
        "the playground imports Trellis only through src/browser.ts, the code kept browser-safe",
      from: { path: "^playground/" },
      to: { path: "^src/", pathNot: "^src/browser\\.ts$" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
