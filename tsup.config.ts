import { defineConfig } from "tsup";

// The library entries ship as ESM + CJS; `./testing` is ESM-only because vitest is.
export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      memory: "src/memory/index.ts",
      postgres: "src/postgres/index.ts",
      "sms-activate": "src/provider/sms-activate/index.ts",
      http: "src/http/index.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    target: "node20",
    splitting: false,
    external: ["pg"],
  },
  {
    entry: { testing: "src/testing/index.ts" },
    format: ["esm"],
    dts: true,
    sourcemap: true,
    target: "node20",
    external: ["vitest", "fast-check"],
  },
]);
