import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage, migrate } from "../../src/postgres/index.js";
import { describeStorageConformance } from "../../src/testing/storage-conformance.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/**
 * The library's storage conformance suite against the PostgreSQL adapter. Every storage it asks for is a fresh
 * schema of this file's database, migrated on the spot (a few tens of milliseconds), so runs never share rows.
 */
let db: TestDatabase;
let pool: pg.Pool;
let schemas = 0;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  pool = db.pool(8);
});
afterAll(() => db.drop());

describeStorageConformance({
  name: "postgres",
  runs: Number(process.env.FES_PG_CONFORMANCE_RUNS ?? 25),
  async createStorage() {
    const schema = `conformance_${++schemas}`;
    await migrate(pool, { schema });
    return createPostgresStorage({ pool, schema });
  },
});
