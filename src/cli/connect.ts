import { readFileSync } from "node:fs";
import { createPostgresAlertStore } from "../postgres/alert-store.js";
import type { PoolLike } from "../postgres/queryable.js";
import { createPostgresStorage, DEFAULT_SCHEMA } from "../postgres/storage.js";
import { createSmsActivateProvider, type SmsActivateProvider } from "../provider/sms-activate/adapter.js";
import { type SmsActivatePresetName, smsActivatePresets } from "../provider/sms-activate/presets.js";
import { CliExit, type CliIo, redactUrl, scrub } from "./io.js";

/** A database connection for one command. */
export interface Database {
  readonly pool: PoolLike & { end(): Promise<void> };
  readonly schema: string;
  /** The URL with its password hidden. */
  readonly where: string;
  readonly secret: string;
  storage(): ReturnType<typeof createPostgresStorage>;
  alerts(): ReturnType<typeof createPostgresAlertStore>;
  close(): Promise<void>;
}

/** The database URL from `--database-url`, else the first of the given environment variables that is set. */
export function databaseUrl(
  io: CliIo,
  values: { "database-url"?: string | undefined },
  env: readonly string[] = ["DATABASE_URL"],
): string {
  const url =
    values["database-url"] ?? env.map((name) => io.env[name]).find((v) => v !== undefined && v !== "");
  if (url === undefined) throw new CliExit(`no database: pass --database-url or set ${env.join(" or ")}`);
  return url;
}

/** Connects (with `pg`, imported only here) and checks the server answers; an unreachable database exits 2. */
export async function openDatabase(io: CliIo, url: string, schema: string | undefined): Promise<Database> {
  let pg: typeof import("pg");
  try {
    pg = (await import("pg")).default as unknown as typeof import("pg");
  } catch {
    throw new CliExit("the pg driver is not installed: npm install pg");
  }
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
  pool.on("error", () => {});
  const where = redactUrl(url);
  try {
    await pool.query("SELECT 1");
  } catch (e) {
    await pool.end().catch(() => {});
    const why = e instanceof Error ? scrub(e.message, [url, new URL(url).password || undefined]) : "error";
    throw new CliExit(`cannot reach the database at ${where}: ${why}`);
  }
  const s = schema ?? io.env.SMS_FES_SCHEMA ?? DEFAULT_SCHEMA;
  return {
    pool,
    schema: s,
    where,
    secret: url,
    storage: () => createPostgresStorage({ pool, schema: s }),
    alerts: () => createPostgresAlertStore({ pool, schema: s }),
    close: () => pool.end(),
  };
}

/** The provider's settings, from flags or the environment; the key only from the environment or a file. */
export interface ProviderSettings {
  readonly apiKey: string;
  readonly preset: SmsActivatePresetName;
  readonly baseUrl: string;
}

/** Reads the provider settings; a missing key or URL is a usage error. */
export function providerSettings(
  io: CliIo,
  values: {
    "provider-url"?: string | undefined;
    preset?: string | undefined;
    "provider-key-file"?: string | undefined;
  },
): ProviderSettings {
  const presetName = values.preset ?? io.env.SMS_FES_PROVIDER_PRESET ?? "hero-sms";
  if (!Object.hasOwn(smsActivatePresets, presetName)) {
    throw new CliExit(
      `--preset must be one of ${Object.keys(smsActivatePresets).join(", ")}, got ${presetName}`,
    );
  }
  const preset = presetName as SmsActivatePresetName;
  const baseUrl = values["provider-url"] ?? io.env.SMS_FES_PROVIDER_URL ?? smsActivatePresets[preset].baseUrl;
  if (baseUrl === null || baseUrl === undefined) {
    throw new CliExit("no provider URL: pass --provider-url or set SMS_FES_PROVIDER_URL");
  }
  let apiKey = io.env.SMS_FES_PROVIDER_KEY;
  const file = values["provider-key-file"];
  if (file !== undefined) {
    try {
      apiKey = readFileSync(file, "utf8").trim();
    } catch {
      throw new CliExit(`cannot read the provider key file ${file}`);
    }
  }
  if (apiKey === undefined || apiKey === "") {
    throw new CliExit("no provider key: set SMS_FES_PROVIDER_KEY or pass --provider-key-file");
  }
  return { apiKey, preset, baseUrl };
}

/** The SMS-Activate protocol adapter for the settings. */
export function openProvider(settings: ProviderSettings): SmsActivateProvider {
  return createSmsActivateProvider({
    apiKey: settings.apiKey,
    preset: settings.preset,
    baseUrl: settings.baseUrl,
  });
}
