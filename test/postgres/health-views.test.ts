import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActivationRecord, HoldRecord } from "../../src/core/records.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { activation, deposit, hold, rental, wallet } from "./fixtures.js";

const DAY_MS = 86_400_000;
/** 2024-01-01T00:00:00Z and the next day. */
const D1 = Date.UTC(2024, 0, 1);
const D2 = D1 + DAY_MS;

let db: TestDatabase;
let pool: pg.Pool;

/** One activation and its hold: `settled` of `price` posted, the rest released (`null`: still open). */
function row(
  id: string,
  state: ActivationRecord["state"],
  createdAtMs: number,
  opts: {
    ttcMs?: number;
    settled?: number | null;
    cost?: number;
    country?: string;
    service?: string | null;
  } = {},
): { a: ActivationRecord; h: HoldRecord } {
  const issued = createdAtMs + 1_000;
  const a = activation(id, {
    state,
    createdAtMs,
    issuedAtMs: state === "failed" ? null : issued,
    firstCodeAtMs: opts.ttcMs === undefined ? null : issued + opts.ttcMs,
    costMinor: opts.cost ?? null,
    country: opts.country ?? "id",
    service: opts.service === undefined ? "telegram" : opts.service,
    serviceCode: opts.service === null ? "wa" : "tg",
  });
  const settled = opts.settled === undefined ? 0 : opts.settled;
  const h = hold(a.holdId, "w1", 100, {
    ownerType: "activation",
    ownerId: id,
    createdAtMs,
    ...(settled === null
      ? {}
      : settled > 0
        ? { state: "settled" as const, settledMinor: settled, resolvedAtMs: createdAtMs + 60_000 }
        : { state: "released" as const, resolvedAtMs: createdAtMs + 60_000 }),
  });
  return { a, h };
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(2);
  const storage = createPostgresStorage({ pool });
  const rows = [
    row("a1", "received", D1 + 1_000, { ttcMs: 10_000, settled: 100, cost: 60 }),
    row("a2", "received", D1 + 2_000, { ttcMs: 20_000, settled: 80, cost: 70 }),
    // The last millisecond of D1 is still D1 (and its hold resolves on D2).
    row("a3", "received", D2 - 1, { ttcMs: 40_000, settled: 100 }),
    row("a4", "cancelled", D1 + 4_000),
    row("a5", "timeout", D1 + 5_000),
    row("a6", "expired", D1 + 6_000, { country: "ru" }),
    row("a7", "failed", D1 + 7_000),
    row("a8", "waiting", D1 + 8_000, { settled: null }),
    row("a9", "received", D2 + 5, { ttcMs: 5_000, settled: 100 }),
    row("b1", "failed", D1 + 9_000, { service: null }),
  ];
  await storage.transaction((tx) =>
    tx.apply({
      createWallets: [wallet("w1")],
      walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 1_000, frozenDeltaMinor: 0 }],
      transfers: [{ ...deposit("t1", "w1", 1_000, 1_000), createdAtMs: D1 + 10 }],
      openHolds: rows.map((r) => r.h),
      activations: rows.map((r) => ({ record: r.a, expectedVersion: null })),
      rentals: [{ record: rental("r1", { createdAtMs: D1 + 20 }), expectedVersion: null }],
    }),
  );
});
afterAll(() => db.drop());

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
async function select(view: string, where = "true"): Promise<Record<string, unknown>[]> {
  // `day` as text: a DATE would come back as a local-time JS Date.
  const { rows } = await pool.query(
    `SELECT v.*, v.day::text AS day_text FROM sms_fes.${view} AS v WHERE ${where} ORDER BY 1, v.day`,
  );
  return rows.map(({ day_text, ...rest }) => ({ ...rest, day: day_text }));
}

describe("health views", () => {
  it("service_health: outcomes over activations that got a number and ended, failed apart", async () => {
    const rows = await select("service_health");
    expect(rows.map((r) => [r.service, r.day])).toEqual([
      ["telegram", day(D1)],
      ["telegram", day(D2)],
      ["wa", day(D1)],
    ]);
    expect(rows[0]).toEqual({
      service: "telegram",
      day: day(D1),
      currency: "USD",
      activations: 8,
      ended: 6,
      received: 3,
      cancelled: 1,
      timeout: 1,
      expired: 1,
      failed: 1,
      in_flight: 1,
      success_rate: 0.5,
      cancel_rate: 1 / 6,
      timeout_rate: 1 / 6,
      expired_rate: 1 / 6,
      median_time_to_code_ms: 20_000,
      p95_time_to_code_ms: expect.closeTo(38_000, 6),
      // 100 + 80 + 100 settled; 20 of a2, and a4, a5, a6, a7 released in full; a8 still open.
      settled_minor: "280",
      released_minor: "420",
      cost_minor: "130",
    });
    expect(rows[1]).toMatchObject({
      activations: 1,
      ended: 1,
      received: 1,
      success_rate: 1,
      median_time_to_code_ms: 5_000,
    });
    expect(rows[2]).toMatchObject({ service: "wa", activations: 1, ended: 0, failed: 1, success_rate: null });
  });

  it("country_health: the same figures per country", async () => {
    const rows = await select("country_health", `day = '${day(D1)}'`);
    expect(rows.map((r) => r.country)).toEqual(["id", "ru"]);
    expect(rows[0]).toMatchObject({
      activations: 8,
      ended: 5,
      received: 3,
      failed: 2,
      success_rate: 0.6,
      cancel_rate: 0.2,
      timeout_rate: 0.2,
      expired_rate: 0,
      settled_minor: "280",
      // 20 of a2, and a4, a5, a7, b1 in full (a6 is in ru).
      released_minor: "420",
    });
    expect(rows[1]).toMatchObject({ activations: 1, ended: 1, expired: 1, expired_rate: 1, success_rate: 0 });
  });

  it("response_time: median and p95 from issue to first code", async () => {
    expect(await select("response_time")).toEqual([
      {
        service: "telegram",
        country: "id",
        day: day(D1),
        coded: 3,
        median_time_to_code_ms: 20_000,
        p95_time_to_code_ms: expect.closeTo(38_000, 6),
        min_time_to_code_ms: "10000",
        max_time_to_code_ms: "40000",
      },
      {
        service: "telegram",
        country: "id",
        day: day(D2),
        coded: 1,
        median_time_to_code_ms: 5_000,
        p95_time_to_code_ms: 5_000,
        min_time_to_code_ms: "5000",
        max_time_to_code_ms: "5000",
      },
    ]);
  });

  it("dashboard_stats: counts by creation day, money by the day it moved", async () => {
    expect(await select("dashboard_stats")).toEqual([
      {
        day: day(D1),
        currency: "USD",
        activations: 9,
        ended: 6,
        received: 3,
        failed: 2,
        success_rate: 0.5,
        rentals: 1,
        // a3's hold resolved a minute into D2; released: 20 of a2, and a4, a5, a6, a7, b1 in full.
        settled_minor: "180",
        released_minor: "520",
        deposits_minor: "1000",
        cashback_minor: "0",
      },
      {
        day: day(D2),
        currency: "USD",
        activations: 1,
        ended: 1,
        received: 1,
        failed: 0,
        success_rate: 1,
        rentals: 0,
        settled_minor: "200",
        released_minor: "0",
        deposits_minor: "0",
        cashback_minor: "0",
      },
    ]);
  });
});
