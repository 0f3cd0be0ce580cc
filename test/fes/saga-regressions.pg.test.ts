import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage, migrate } from "../../src/postgres/index.js";
import { createTestDatabase, type TestDatabase } from "../postgres/database.js";
import { describeSagaRegressions } from "./saga-scenarios.js";

/** The saga's regression scenarios on the PostgreSQL adapter: every scenario gets a fresh schema. */
let db: TestDatabase;
let pool: pg.Pool;
let schemas = 0;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  pool = db.pool(8);
});
afterAll(() => db.drop());

describeSagaRegressions("postgres", async () => {
  const schema = `saga_${++schemas}`;
  await migrate(pool, { schema });
  return createPostgresStorage({ pool, schema });
});
