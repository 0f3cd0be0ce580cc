/**
 * Applies the sms-fes PostgreSQL migrations: `npx tsx scripts/migrate.ts --database-url postgres://… [--schema sms_fes]`.
 * `DATABASE_URL` is used when `--database-url` is absent. Safe to run from several processes at once.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { DEFAULT_SCHEMA, migrate } from "../src/postgres/index.js";

const { values } = parseArgs({
  options: {
    "database-url": { type: "string" },
    schema: { type: "string", default: DEFAULT_SCHEMA },
    help: { type: "boolean", short: "h" },
  },
});

const url = values["database-url"] ?? process.env.DATABASE_URL;
if (values.help === true || url === undefined) {
  console.error(
    "usage: npx tsx scripts/migrate.ts --database-url postgres://user@host/db [--schema sms_fes]",
  );
  process.exit(values.help === true ? 0 : 2);
}

const pool = new pg.Pool({ connectionString: url, max: 1 });
try {
  const { applied, version } = await migrate(pool, { schema: values.schema });
  console.log(
    applied.length === 0
      ? `schema ${values.schema} is current (version ${version})`
      : `schema ${values.schema}: applied ${applied.join(", ")}; now at version ${version}`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await pool.end();
}
