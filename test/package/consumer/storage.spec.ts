import pg from "pg";
import { createMemoryStorage } from "sms-fes/memory";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { describeStorageConformance } from "sms-fes/testing";
import { afterAll } from "vitest";

// The shipped storage suite against the shipped adapters: the memory adapter, and PostgreSQL on the throwaway
// server the package test started (one fresh schema per storage).
describeStorageConformance({ name: "installed memory adapter", createStorage: () => createMemoryStorage() });

const pool = new pg.Pool({ connectionString: process.env.FES_PACKAGE_PG_URL, max: 8 });
pool.on("error", () => {});
afterAll(() => pool.end());
let schemas = 0;

describeStorageConformance({
  name: "installed postgres adapter",
  runs: 10,
  async createStorage() {
    const schema = `conformance_${++schemas}`;
    await migrate(pool, { schema });
    return createPostgresStorage({ pool, schema });
  },
});
