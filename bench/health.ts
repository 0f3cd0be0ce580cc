/**
 * Health analytics over 1M generated activation records: the statistics by service, the overview (five groupings
 * in one pass), against a bare loop that only counts outcomes per service over the same array.
 */
import type { ActivationRecord, ActivationState } from "../src/core/records.js";
import { computeHealthOverview, computeHealthStats } from "../src/health/index.js";

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

/** Runs the benchmark and reports ms per 1M records and the ratios to the bare loop. */
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
    ],
  };
}

// Run directly: `npx tsx bench/health.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.log([r.title, ...r.lines.map((l) => `  ${l}`)].join("\n")));
}
