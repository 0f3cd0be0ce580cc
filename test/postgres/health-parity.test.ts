/**
 * The health views in PostgreSQL and the pure analytics must tell the same story about the same records
 * (docs/design.md §7): same UTC day buckets of `createdAtMs`, same denominator (received, cancelled, timeout, expired;
 * `failed` apart), time to code from `issuedAtMs` to `firstCodeAtMs`, percentiles as `percentile_cont`.
 * A few hundred seeded records with every outcome, ties, several days, services, countries and currencies are
 * written through the Postgres storage, then every figure the views give is compared with the analytics.
 * Another sample: `FES_PARITY_SEED=7 FES_PARITY_RECORDS=3000 npx vitest run test/postgres/health-parity`.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ActivationRecord,
  type ActivationState,
  type HoldRecord,
  platformAccountId,
  type TransferRecord,
} from "../../src/core/records.js";
import {
  computeHealthOverview,
  computeHealthStats,
  type HealthGroupStats,
  type HealthStats,
} from "../../src/health/index.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { wallet } from "./fixtures.js";

const DAY = 86_400_000;
/** 2024-03-01T00:00:00Z. */
const D0 = Date.UTC(2024, 2, 1);
const DAYS = 5;
const RECORDS = Number(process.env.FES_PARITY_RECORDS ?? 400);
const SEED = Number(process.env.FES_PARITY_SEED ?? 20240301);

/** Canonical id and the raw code sent to the provider. */
const SERVICES = [
  ["telegram", "tg"],
  ["whatsapp", "wa"],
  ["google", "go"],
  ["viber", "vi"],
  ["openai", "dr"],
] as const;
const COUNTRIES = [
  ["id", "6"],
  ["ru", "0"],
  ["us", "187"],
  ["kz", "2"],
] as const;
const CURRENCIES = ["USD", "EUR"] as const;
/** Weighted: every outcome occurs, received most often. */
const STATES: readonly ActivationState[] = [
  "received",
  "received",
  "received",
  "received",
  "cancelled",
  "cancelled",
  "timeout",
  "expired",
  "failed",
  "waiting",
  "pending",
];
/** Durations drawn from here make ties, within a group and across the interpolation points. */
const TIED_MS = [5_000, 10_000, 10_000, 15_000, 30_000];

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  readonly records: ActivationRecord[];
  readonly holds: HoldRecord[];
  readonly cashback: TransferRecord[];
}

/**
 * Activation records with the times their outcome has (and `null` for the rest), their holds (price held;
 * settled in full for `received`, released for the other ended outcomes and `failed`, open while in flight) and
 * the cashback transfers of those that earned one.
 */
