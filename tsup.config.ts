import { defineConfig, type Options } from "tsup";

/** The entries shipped in both formats. */
const libraryEntries = {
  index: "src/index.ts",
  memory: "src/memory/index.ts",
  postgres: "src/postgres/index.ts",
  "sms-activate": "src/provider/sms-activate/index.ts",
  fakes: "src/fakes/index.ts",
  health: "src/health/index.ts",
  mapping: "src/mapping/index.ts",
  otel: "src/otel/index.ts",
  http: "src/http/index.ts",
};

const shared = {
  dts: true,
  sourcemap: true,
  target: "node20",
  external: ["pg", "vitest", "fast-check", "@opentelemetry/api"],
} satisfies Options;

// ESM: every entry (`./testing` is ESM-only because vitest is) in one build with shared chunks, so each class is
// defined once however many entries an app imports. CJS cannot share chunks; errors that cross entries are
// recognised by a brand (`isStorageConflictError`), so a second copy of a class is harmless there.
export default defineConfig([
  {
    ...shared,
    entry: { ...libraryEntries, testing: "src/testing/index.ts" },
    format: ["esm"],
    splitting: true,
  },
  {
    ...shared,
    entry: libraryEntries,
    format: ["cjs"],
    splitting: false,
  },
  {
    // The `sms-fes` bin and the simulation it runs as `sms-fes sim` (loaded only by that command).
    entry: { cli: "src/cli/main.ts", sim: "scripts/simulate.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    target: "node20",
    platform: "node",
    splitting: false,
    banner: { js: "#!/usr/bin/env node" },
    external: ["pg", "@opentelemetry/api"],
  },
]);
