import { describe, expect, it } from "vitest";
import {
  computeHealthGroupings,
  computeHealthOverview,
  computeHealthStats,
  type HealthGroupStats,
  type HealthStats,
} from "../../src/health/stats.js";
import { healthWindows } from "../../src/health/window.js";
import { activation, DAY, HOUR, MINUTE, many, SECOND, T0 } from "./fixtures.js";

const issued = T0 + SECOND;

function telegram() {
  return [
    activation({ state: "received", firstCodeAtMs: issued + 30 * SECOND, priceMinor: 100, costMinor: 60 }),
    activation({ state: "received", firstCodeAtMs: issued + 10 * SECOND, priceMinor: 100 }),
    activation({ state: "cancelled", endedAtMs: issued + 120 * SECOND }),
    activation({ state: "timeout", cashbackMinor: 50 }),
    activation({ state: "expired" }),
    activation({ state: "failed" }),
    activation({ state: "pending" }),
    activation({ state: "waiting" }),
  ];
}

function group(stats: HealthStats, label: string): HealthGroupStats {
  const g = stats.groups.find((x) => x.label === label);
  if (g === undefined) throw new Error(`no group ${label} in ${stats.groups.map((x) => x.label).join(", ")}`);
  return g;
}

describe("computeHealthStats", () => {
  it("counts every outcome, shares over ended activations, failed apart, open in no denominator", () => {
    const g = group(computeHealthStats(telegram(), { groupBy: ["service"] }), "telegram");
    expect(g).toMatchObject({
      key: { service: "telegram" },
      total: 8,
      pending: 1,
      waiting: 1,
      open: 2,
      received: 2,
      cancelled: 1,
      timeout: 1,
      expired: 1,
      failed: 1,
      decided: 5,
      shares: {
        received: { numerator: 2, denominator: 5 },
        cancelled: { numerator: 1, denominator: 5 },
        timeout: { numerator: 1, denominator: 5 },
        expired: { numerator: 1, denominator: 5 },
      },
      failedShare: { numerator: 1, denominator: 6 },
    });
  });

  it("measures time to code (median, p95 as percentile_cont) and time to cancel", () => {
    const g = group(computeHealthStats(telegram(), { groupBy: ["service"] }), "telegram");
    expect(g.timeToCodeMs).toEqual({ count: 2, median: 20_000, p95: 29_000 });
    expect(g.timeToCancelMs).toEqual({ count: 1, median: 120_000 });
    expect(g.cancelAgeSeconds).toEqual([{ seconds: 120, count: 1 }]);
  });

  it("sums settled, released, cashback and margin where the cost is known", () => {
    const g = group(computeHealthStats(telegram(), { groupBy: ["service"] }), "telegram");
    expect(g.money).toEqual([
      {
        currency: "USD",
        count: 8,
        priceMinorSum: 800,
        revenueSettledMinor: 200,
        releasedMinor: 400,
        cashbackPaidMinor: 50,
        margin: { count: 1, revenueMinor: 100, costMinor: 60, marginMinor: 40 },
      },
    ]);
  });

  it("keeps currencies apart", () => {
    const stats = computeHealthStats([
      activation({ state: "received", currency: "USD", priceMinor: 100 }),
      activation({ state: "received", currency: "RUB", priceMinor: 9000 }),
    ]);
    expect(stats.total.money.map((m) => [m.currency, m.revenueSettledMinor])).toEqual([
      ["RUB", 9000],
      ["USD", 100],
    ]);
  });

  it("groups by the canonical id when resolved, else by the raw code", () => {
    const stats = computeHealthStats(
      [
        activation({ state: "received", service: "telegram", serviceCode: "tg" }),
        activation({ state: "received", service: "telegram", serviceCode: "telegram" }),
        activation({ state: "received", service: null, serviceCode: "go", country: null, countryCode: "0" }),
      ],
      { groupBy: ["service", "country"] },
    );
    expect(stats.groups.map((g) => [g.key, g.total])).toEqual([
      [{ service: "go", country: "0" }, 1],
      [{ service: "telegram", country: "id" }, 2],
    ]);
    expect(stats.groups.map((g) => g.label)).toEqual(["go × 0", "telegram × id"]);
  });

  it("judges all-success, all-fail and one-sample services on their own", () => {
    const stats = computeHealthStats(
      [
        ...many(3, { state: "received", service: "google" }),
        ...many(2, { state: "timeout", service: "whatsapp" }),
        activation({ state: "cancelled", service: "viber" }),
      ],
      { groupBy: ["service"] },
    );
    expect(group(stats, "google").shares.received).toEqual({ numerator: 3, denominator: 3 });
    expect(group(stats, "whatsapp").shares.received).toEqual({ numerator: 0, denominator: 2 });
    expect(group(stats, "whatsapp").shares.timeout).toEqual({ numerator: 2, denominator: 2 });
    expect(group(stats, "whatsapp").timeToCodeMs).toEqual({ count: 0, median: null, p95: null });
    expect(group(stats, "viber").shares.cancelled).toEqual({ numerator: 1, denominator: 1 });
    expect(group(stats, "viber").timeToCancelMs.median).toBe(5 * MINUTE - SECOND);
    expect(stats.total.decided).toBe(6);
  });

  it("takes the median of tied values as the tied value", () => {
    const stats = computeHealthStats([
      activation({ state: "received", firstCodeAtMs: issued + 5 * SECOND }),
      activation({ state: "received", firstCodeAtMs: issued + 5 * SECOND }),
      activation({ state: "received", firstCodeAtMs: issued + 5 * SECOND }),
      activation({ state: "received", firstCodeAtMs: issued + 7 * SECOND }),
    ]);
    expect(stats.total.timeToCodeMs.median).toBe(5000);
    expect(stats.total.timeToCodeMs.p95).toBeCloseTo(5000 + 0.85 * 2000, 9);
  });

  it("buckets days and hours in UTC by createdAtMs", () => {
    const late = T0 + DAY - MINUTE; // 2024-03-01T23:59Z
    const next = T0 + DAY; // 2024-03-02T00:00Z
    const records = [
      activation({ state: "received", createdAtMs: late }),
      activation({ state: "timeout", createdAtMs: next }),
    ];
    const byDay = computeHealthStats(records, { groupBy: ["day"] });
    expect(byDay.groups.map((g) => [g.key.day, g.received, g.timeout])).toEqual([
      ["2024-03-01", 1, 0],
      ["2024-03-02", 0, 1],
    ]);
    const byHour = computeHealthStats(records, { groupBy: ["hour"] });
    expect(byHour.groups.map((g) => [g.key.hour, g.label])).toEqual([
      [0, "00h"],
      [23, "23h"],
    ]);
  });

  it("selects the window [fromMs, toMs) by createdAtMs", () => {
    const records = [
      activation({ state: "received", createdAtMs: T0 - 1 }),
      activation({ state: "received", createdAtMs: T0 }),
      activation({ state: "received", createdAtMs: T0 + HOUR - 1 }),
      activation({ state: "received", createdAtMs: T0 + HOUR }),
    ];
    const stats = computeHealthStats(records, { window: healthWindows.between(T0, T0 + HOUR) });
    expect(stats.total.total).toBe(2);
    expect(computeHealthStats(records, { window: healthWindows.last24h(T0 + HOUR) }).total.total).toBe(3);
    expect(computeHealthStats(records, { window: healthWindows.last7d(T0 + 8 * DAY) }).total.total).toBe(0);
    expect(computeHealthStats(records, { window: healthWindows.last30d(T0 + 8 * DAY) }).total.total).toBe(4);
  });

  it("returns empty groups and 0/0 shares for an empty window", () => {
    const stats = computeHealthStats(telegram(), {
      window: healthWindows.between(T0 + DAY, T0 + 2 * DAY),
      groupBy: ["service"],
    });
    expect(stats.groups).toEqual([]);
    expect(stats.total).toMatchObject({
      label: "all",
      total: 0,
      decided: 0,
      shares: { received: { numerator: 0, denominator: 0 } },
      timeToCodeMs: { count: 0, median: null, p95: null },
      timeToCancelMs: { count: 0, median: null },
      money: [],
    });
  });

  it("computes several groupings in one pass with the same figures as one at a time", () => {
    const records = [
      ...telegram(),
      ...many(3, { state: "received", service: "google", createdAtMs: T0 + 5 * HOUR }),
      ...many(2, { state: "cancelled", country: "ru", createdAtMs: T0 + DAY + HOUR }),
    ];
    const window = healthWindows.all();
    const [a, b] = computeHealthGroupings(records, window, [["service"], ["country", "hour"]]);
    expect(a).toEqual(computeHealthStats(records, { groupBy: ["service"] }));
    expect(b).toEqual(computeHealthStats(records, { groupBy: ["country", "hour"] }));
    const overview = computeHealthOverview(records);
    expect(overview.byServiceCountry).toEqual(
      computeHealthStats(records, { groupBy: ["service", "country"] }),
    );
    expect(overview.total.total).toBe(records.length);
  });

  it("refuses a grouping that names a dimension twice", () => {
    expect(() => computeHealthStats([], { groupBy: ["service", "service"] })).toThrow(RangeError);
  });
});