function generate(seed: number, n: number): Generated {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const records: ActivationRecord[] = [];
  const holds: HoldRecord[] = [];
  const cashback: TransferRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = `p${String(i).padStart(4, "0")}`;
    const state = pick(STATES);
    const day = int(0, DAYS - 1);
    // A tenth of the records sit on a day's first or last milliseconds: the bucket edges.
    const edge = rnd();
    const inDay = edge < 0.04 ? int(0, 2) : edge < 0.1 ? DAY - int(1, 3_000) : int(3_000, DAY - 3_001);
    const createdAtMs = D0 + day * DAY + inDay;
    const currency = rnd() < 0.7 ? CURRENCIES[0] : CURRENCIES[1];
    const [service, serviceCode] = pick(SERVICES);
    const [country, countryCode] = pick(COUNTRIES);
    // Canonical ids are set; a few records were not resolved by the catalog and group under the raw code.
    const unresolvedService = rnd() < 0.05;
    const unresolvedCountry = rnd() < 0.05;
    const gotNumber = state !== "pending" && state !== "failed";
    const issuedAtMs = gotNumber ? createdAtMs + (rnd() < 0.2 ? 0 : int(1, 4_000)) : null;
    const firstCodeAtMs =
      state === "received" && issuedAtMs !== null
        ? issuedAtMs + (rnd() < 0.4 ? pick(TIED_MS) : int(0, 300_000))
        : null;
    const deadlineAtMs = issuedAtMs === null ? null : issuedAtMs + 1_200_000;
    const endedAtMs =
      state === "received" && firstCodeAtMs !== null
        ? firstCodeAtMs + int(0, 2_000)
        : state === "cancelled" && issuedAtMs !== null
          ? issuedAtMs + int(120_000, 1_100_000)
          : (state === "timeout" || state === "expired") && deadlineAtMs !== null
            ? deadlineAtMs + int(0, 5_000)
            : state === "failed"
              ? createdAtMs + int(100, 3_000)
              : null;
    const priceMinor = int(1, 250);
    const walletId = `w-${currency}`;
    const earnedCashback = state === "timeout" && rnd() < 0.6 ? int(1, 20) : 0;
    const record: ActivationRecord = {
      id,
      walletId,
      provider: rnd() < 0.5 ? "hero-sms" : "five-sim",
      providerActivationId: issuedAtMs === null ? null : `pa${i}`,
      serviceCode,
      countryCode,
      service: unresolvedService ? null : service,
      country: unresolvedCountry ? null : country,
      state,
      phone: issuedAtMs === null ? null : `6280000${String(i).padStart(4, "0")}`,
      priceMinor,
      // Known for some records of every outcome: only received ones count towards the cost.
      costMinor: rnd() < 0.6 ? int(0, priceMinor) : null,
      currency,
      codes: firstCodeAtMs === null ? [] : ["123456"],
      lateCodes: [],
      holdId: `h-${id}`,
      retryOf: null,
      failureReason: state === "failed" ? "no_numbers" : null,
      createdAtMs,
      issuedAtMs,
      firstCodeAtMs,
      endedAtMs,
      closedAtMs: endedAtMs,
      deadlineAtMs,
      cashbackMinor: earnedCashback,
      version: 1,
    };
    records.push(record);
    const resolved = state === "pending" || state === "waiting" ? null : endedAtMs;
    holds.push({
      id: record.holdId,
      walletId,
      currency,
      amountMinor: priceMinor,
      state: resolved === null ? "open" : state === "received" ? "settled" : "released",
      settledMinor: state === "received" ? priceMinor : 0,
      ownerType: "activation",
      ownerId: id,
      createdAtMs,
      resolvedAtMs: resolved,
    });
    if (earnedCashback > 0) {
      cashback.push({
        id: `cb-${id}`,
        seq: 0,
        kind: "cashback",
        debitAccountId: platformAccountId("promotions", currency),
        creditAccountId: walletId,
        amountMinor: earnedCashback,
        currency,
        walletId,
        walletBalanceAfterMinor: 0,
        holdId: null,
        operationId: id,
        reason: null,
        createdAtMs: (endedAtMs as number) + 1,
      });
    }
  }
  return { records, holds, cashback };
}

const { records, holds, cashback } = generate(SEED, RECORDS);

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(2);
  const storage = createPostgresStorage({ pool });
  await storage.transaction((tx) =>
    tx.apply({
      createWallets: CURRENCIES.map((c) => wallet(`w-${c}`, { currency: c })),
      openHolds: holds,
      transfers: cashback,
      activations: records.map((record) => ({ record, expectedVersion: null })),
    }),
  );
});
afterAll(() => db.drop());

type Row = Record<string, unknown>;

async function select(view: string): Promise<Row[]> {
  // `day` as text: a DATE would come back as a local-time JS Date.
  const { rows } = await pool.query(`SELECT v.*, v.day::text AS day FROM sms_fes.${view} AS v`);
  return rows;
}

/** A bigint column (text on the wire) or an integer one, as a number. */
const num = (v: unknown): number => Number(v);

/** Percentiles agree to 1e-9 ms, and are absent on both sides together. */
function expectSamePercentile(sql: unknown, mem: number | null, what: string): void {
  if (mem === null || sql === null) {
    expect(sql, what).toBe(mem);
    return;
  }
  expect(Math.abs((sql as number) - mem), `${what}: view ${sql}, analytics ${mem}`).toBeLessThanOrEqual(1e-9);
}

