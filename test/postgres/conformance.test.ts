import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage, migrate, type PostgresStorageOptions } from "../../src/postgres/index.js";
import { seededRandom } from "../../src/testing/fake-provider.js";
import { describeStorageConformance } from "../../src/testing/storage-conformance.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/**
 * The library's storage conformance suite against the PostgreSQL adapter: as configured by default (speculative
 * units of work over the cache of committed rows), with the locking path only, and with a cache that is always
 * stale or stale at random (each read from the cache served an older version of the row, as another instance
 * writing behind its back would leave it). Every storage it asks for is a fresh schema of this file's database,
 * migrated on the spot (a few tens of milliseconds), so runs never share rows.
 */
let db: TestDatabase;
let pool: pg.Pool;
let schemas = 0;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  pool = db.pool(8);
});
afterAll(() => db.drop());

const runs = Number(process.env.FES_PG_CONFORMANCE_RUNS ?? 25);
const random = seededRandom(2026);
const variants: readonly [string, Partial<PostgresStorageOptions>, number][] = [
  ["postgres", {}, runs],
  ["postgres, locking only", { speculative: false }, Math.ceil(runs / 3)],
  ["postgres, cache always stale", { staleCacheReads: () => true }, Math.ceil(runs / 3)],
  ["postgres, cache stale at random", { staleCacheReads: () => random() < 0.3 }, Math.ceil(runs / 3)],
];

for (const [name, options, variantRuns] of variants) {
  describeStorageConformance({
    name,
    runs: variantRuns,
    async createStorage() {
      const schema = `conformance_${++schemas}`;
      await migrate(pool, { schema });
      return createPostgresStorage({ pool, schema, ...options });
    },
  });
}
