import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS, migrate } from "../../src/postgres/index.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { embeddedMigrationsModule } from "./embed-migrations.js";

const migrationsDir = fileURLToPath(new URL("../../migrations", import.meta.url));
const generated = fileURLToPath(new URL("../../src/postgres/migrations.generated.ts", import.meta.url));

describe("embedded migrations", () => {
  it("match migrations/*.sql byte for byte", () => {
    const expected = embeddedMigrationsModule(migrationsDir);
    if (process.env.FES_WRITE_MIGRATIONS === "1") writeFileSync(generated, expected);
    expect(
      readFileSync(generated, "utf8"),
      "run FES_WRITE_MIGRATIONS=1 npx vitest run test/postgres/migrations",
    ).toBe(expected);
    // Strictly increasing from 1 (numbers are given in landing order; a branch may skip one not landed yet).
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions[0]).toBe(1);
    expect(versions.every((v, i) => i === 0 || v > (versions[i - 1] as number))).toBe(true);
  });
});

/** The schema's version once every migration is applied. */
const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));

describe("migrate", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(() => db.drop());

  it("applies every migration once, also when run twice and from several processes at once", async () => {
    const pools = Array.from({ length: 4 }, () => db.pool(1));
    const results = await Promise.all(pools.map((p) => migrate(p)));
    const applied = results.flatMap((r) => r.applied);
    expect(applied.sort()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(results.every((r) => r.version === LATEST)).toBe(true);
    expect(await migrate(pools[0]!)).toEqual({ applied: [], version: LATEST });
    const { rows } = await pools[0]!.query("SELECT version FROM sms_fes.schema_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("migrates step by step, into another schema", async () => {
    const pool = db.pool(1);
    expect(await applyMigrations(pool, "step", MIGRATIONS.slice(0, 1))).toEqual({ applied: [1], version: 1 });
    expect(await migrate(pool, { schema: "step" })).toEqual({
      applied: MIGRATIONS.slice(1).map((m) => m.version),
      version: LATEST,
    });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM step.service_health");
    expect(rows[0].n).toBe(0);
  });

  it("refuses to run when an applied migration was edited", async () => {
    const pool = db.pool(1);
    const edited = MIGRATIONS.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    await expect(applyMigrations(pool, "sms_fes", edited)).rejects.toThrow(/changed after it was applied/);
  });
});
