import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One throwaway PostgreSQL per run for the adapter tests (each test file clones its own database).
    globalSetup: ["test/postgres/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
