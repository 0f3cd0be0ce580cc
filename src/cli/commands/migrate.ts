import { migrate } from "../../postgres/migrate.js";
import { MIGRATIONS } from "../../postgres/migrations.generated.js";
import { lastResult } from "../../postgres/queryable.js";
import { quoteIdent } from "../../postgres/sql.js";
import { CONFIG_HELP, type Command } from "../command.js";
import { databaseUrl, openDatabase } from "../connect.js";
import { commonOptions, EXIT, parseCommand, printJson } from "../io.js";

const options = { ...commonOptions, status: { type: "boolean" }, "app-role": { type: "string" } } as const;

/** `sms-fes migrate [--status] [--app-role NAME]`. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply the PostgreSQL migrations (or list them with --status)",
  help: `usage: sms-fes migrate [--status] [--app-role NAME] [--database-url URL] [--schema NAME] [--json]

Applies the pending migrations in one transaction (safe from several processes at once), or with --status lists
applied and pending ones (exit 1 when some are pending). Run it as the schema's owner: the URL is taken from
--database-url, else DATABASE_OWNER_URL, else DATABASE_URL; the application then connects with DATABASE_URL as a
role that only reads and writes rows.

  --app-role NAME   grant the application role exactly what the service needs (renewed on every run); the role
                    is created with the password in SMS_FES_APP_ROLE_PASSWORD when it does not exist yet (the
                    owner then needs CREATEROLE), else it must exist
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, options);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const db = await openDatabase(
      io,
      databaseUrl(io, values, ["DATABASE_OWNER_URL", "DATABASE_URL"]),
      values.schema,
    );
    try {
      const role = String(lastResult(await db.pool.query("SELECT current_user AS role")).rows[0]?.role ?? "");
      const applied = await appliedVersions(db.pool, db.schema);
      if (values.status === true) {
        const pending = MIGRATIONS.filter((m) => !applied.has(m.version)).map((m) => m.version);
        const status = {
          schema: db.schema,
          role,
          applied: [...applied].sort((a, b) => a - b),
          pending,
          current: pending.length === 0,
        };
        if (values.json === true) printJson(io, status);
        else {
          io.stdout(
            `schema ${db.schema} (as ${role}): applied ${status.applied.join(", ") || "none"}; ` +
              `${pending.length === 0 ? "current" : `pending ${pending.join(", ")}`}\n`,
          );
        }
        return pending.length === 0 ? EXIT.ok : EXIT.findings;
      }
      const appRole = values["app-role"];
      const password = io.env.SMS_FES_APP_ROLE_PASSWORD;
      const result = await migrate(db.pool, {
        schema: db.schema,
        ...(appRole === undefined
          ? {}
          : {
              applicationRole:
                password === undefined || password === "" ? { name: appRole } : { name: appRole, password },
            }),
      });
      if (values.json === true) printJson(io, { schema: db.schema, role, ...result });
      else {
        io.stdout(
          result.applied.length === 0
            ? `schema ${db.schema} is current (version ${result.version})\n`
            : `schema ${db.schema}: applied ${result.applied.join(", ")} as ${role}; now at version ${result.version}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

/** The versions recorded in the schema (none when it was never migrated). */
export async function appliedVersions(
  pool: { query(text: string, values?: unknown[]): Promise<unknown> },
  schema: string,
): Promise<Set<number>> {
  const exists = lastResult(
    (await pool.query("SELECT to_regclass($1) IS NOT NULL AS present", [
      `${quoteIdent(schema)}.schema_migrations`,
    ])) as never,
  ).rows[0]?.present;
  if (exists !== true) return new Set();
  const rows = lastResult(
    (await pool.query(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations`)) as never,
  ).rows;
  return new Set(rows.map((r) => Number(r.version)));
}
