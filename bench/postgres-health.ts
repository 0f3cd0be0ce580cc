/**
 * The health policies over the last 30 days with 10⁷ activation rows in PostgreSQL (a year of history, so the
 * window holds about 8 % of them), through the one reader method `storage.read.healthStats` — four calls: 30 days
 * and 24 hours, by service and by service × country — then `evaluateHealthPoliciesOnStats`. Against, in the same
 * run: the floor, `SELECT count(*)` over the same window (one index range scan, nothing aggregated); and loading
 * the window's records with `listActivations({ createdSinceMs })` for `evaluateHealthPolicies` (what a refresh
 * did before there was a reader method, with the window filter at least). Median of 3 interleaved rounds; the
 * memory is the peak of the Node heap above its level before the call. Rows: `FES_BENCH_HEALTH_ROWS` (default 10⁷).
 */
import pg from "pg";
import type { ActivationRecord } from "../src/core/records.js";
import {
  defaultHealthPolicyConfig,
  evaluateHealthPolicies,
  evaluateHealthPoliciesOnStats,
} from "../src/health/index.js";
import { createPostgresStorage, migrate } from "../src/postgres/index.js";
import { startThrowawayServer } from "../test/postgres/throwaway-server.js";

const ROWS = Number(process.env.FES_BENCH_HEALTH_ROWS ?? 10_000_000);
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);
const HISTORY_DAYS = 365;
const CHUNK = 1_000_000;

/**
 * Server-side generation (no rows travel): 8 services × 8 countries, every outcome, spread evenly over the year
 * before NOW and inserted in creation order, as a live table fills (so the window's rows sit together on disk).
 */
async function load(pool: pg.Pool): Promise<void> {
  for (let from = 1; from <= ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK - 1);
    await pool.query(`
      INSERT INTO sms_fes.activations (id, wallet_id, provider, provider_activation_id, service_code, country_code,
        service, country, state, price_minor, cost_minor, currency, hold_id, created_at_ms, issued_at_ms,
        first_code_at_ms, ended_at_ms, deadline_at_ms, cashback_minor, version)
      SELECT 'a' || i, 'w' || (i % 5000), CASE WHEN i % 3 = 0 THEN 'five-sim' ELSE 'hero-sms' END, i::text,
        (ARRAY['tg','wa','go','vi','tk','ds','dr','ub'])[1 + (i * 7) % 8],
        (ARRAY['6','0','187','2','73','22','10','4'])[1 + (i * 13) % 8],
        (ARRAY['telegram','whatsapp','google','viber','tiktok','discord','openai','uber'])[1 + (i * 7) % 8],
        (ARRAY['id','ru','us','kz','br','in','vn','ph'])[1 + (i * 13) % 8],
        st, 50 + i % 100, CASE WHEN i % 2 = 0 THEN 40 END, 'USD', 'hold:a' || i, created,
        CASE WHEN st IN ('failed', 'pending') THEN NULL ELSE created + 800 END,
        CASE WHEN st = 'received' THEN created + 800 + (i * 7919) % 300000 END,
        CASE WHEN st IN ('cancelled', 'timeout', 'expired') THEN created + 800 + (i * 104729) % 1200000 END,
        created + 1200800, CASE WHEN st = 'timeout' THEN 25 ELSE 0 END, 1
      FROM generate_series(${from}::bigint, ${to}::bigint) AS i,
        LATERAL (SELECT ${NOW - HISTORY_DAYS * DAY} + (i - 1) * ${Math.floor((HISTORY_DAYS * DAY) / ROWS)} + (i * 7919) % 1000 AS created,
          (ARRAY['received','received','received','cancelled','timeout','expired','failed','waiting'])
            [1 + (i * 31) % 8] AS st) AS g`);
  }
  await pool.query("VACUUM ANALYZE sms_fes.activations");
}