function indexGroups(
  stats: HealthStats,
  key: (g: HealthGroupStats) => string,
): Map<string, HealthGroupStats> {
  return new Map(stats.groups.map((g) => [key(g), g]));
}

/** The analytics of the records of one currency, the view's third grouping column. */
function perCurrency(currency: string, groupBy: ("service" | "country" | "day")[]): HealthStats {
  return computeHealthStats(
    records.filter((r) => r.currency === currency),
    { groupBy },
  );
}

/** Every figure a service_health / country_health row has, against the analytics' group. */
function expectSameHealthRow(row: Row, g: HealthGroupStats, currency: string, what: string): void {
  expect(
    {
      activations: row.activations,
      ended: row.ended,
      received: row.received,
      cancelled: row.cancelled,
      timeout: row.timeout,
      expired: row.expired,
      failed: row.failed,
      in_flight: row.in_flight,
    },
    what,
  ).toEqual({
    activations: g.total,
    ended: g.decided,
    received: g.received,
    cancelled: g.cancelled,
    timeout: g.timeout,
    expired: g.expired,
    failed: g.failed,
    in_flight: g.open,
  });
  // The shares: the view's counts are the numerators and its `ended` the denominator of each rate.
  for (const outcome of ["received", "cancelled", "timeout", "expired"] as const) {
    const s = g.shares[outcome];
    expect(s.denominator, what).toBe(row.ended);
    expect(s.numerator, what).toBe(row[outcome]);
    const rate =
      row[outcome === "received" ? "success_rate" : `${outcome.replace("cancelled", "cancel")}_rate`];
    if (s.denominator === 0) expect(rate, what).toBeNull();
    else expect(rate, what).toBe(s.numerator / s.denominator);
  }
  expectSamePercentile(row.median_time_to_code_ms, g.timeToCodeMs.median, `${what} median`);
  expectSamePercentile(row.p95_time_to_code_ms, g.timeToCodeMs.p95, `${what} p95`);
  const money = g.money.find((m) => m.currency === currency);
  expect(money, what).toBeDefined();
  expect(
    { settled: num(row.settled_minor), released: num(row.released_minor), cost: num(row.cost_minor) },
    `${what} money`,
  ).toEqual({
    settled: money?.revenueSettledMinor,
    released: money?.releasedMinor,
    cost: money?.margin.costMinor,
  });
}

/** Sums the outcome counts of view rows per key (over days and currencies). */
function sumCounts(rows: readonly Row[], key: (r: Row) => string): Map<string, Record<string, number>> {
  const fields = [
    "activations",
    "ended",
    "received",
    "cancelled",
    "timeout",
    "expired",
    "failed",
    "in_flight",
  ];
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const k = key(r);
    const acc = out.get(k) ?? Object.fromEntries(fields.map((f) => [f, 0]));
    for (const f of fields) acc[f] = (acc[f] ?? 0) + num(r[f] ?? 0);
    out.set(k, acc);
  }
  return out;
}

const countsOf = (g: HealthGroupStats): Record<string, number> => ({
  activations: g.total,
  ended: g.decided,
  received: g.received,
  cancelled: g.cancelled,
  timeout: g.timeout,
  expired: g.expired,
  failed: g.failed,
  in_flight: g.open,
});

