import { MIGRATIONS, type Migration } from "./migrations.generated.js";
import { lastResult, type PoolLike } from "./queryable.js";
import { quoteIdent } from "./sql.js";
import { DEFAULT_SCHEMA } from "./storage.js";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The schema to create and migrate; default `sms_fes`. */
  readonly schema?: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Versions applied by this call, in order (empty when the schema was already current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/** A short checksum of a migration's text (FNV-1a, 32 bits): enough to notice an edited, already applied file. */
export function migrationChecksum(sql: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sql.length; i++) {
    hash ^= sql.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * Applies the pending migrations, in order, in one transaction. Idempotent, and safe when several processes start
 * at once: the transaction first takes a transaction-level advisory lock keyed by the schema name, so the others
 * wait and then find nothing left to do. Refuses to run when an applied migration's text has changed.
 */
export async function migrate(pool: PoolLike, options: MigrateOptions = {}): Promise<MigrateResult> {
  const schemaName = options.schema ?? DEFAULT_SCHEMA;
  return applyMigrations(pool, schemaName, MIGRATIONS);
}

/** {@link migrate} with an explicit list (tests use it to migrate step by step). */
export async function applyMigrations(
  pool: PoolLike,
  schemaName: string,
  migrations: readonly Migration[],
): Promise<MigrateResult> {
  const schema = quoteIdent(schemaName);
  const client = await pool.connect();
  let destroy = false;
  try {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `sms-fes:migrate:${schemaName}`,
      ]);
      await client.query(
        `CREATE SCHEMA IF NOT EXISTS ${schema}; SET LOCAL search_path TO ${schema}, pg_catalog; ` +
          `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, ` +
          "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      const done = new Map<number, string>();
      for (const row of lastResult(
        await client.query(`SELECT version, checksum FROM ${schema}.schema_migrations`),
      ).rows) {
        done.set(Number(row.version), String(row.checksum));
      }
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        const checksum = migrationChecksum(m.sql);
        const recorded = done.get(m.version);
        if (recorded !== undefined) {
          if (recorded !== checksum) {
            throw new Error(
              `migration ${m.version} (${m.name}) was changed after it was applied to ${schemaName}`,
            );
          }
          continue;
        }
        await client.query(m.sql);
        await client.query(
          `INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
          [m.version, m.name, checksum],
        );
        applied.push(m.version);
      }
      await client.query("COMMIT");
      const version = Math.max(0, ...done.keys(), ...applied);
      return { applied, version };
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch {
        destroy = true;
      }
      throw error;
    }
  } finally {
    client.release(destroy ? true : undefined);
  }
}
