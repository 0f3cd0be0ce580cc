/**
 * sms-fes/postgres: the Storage port over PostgreSQL (≥ 13) through `pg` or any client of the same shape, plus
 * the migrations that create its schema. Imports nothing from `pg` at run time.
 */

export { createPostgresAlertStore, type PostgresAlertStoreOptions } from "./alert-store.js";
export {
  APPEND_ONLY,
  ConnectionLostError,
  GUARD_MISSED,
  isConnectionLoss,
  isRetryable,
  sqlState,
} from "./errors.js";
export {
  applicationGrants,
  applyMigrations,
  type MigrateOptions,
  type MigrateResult,
  migrate,
  migrationChecksum,
} from "./migrate.js";
export { MIGRATIONS, type Migration } from "./migrations.generated.js";
export type { PoolClientLike, PoolLike, Queryable, QueryResultLike } from "./queryable.js";
export {
  createPostgresStorage,
  DEFAULT_CACHE_SIZE,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_COMMITS_IN_FLIGHT,
  DEFAULT_MAX_GROUP_SIZE,
  DEFAULT_MAX_RETRIES,
  DEFAULT_SCHEMA,
  type PostgresStorage,
  type PostgresStorageOptions,
  type SpeculationStats,
} from "./storage.js";