describe("health views vs analytics on the same records", () => {
  it("the generated data covers what the comparison needs", () => {
    const states = new Set(records.map((r) => r.state));
    expect(states.size).toBe(7);
    const days = new Set(records.map((r) => Math.floor(r.createdAtMs / DAY)));
    expect(days.size).toBe(DAYS);
    // Edges of a day, unresolved codes, ties in time to code, and both currencies.
    expect(records.some((r) => r.createdAtMs % DAY === 0)).toBe(true);
    expect(records.some((r) => r.createdAtMs % DAY >= DAY - 3_000)).toBe(true);
    expect(records.some((r) => r.service === null)).toBe(true);
    expect(records.some((r) => r.country === null)).toBe(true);
    const codes = records.flatMap((r) =>
      r.firstCodeAtMs !== null && r.issuedAtMs !== null ? [r.firstCodeAtMs - r.issuedAtMs] : [],
    );
    expect(new Set(codes).size).toBeLessThan(codes.length);
    expect(new Set(records.map((r) => r.currency)).size).toBe(2);
  });

  for (const [view, dimension] of [
    ["service_health", "service"],
    ["country_health", "country"],
  ] as const) {
    it(`${view}: every figure per ${dimension} × UTC day × currency`, async () => {
      const rows = await select(view);
      let compared = 0;
      for (const currency of CURRENCIES) {
        const stats = perCurrency(currency, [dimension, "day"]);
        const groups = indexGroups(stats, (g) => `${g.key[dimension]}|${g.key.day}`);
        const mine = rows.filter((r) => r.currency === currency);
        expect(mine.map((r) => `${r[dimension]}|${r.day}`).sort(), currency).toEqual(
          [...groups.keys()].sort(),
        );
        for (const row of mine) {
          const key = `${row[dimension]}|${row.day}`;
          expectSameHealthRow(
            row,
            groups.get(key) as HealthGroupStats,
            currency,
            `${view} ${key} ${currency}`,
          );
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(30);
    });

    it(`${view}: the counts per ${dimension} over every day and currency`, async () => {
      const overview = computeHealthOverview(records);
      const stats = dimension === "service" ? overview.byService : overview.byCountry;
      const sums = sumCounts(await select(view), (r) => String(r[dimension]));
      expect([...sums.keys()].sort()).toEqual(stats.groups.map((g) => String(g.key[dimension])).sort());
      for (const g of stats.groups) expect(sums.get(String(g.key[dimension])), g.label).toEqual(countsOf(g));
    });
  }

  it("response_time: median and p95 per service × country × UTC day", async () => {
    const rows = await select("response_time");
    const stats = computeHealthStats(records, { groupBy: ["service", "country", "day"] });
    // The view keeps only the groups with a time to code.
    const coded = stats.groups.filter((g) => g.timeToCodeMs.count > 0);
    const groups = indexGroups(stats, (g) => `${g.key.service}|${g.key.country}|${g.key.day}`);
    const key = (r: Row) => `${r.service}|${r.country}|${r.day}`;
    expect(rows.map(key).sort()).toEqual(
      coded.map((g) => `${g.key.service}|${g.key.country}|${g.key.day}`).sort(),
    );
    for (const row of rows) {
      const g = groups.get(key(row)) as HealthGroupStats;
      expect(row.coded, key(row)).toBe(g.timeToCodeMs.count);
      expectSamePercentile(row.median_time_to_code_ms, g.timeToCodeMs.median, `${key(row)} median`);
      expectSamePercentile(row.p95_time_to_code_ms, g.timeToCodeMs.p95, `${key(row)} p95`);
      const times = records
        .filter(
          (r) =>
            (r.service ?? r.serviceCode) === row.service &&
            (r.country ?? r.countryCode) === row.country &&
            new Date(r.createdAtMs).toISOString().slice(0, 10) === row.day &&
            r.issuedAtMs !== null &&
            r.firstCodeAtMs !== null,
        )
        .map((r) => (r.firstCodeAtMs as number) - (r.issuedAtMs as number));
      expect([num(row.min_time_to_code_ms), num(row.max_time_to_code_ms)], key(row)).toEqual([
        Math.min(...times),
        Math.max(...times),
      ]);
    }
    expect(rows.length).toBeGreaterThan(20);
  });

  it("dashboard_stats: activation counts per UTC day × currency, money in total", async () => {
    const rows = await select("dashboard_stats");
    for (const currency of CURRENCIES) {
      const stats = perCurrency(currency, ["day"]);
      const groups = indexGroups(stats, (g) => String(g.key.day));
      const mine = rows.filter((r) => r.currency === currency);
      // Days with only money moving (a hold resolved after midnight) have no activations.
      expect(
        mine
          .filter((r) => r.activations !== 0)
          .map((r) => r.day)
          .sort(),
      ).toEqual([...groups.keys()].sort());
      for (const row of mine) {
        const g = groups.get(String(row.day));
        if (g === undefined) {
          expect(row.activations).toBe(0);
          continue;
        }
        const what = `${row.day} ${currency}`;
        expect(
          { activations: row.activations, ended: row.ended, received: row.received, failed: row.failed },
          what,
        ).toEqual({ activations: g.total, ended: g.decided, received: g.received, failed: g.failed });
        const s = g.shares.received;
        expect(row.success_rate, what).toBe(s.denominator === 0 ? null : s.numerator / s.denominator);
        expect(row.rentals, what).toBe(0);
      }
      // Money is bucketed by the day it moved here, by the creation day in the analytics: equal in total.
      const money = stats.total.money.find((m) => m.currency === currency);
      const total = (f: string) => mine.reduce((s, r) => s + num(r[f]), 0);
      expect({
        settled: total("settled_minor"),
        released: total("released_minor"),
        cashback: total("cashback_minor"),
      }).toEqual({
        settled: money?.revenueSettledMinor,
        released: money?.releasedMinor,
        cashback: money?.cashbackPaidMinor,
      });
    }
  });

  it("dashboard_stats: the counts per UTC day over both currencies", async () => {
    const { byDay } = computeHealthOverview(records);
    const sums = sumCounts(await select("dashboard_stats"), (r) => String(r.day));
    for (const g of byDay.groups) {
      const s = sums.get(String(g.key.day));
      expect(
        { activations: s?.activations, ended: s?.ended, received: s?.received, failed: s?.failed },
        g.label,
      ).toEqual({ activations: g.total, ended: g.decided, received: g.received, failed: g.failed });
    }
  });
});

describe("healthStats: the storage's one reader method, computed from the view, equals the analytics", () => {
  const groupings: ("service" | "country" | "provider" | "day" | "hour")[][] = [
    [],
    ["service"],
    ["service", "country"],
    ["country", "service"],
    ["day"],
    ["hour"],
    ["provider", "day", "hour"],
  ];
  const windows = [
    { sinceMs: Number.NEGATIVE_INFINITY, untilMs: Number.POSITIVE_INFINITY },
    // Edges inside days (and on a day's first millisecond), so the window cuts buckets.
    { sinceMs: D0 + DAY + 1, untilMs: D0 + 3 * DAY },
    { sinceMs: D0 + 2 * DAY + 12 * 3_600_000, untilMs: Number.POSITIVE_INFINITY },
    { sinceMs: D0 + DAYS * DAY, untilMs: D0 + (DAYS + 1) * DAY },
  ];
  for (const groupBy of groupings) {
    it(`grouped by ${groupBy.join(" × ") || "nothing"}, over every window`, async () => {
      const storage = createPostgresStorage({ pool });
      for (const w of windows) {
        const fromSql = await storage.read.healthStats({ ...w, groupBy });
        const fromRecords = computeHealthStats(records, {
          window: { fromMs: w.sinceMs, toMs: w.untilMs },
          groupBy,
        });
        expect(fromSql).toEqual(fromRecords);
      }
    });
  }

  it("refuses a grouping that repeats a dimension or names an unknown one", async () => {
    const storage = createPostgresStorage({ pool });
    const all = { sinceMs: 0, untilMs: Number.POSITIVE_INFINITY };
    await expect(storage.read.healthStats({ ...all, groupBy: ["day", "day"] })).rejects.toThrow(RangeError);
    await expect(
      storage.read.healthStats({ ...all, groupBy: ["service; DROP TABLE x" as "service"] }),
    ).rejects.toThrow(RangeError);
    await expect(storage.read.healthStats({ sinceMs: Number.NaN, untilMs: 1 })).rejects.toThrow(RangeError);
  });
});
