import { defineConfig } from "tsup";

// The library entries ship as ESM + CJS; `./testing` is ESM-only because vitest is.
export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      memory: "src/memory/index.ts",
      postgres: "src/postgres/index.ts",
      "sms-activate": "src/provider/sms-activate/index.ts",
      otel: "src/otel/index.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    target: "node20",
    splitting: false,
    external: ["pg", "@opentelemetry/api"],
  },
  {
    entry: { testing: "src/testing/index.ts" },
    format: ["esm"],
    dts: true,
    sourcemap: true,
    target: "node20",
    external: ["vitest", "fast-check"],
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