/** Runs `f`, sampling the heap every 2 ms: the time and the peak heap above the level before. */
async function measured<T>(f: () => Promise<T>): Promise<{ ms: number; peakMiB: number; result: T }> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 2);
  const t = performance.now();
  const result = await f();
  const ms = performance.now() - t;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { ms, peakMiB: (peak - before) / 2 ** 20, result };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Runs the benchmark; returns its report. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const title = `Health policies, last 30 days, ${ROWS.toExponential(0)} activation rows in PostgreSQL`;
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  pool.on("error", () => {});
  try {
    await migrate(pool);
    const loadStarted = performance.now();
    await load(pool);
    const loadS = (performance.now() - loadStarted) / 1000;
    const storage = createPostgresStorage({ pool });
    const config = defaultHealthPolicyConfig;
    const history = { sinceMs: NOW - config.historyWindowMs, untilMs: NOW };
    const alert = { sinceMs: NOW - config.alert.windowMs, untilMs: NOW };
    const viaReader = async () => {
      const [byService, byServiceCountry, alertByService, alertByPair] = await Promise.all([
        storage.read.healthStats({ ...history, groupBy: ["service"] }),
        storage.read.healthStats({ ...history, groupBy: ["service", "country"] }),
        storage.read.healthStats({ ...alert, groupBy: ["service"] }),
        storage.read.healthStats({ ...alert, groupBy: ["service", "country"] }),
      ]);
      return evaluateHealthPoliciesOnStats({
        nowMs: NOW,
        config,
        history: { byService, byServiceCountry },
        alert: { byService: alertByService, byServiceCountry: alertByPair },
      });
    };
    const viaRecords = async () => {
      const records: readonly ActivationRecord[] = await storage.read.listActivations({
        createdSinceMs: history.sinceMs,
        createdUntilMs: NOW,
      });
      return evaluateHealthPolicies(records, { nowMs: NOW, config });
    };
    const floor = async () =>
      (
        await pool.query(
          "SELECT count(*) FROM sms_fes.activations WHERE created_at_ms >= $1 AND created_at_ms < $2",
          [history.sinceMs, NOW],
        )
      ).rows[0].count as string;
    const runs: Record<"floor" | "reader" | "records", { ms: number; peakMiB: number }[]> = {
      floor: [],
      reader: [],
      records: [],
    };
    let inWindow = "";
    let same = true;
    for (let round = 0; round < 3; round++) {
      const f = await measured(floor);
      inWindow = f.result;
      runs.floor.push(f);
      const a = await measured(viaReader);
      runs.reader.push(a);
      const b = await measured(viaRecords);
      runs.records.push(b);
      same &&= JSON.stringify(a.result) === JSON.stringify(b.result);
    }
    const ms = (k: keyof typeof runs) => median(runs[k].map((r) => r.ms));
    const mib = (k: keyof typeof runs) => median(runs[k].map((r) => r.peakMiB));
    const { rows: size } = await pool.query(
      "SELECT pg_size_pretty(pg_total_relation_size('sms_fes.activations')) AS s",
    );
    return {
      title,
      lines: [
        `${ROWS} rows (${size[0].s} with indexes, loaded in ${loadS.toFixed(0)} s); ${inWindow} in the last 30 days`,
        `floor, count(*) over the window: ${ms("floor").toFixed(0)} ms`,
        `healthStats ×4 + policies: ${ms("reader").toFixed(0)} ms (${(ms("reader") / ms("floor")).toFixed(1)}× the floor), peak heap +${mib("reader").toFixed(1)} MiB`,
        `listActivations(window) + evaluateHealthPolicies: ${ms("records").toFixed(0)} ms (${(ms("records") / ms("floor")).toFixed(1)}× the floor), peak heap +${mib("records").toFixed(0)} MiB`,
        `same decisions both ways: ${same ? "yes" : "NO"}; median of 3 interleaved rounds, PostgreSQL ${(await pool.query("SHOW server_version")).rows[0].server_version}, default settings`,
      ],
    };
  } finally {
    await pool.end();
    server.stop();
  }
}

if (/[\\/]bench[\\/]postgres-health\.ts$/.test(process.argv[1] ?? "")) {
  run().then((r) => console.log([r.title, ...r.lines.map((l) => `  ${l}`)].join("\n")));
}
