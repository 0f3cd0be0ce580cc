/**
 * The adapters the simulation can run on besides its defaults: the SMS-Activate adapter over the HTTP fake server
 * on loopback (`--provider http`) and PostgreSQL (`--storage postgres`).
 */
import {
  createSmsActivateProvider,
  type SmsActivatePresetName,
  type Timer,
} from "../src/provider/sms-activate/index.js";
import { type FakeServerDialect, startFakeSmsActivateServer } from "../src/testing/fake-server.js";
import type { SimulationOptions } from "./simulation.js";

/** The adapter's request timeout in the simulation: generous, so that a slow machine never trips it. */
export const HTTP_TIMEOUT_MS = 120_000;

/** The preset of the adapter that speaks each dialect of the fake server. */
const PRESET_OF: Readonly<Record<FakeServerDialect, SmsActivatePresetName>> = {
  "sms-activate": "sms-activate",
  "hero-sms": "hero-sms",
  clone: "generic",
};

/**
 * The adapter's timer: the request timeout runs on a real (unreferenced) timer, as a guard against a hung
 * server, while retry backoff fires on the next turn of the event loop. Backoff is wall-clock waiting, which the
 * simulation's manual clock has no use for.
 */
const simulationTimer: Timer = {
  setTimeout(callback, ms) {
    if (ms >= HTTP_TIMEOUT_MS) return { real: globalThis.setTimeout(callback, ms).unref() };
    return { soon: setImmediate(callback) };
  },
  clearTimeout(handle) {
    const h = handle as { real?: NodeJS.Timeout; soon?: NodeJS.Immediate } | null | undefined;
    if (h?.real !== undefined) globalThis.clearTimeout(h.real);
    if (h?.soon !== undefined) clearImmediate(h.soon);
  },
};

/**
 * `makeProvider` for {@link simulate}: starts the stateful fake `handler_api.php` server on 127.0.0.1 over the
 * simulation's clock, with the market's behaviour model (codes arrive by themselves), and talks to it through
 * `createSmsActivateProvider` with the matching preset. Prices are in USD like the in-process fake's.
 */
export function httpProvider(
  options: { readonly seed: number; readonly dialect?: FakeServerDialect } = { seed: 1 },
): NonNullable<SimulationOptions["makeProvider"]> {
  const dialect = options.dialect ?? "hero-sms";
  return async (clock, behaviour) => {
    const server = await startFakeSmsActivateServer({
      dialect,
      clock,
      seed: options.seed,
      behaviour,
      balance: "100000000",
    });
    const provider = createSmsActivateProvider({
      preset: PRESET_OF[dialect],
      baseUrl: server.url,
      apiKey: server.apiKey,
      clock,
      timer: simulationTimer,
      timeoutMs: HTTP_TIMEOUT_MS,
      currency: "USD",
    });
    return { provider, control: server, close: () => server.close() };
  };
}

/** A PostgreSQL storage on a fresh schema, and how to let it go. */
export interface PostgresRun {
  readonly schema: string;
  readonly storage: NonNullable<SimulationOptions["storage"]>;
  /** Drops the schema unless asked to keep it, then ends the pool. */
  close(options: { readonly keepSchema: boolean }): Promise<void>;
}

/** A schema name unique to this run: `sms_fes_sim_<time>_<random>`. */
export function freshSchemaName(): string {
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, "0");
  return `sms_fes_sim_${Date.now().toString(36)}_${random}`;
}

/**
 * Connects to `databaseUrl` (with `pg`, imported only here), refuses a schema that already exists, migrates it
 * and returns the storage over it.
 */
export async function postgresStorage(databaseUrl: string, schema: string): Promise<PostgresRun> {
  const [{ default: pg }, { createPostgresStorage, migrate }] = await Promise.all([
    import("pg"),
    import("../src/postgres/index.js"),
  ]);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  try {
    const found = await pool.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [
      schema,
    ]);
    if (found.rowCount !== 0) {
      throw new Error(
        `schema ${schema} already exists: the simulation needs a fresh one (--schema <new name>)`,
      );
    }
    await migrate(pool, { schema });
  } catch (e) {
    await pool.end();
    throw e;
  }
  const storage = createPostgresStorage({ pool: pool, schema });
  return {
    schema,
    storage,
    async close({ keepSchema }) {
      try {
        if (!keepSchema) await pool.query(`DROP SCHEMA "${schema.replaceAll('"', '""')}" CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}
