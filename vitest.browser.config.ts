import { defineConfig } from "vitest/config";

// The browser checks: Chromium driven through playwright-core against the handler on a throwaway PostgreSQL.
// Run by `npm run test:browser` (after `apt-get install chromium`); `npm test` never needs a browser.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.browser.ts"],
    globalSetup: ["test/postgres/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
