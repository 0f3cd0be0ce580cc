import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The text of `src/postgres/migrations.generated.ts`, built from `migrations/*.sql`. The SQL files are the source;
 * the module embeds them so the bundled adapter needs no file-system access. `migrations-sync.test.ts` fails when
 * they drift apart and rewrites the module when run with `FES_WRITE_MIGRATIONS=1`.
 */
export function embeddedMigrationsModule(migrationsDir: string): string {
  const files = readdirSync(migrationsDir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const entries = files.map((file) => {
    const version = Number(file.slice(0, 4));
    const name = file.slice(5, -4);
    const sql = readFileSync(join(migrationsDir, file), "utf8");
    return `  {\n    version: ${version},\n    name: ${JSON.stringify(name)},\n    sql: ${JSON.stringify(sql)},\n  },`;
  });
  return [
    "// Generated from migrations/*.sql by test/postgres/embed-migrations.ts; do not edit by hand.",
    "// Regenerate: FES_WRITE_MIGRATIONS=1 npx vitest run test/postgres/migrations-sync.test.ts",
    "",
    "/** One versioned migration: the text of `migrations/<version>_<name>.sql`. */",
    "export interface Migration {",
    "  readonly version: number;",
    "  readonly name: string;",
    "  readonly sql: string;",
    "}",
    "",
    "/** Every migration, in order. */",
    "// biome-ignore format: generated, each text as JSON.stringify writes it",
    "export const MIGRATIONS: readonly Migration[] = [",
    ...entries,
    "];",
    "",
  ].join("\n");
}
