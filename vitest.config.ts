import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One throwaway PostgreSQL per run for the adapter tests (each test file clones its own database).
    globalSetup: ["test/postgres/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The crash tests kill connections with pg_terminate_backend (SQLSTATE 57P01) and assert the outcome
    // themselves; on a busy machine the pg driver can surface that termination once more as a rejection nobody
    // awaits. Only that error is ignored: any other unhandled error still fails the run.
    onUnhandledError(error) {
      if ((error as { code?: unknown }).code === "57P01") return false;
    },
  },
});
