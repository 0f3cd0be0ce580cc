import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

// The examples' smoke tests (`npm run test:examples`): each example's server against the fake upstream and a
// throwaway PostgreSQL. The package's own names resolve to the sources here.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^sms-fes\/health$/, replacement: src("health/index.ts") },
      { find: /^sms-fes\/http$/, replacement: src("http/index.ts") },
      { find: /^sms-fes\/memory$/, replacement: src("memory/index.ts") },
      { find: /^sms-fes\/postgres$/, replacement: src("postgres/index.ts") },
      { find: /^sms-fes\/sms-activate$/, replacement: src("provider/sms-activate/index.ts") },
      { find: /^sms-fes\/testing$/, replacement: src("testing/index.ts") },
      { find: /^sms-fes$/, replacement: src("index.ts") },
    ],
  },
  test: {
    include: ["examples/**/*.smoke.ts"],
    globalSetup: ["test/postgres/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
