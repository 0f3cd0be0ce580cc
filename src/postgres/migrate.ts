import { MIGRATIONS, type Migration } from "./migrations.generated.js";
import { lastResult, type PoolLike, type Queryable } from "./queryable.js";
import { quoteIdent, quoteLiteral } from "./sql.js";
import { DEFAULT_SCHEMA } from "./storage.js";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The schema to create and migrate; default `sms_fes`. */
  readonly schema?: string;
  /**
   * The role the application connects as. After the migrations, in the same transaction, it gets exactly what the
   * adapter needs (see {@link applicationGrants}) and nothing else: no DDL, no UPDATE, DELETE or TRUNCATE on the
   * append-only tables. With `password`, a missing role is created (`LOGIN`; the migrating role needs
   * `CREATEROLE`); without it, the role must exist. Run `migrate` as the owner role, never as this one.
   */
  readonly applicationRole?: { readonly name: string; readonly password?: string };
}

/**
 * The privileges of the application role on a migrated schema: reads everywhere; inserts where the adapter writes;
 * UPDATE only on the rows it changes in place (wallet counters, hold resolutions, activation and rental versions);
 * DELETE only on idempotency keys (the retention step). Transfers and the audit trail are insert-only.
 */
export function applicationGrants(schema: string, role: string): string[] {
  const s = quoteIdent(schema);
  const r = quoteIdent(role);
  return [
    `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${r}`,
    `GRANT INSERT, UPDATE ON ${s}.wallets, ${s}.holds, ${s}.activations, ${s}.rentals TO ${r}`,
    `GRANT INSERT ON ${s}.transfers, ${s}.audit_trail TO ${r}`,
    `GRANT INSERT, DELETE ON ${s}.idempotency_keys TO ${r}`,
    // The notifier's shared state (what was seen and sent), written by every worker.
    `GRANT INSERT, UPDATE ON ${s}.alert_states, ${s}.alert_deliveries TO ${r}`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${r}`,
  ];
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
  return applyMigrations(pool, schemaName, MIGRATIONS, options);
}

/** Creates the application role when asked and missing, then grants it {@link applicationGrants}. */
async function grantApplicationRole(
  client: Queryable,
  schemaName: string,
  role: NonNullable<MigrateOptions["applicationRole"]>,
): Promise<void> {
  const exists = lastResult(
    await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.name]),
  ).rows;
  if (exists.length === 0) {
    if (role.password === undefined)
      throw new Error(`the application role ${role.name} does not exist (give a password to create it)`);
    await client.query(`CREATE ROLE ${quoteIdent(role.name)} LOGIN PASSWORD ${quoteLiteral(role.password)}`);
  }
  await client.query(applicationGrants(schemaName, role.name).join(";\n"));
}

/** {@link migrate} with an explicit list (tests use it to migrate step by step). */
export async function applyMigrations(
  pool: PoolLike,
  schemaName: string,
  migrations: readonly Migration[],
  options: Pick<MigrateOptions, "applicationRole"> = {},
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
      if (options.applicationRole !== undefined)
        await grantApplicationRole(client, schemaName, options.applicationRole);
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
