/**
 * Health analytics over 1M generated activation records: the statistics by service, the overview (five groupings
 * in one pass), against a bare loop that only counts outcomes per service over the same array; then the same 1M
 * rows in a throwaway PostgreSQL, where `SELECT * FROM service_health` is timed against
 * `computeHealthStats(records, { groupBy: ["service"] })` in the same run (best of 3 each).
 */
import pg from "pg";
import type { ActivationRecord, ActivationState } from "../src/core/records.js";
import { computeHealthOverview, computeHealthStats, type HealthStats } from "../src/health/index.js";
import { migrate } from "../src/postgres/index.js";
import { findPostgresBinaries, startThrowawayServer } from "../test/postgres/throwaway-server.js";

const RECORDS = 1_000_000;
const SERVICES = ["telegram", "whatsapp", "google", "viber", "tiktok", "discord", "openai", "uber"];
const COUNTRIES = ["id", "ru", "us", "kz", "br", "in", "vn", "ph"];
const STATES: ActivationState[] = [
  "received",
  "received",
  "received",
  "cancelled",
  "timeout",
  "expired",
  "failed",
  "waiting",
];

/** A small deterministic PRNG (mulberry32), so every run measures the same data. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(n: number): ActivationRecord[] {
  const rnd = prng(42);
  const start = Date.UTC(2024, 0, 1);
  const out: ActivationRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const state = STATES[Math.floor(rnd() * STATES.length)] as ActivationState;
    const createdAtMs = start + Math.floor(rnd() * 30 * 86_400_000);
    const issuedAtMs = state === "failed" ? null : createdAtMs + 800;
    const service = SERVICES[Math.floor(rnd() * SERVICES.length)] as string;
    out[i] = {
      id: `a${i}`,
      walletId: `w${i % 5000}`,
      provider: i % 3 === 0 ? "five-sim" : "hero-sms",
      providerActivationId: issuedAtMs === null ? null : String(i),
      serviceCode: service.slice(0, 2),
      countryCode: "0",
      service,
      country: COUNTRIES[Math.floor(rnd() * COUNTRIES.length)] as string,
      state,
      phone: null,
      priceMinor: 50 + Math.floor(rnd() * 100),
      costMinor: rnd() < 0.5 ? 40 : null,
      currency: "USD",
      codes: [],
      lateCodes: [],
      holdId: `h${i}`,
      retryOf: null,
      failureReason: null,
      createdAtMs,
      issuedAtMs,
      firstCodeAtMs:
        state === "received" && issuedAtMs !== null ? issuedAtMs + Math.floor(rnd() * 300_000) : null,
      endedAtMs:
        state === "waiting" || issuedAtMs === null ? null : issuedAtMs + Math.floor(rnd() * 1_200_000),
      closedAtMs: null,
      deadlineAtMs: createdAtMs + 1_200_000,
      cashbackMinor: state === "timeout" ? 10 : 0,
      version: 1,
    };
  }
  return out;
}

/** The baseline: one loop, a Map per service, a counter per outcome. */
function bareCount(records: readonly ActivationRecord[]): number {
  const perService = new Map<string, Record<ActivationState, number>>();
  for (const r of records) {
    const key = r.service ?? r.serviceCode;
    let c = perService.get(key);
    if (c === undefined) {
      c = { pending: 0, waiting: 0, received: 0, cancelled: 0, timeout: 0, expired: 0, failed: 0 };
      perService.set(key, c);
    }
    c[r.state]++;
  }
  return perService.size;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Runs every case once per round, interleaved, so that load from other processes hits the baseline and the
 * subjects alike; reports the median of each.
 */
function measure(rounds: number, cases: Record<string, () => unknown>): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(cases)) {
    f(); // warm-up
    samples[name] = [];
  }
  for (let i = 0; i < rounds; i++) {
    for (const [name, f] of Object.entries(cases)) {
      const t = performance.now();
      f();
      samples[name]?.push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

/** Rows per INSERT … SELECT FROM jsonb_to_recordset: ~20 MB of JSON each. */
const LOAD_BATCH = 50_000;

/** The activation columns the load writes (the rest take their defaults or stay null). */
const LOAD_COLUMNS = `id text, wallet_id text, provider text, provider_activation_id text, service_code text,
  country_code text, service text, country text, state text, price_minor bigint, cost_minor bigint, currency text,
  hold_id text, created_at_ms bigint, issued_at_ms bigint, first_code_at_ms bigint, ended_at_ms bigint,
  deadline_at_ms bigint, cashback_minor bigint, version bigint`;

/** Writes the records into `sms_fes.activations` in batches, plus one hold per activation (derived in SQL). */
async function load(pool: pg.Pool, records: readonly ActivationRecord[]): Promise<void> {
  const names = LOAD_COLUMNS.split(",").map((c) => c.trim().split(/\s+/)[0] as string);
  for (let from = 0; from < records.length; from += LOAD_BATCH) {
    const batch = records.slice(from, from + LOAD_BATCH).map((r) => ({
      id: r.id,
      wallet_id: r.walletId,
      provider: r.provider,
      provider_activation_id: r.providerActivationId,
      service_code: r.serviceCode,
      country_code: r.countryCode,
      service: r.service,
      country: r.country,
      state: r.state,
      price_minor: r.priceMinor,
      cost_minor: r.costMinor,
      currency: r.currency,
      hold_id: r.holdId,
      created_at_ms: r.createdAtMs,
      issued_at_ms: r.issuedAtMs,
      first_code_at_ms: r.firstCodeAtMs,
      ended_at_ms: r.endedAtMs,
      deadline_at_ms: r.deadlineAtMs,
      cashback_minor: r.cashbackMinor,
      version: r.version,
    }));
    await pool.query(
      `INSERT INTO sms_fes.activations (${names.join(", ")}) SELECT ${names.join(", ")} FROM jsonb_to_recordset($1::jsonb) AS x(${LOAD_COLUMNS})`,
      [JSON.stringify(batch)],
    );
  }
  // The view joins each activation's hold for the money: the price held, settled in full when received,
  // released when the purchase failed or ended otherwise, open while in flight.
  await pool.query(`INSERT INTO sms_fes.holds
    (id, wallet_id, currency, amount_minor, state, settled_minor, owner_type, owner_id, created_at_ms, resolved_at_ms)
    SELECT hold_id, wallet_id, currency, price_minor,
      CASE WHEN state IN ('pending', 'waiting') THEN 'open' WHEN state = 'received' THEN 'settled' ELSE 'released' END,
      CASE WHEN state = 'received' THEN price_minor ELSE 0 END,
      'activation', id, created_at_ms,
      CASE WHEN state IN ('pending', 'waiting') THEN NULL ELSE coalesce(ended_at_ms, created_at_ms + 1000) END
    FROM sms_fes.activations`);
  await pool.query("ANALYZE sms_fes.activations");
  await pool.query("ANALYZE sms_fes.holds");
}

/** One timed run, in ms, with its result. */
async function timed<T>(f: () => T | Promise<T>): Promise<{ ms: number; result: T }> {
  const t = performance.now();
  const result = await f();
  return { ms: performance.now() - t, result };
}

/** True when the view's counts per service (summed over days and currencies) are the analytics' counts. */
function sameCounts(rows: readonly Record<string, unknown>[], stats: HealthStats): boolean {
  const sums = new Map<string, number[]>();
  for (const r of rows) {
    const s = sums.get(String(r.service)) ?? [0, 0, 0, 0];
    s[0] = (s[0] as number) + Number(r.activations);
    s[1] = (s[1] as number) + Number(r.ended);
    s[2] = (s[2] as number) + Number(r.received);
    s[3] = (s[3] as number) + Number(r.failed);
    sums.set(String(r.service), s);
  }
  return (
    sums.size === stats.groups.length &&
    stats.groups.every((g) => {
      const s = sums.get(String(g.key.service));
      return s !== undefined && s.join() === [g.total, g.decided, g.received, g.failed].join();
    })
  );
}

/**
 * The analytics against the `service_health` view on the same rows, best of 3 each, interleaved. Starts a
 * throwaway server (as `bench/postgres.ts` does), or says why it could not.
 */
async function againstPostgres(records: readonly ActivationRecord[]): Promise<string[]> {
  if (findPostgresBinaries() === undefined) {
    return ["service_health view: skipped, no PostgreSQL server binaries (apt-get install -y postgresql)"];
  }
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  try {
    await migrate(pool);
    const loadStarted = performance.now();
    await load(pool, records);
    const loadS = (performance.now() - loadStarted) / 1000;
    const { rows: size } = await pool.query(
      "SELECT pg_size_pretty(pg_total_relation_size('sms_fes.activations') + pg_total_relation_size('sms_fes.holds')) AS s",
    );
    const view = async () => (await pool.query("SELECT * FROM sms_fes.service_health")).rows;
    const byService = () => computeHealthStats(records, { groupBy: ["service"] });
    const byServiceDay = () => computeHealthStats(records, { groupBy: ["service", "day"] });
    // Warm both (the view's pages into the cache, the analytics' code into the JIT), then interleave.
    await view();
    byService();
    let sql = Number.POSITIVE_INFINITY;
    let mem = Number.POSITIVE_INFINITY;
    let memDay = Number.POSITIVE_INFINITY;
    let rows: Record<string, unknown>[] = [];
    let stats: HealthStats | undefined;
    for (let i = 0; i < 3; i++) {
      const v = await timed(view);
      sql = Math.min(sql, v.ms);
      rows = v.result;
      const m = await timed(byService);
      mem = Math.min(mem, m.ms);
      stats = m.result;
      memDay = Math.min(memDay, (await timed(byServiceDay)).ms);
    }
    const agree = stats !== undefined && sameCounts(rows, stats);
    // The sorts behind percentile_cont spill to disk at the default work_mem (4 MB); the same query with room.
    const client = await pool.connect();
    let roomy = Number.POSITIVE_INFINITY;
    try {
      await client.query("SET work_mem = '256MB'");
      await client.query("SELECT * FROM sms_fes.service_health");
      for (let i = 0; i < 3; i++) {
        roomy = Math.min(roomy, (await timed(() => client.query("SELECT * FROM sms_fes.service_health"))).ms);
      }
    } finally {
      client.release();
    }
    return [
      `PostgreSQL ${(await pool.query("SHOW server_version")).rows[0].server_version}, default settings; ` +
        `${records.length.toLocaleString("en")} activations + holds loaded in ${loadS.toFixed(0)} s (${size[0].s}), ANALYZEd`,
      `SELECT * FROM service_health (${rows.length} rows: service × day × currency): ${sql.toFixed(0)} ms (best of 3)`,
      `computeHealthStats by service: ${mem.toFixed(0)} ms (best of 3) = ${(mem / sql).toFixed(2)}× the view's time (target ≤ 2×)`,
      `computeHealthStats by service × day (the view's grouping): ${memDay.toFixed(0)} ms = ${(memDay / sql).toFixed(2)}× the view's time`,
      `the same query with work_mem = 256MB (sorts and hash join in memory): ${roomy.toFixed(0)} ms; analytics by service = ${(mem / roomy).toFixed(2)}× that`,
      `counts per service, view vs analytics: ${agree ? "equal" : "DIFFERENT"}`,
    ];
  } finally {
    await pool.end();
    server.stop();
  }
}

/**
 * Runs the benchmark and reports ms per 1M records and the ratios to the bare loop, then the analytics against
 * the `service_health` view on the same records.
 */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const records = generate(RECORDS);
  const scale = 1_000_000 / RECORDS;
  const m = measure(5, {
    baseline: () => bareCount(records),
    byService: () => computeHealthStats(records, { groupBy: ["service"] }),
    pairs: () => computeHealthStats(records, { groupBy: ["service", "country"] }),
    overview: () => computeHealthOverview(records),
  });
  const ms = (k: string) => (m[k] ?? Number.NaN) * scale;
  const f = (k: string) => `${ms(k).toFixed(0)} ms per 1M records`;
  const ratio = (k: string) => `${(ms(k) / ms("baseline")).toFixed(1)}× the bare loop`;
  return {
    title: "Health analytics (1M activation records)",
    lines: [
      `bare loop counting outcomes per service (baseline): ${f("baseline")}`,
      `computeHealthStats by service: ${f("byService")} (${ratio("byService")})`,
      `computeHealthStats by service × country: ${f("pairs")} (${ratio("pairs")})`,
      `computeHealthOverview (5 groupings, one pass): ${f("overview")} (${ratio("overview")})`,
      ...(await againstPostgres(records)),
    ],
  };
}

// Run directly: `npx tsx bench/health.ts`. (Not `import.meta.url === argv[1]`: inside the bundle of bench/run.ts
// that holds too, and the benchmark would run twice at once.)
if (/[\\/]bench[\\/]health\.ts$/.test(process.argv[1] ?? "")) {
  run().then((r) => console.log([r.title, ...r.lines.map((l) => `  ${l}`)].join("\n")));
}
