import pg from "pg";
import { inject } from "vitest";

/** A database of its own for one test file, cloned from the migrated template. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** A pool on this database; ended by `drop`. */
  pool(max?: number): pg.Pool;
  /** Ends the pools and drops the database. */
  drop(): Promise<void>;
}

let counter = 0;

function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs one statement on the server's maintenance database. */
export async function adminQuery(text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject("pgUrl") });
  await admin.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

/**
 * Creates a fresh database. With `migrated: false` it is empty (for migration tests); otherwise it is a copy of
 * the template the global setup migrated.
 */
export async function createTestDatabase(
  options: { readonly migrated?: boolean } = {},
): Promise<TestDatabase> {
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const template = options.migrated === false ? "template0" : inject("pgTemplate");
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = urlWithDatabase(inject("pgUrl"), name);
  const pools: pg.Pool[] = [];
  return {
    url,
    name,
    pool(max = 10) {
      const p = new pg.Pool({ connectionString: url, max });
      // An idle client whose backend is terminated emits `error` on the pool; the tests that kill backends expect it.
      p.on("error", () => {});
      pools.push(p);
      return p;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
