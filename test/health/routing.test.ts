import { describe, expect, it } from "vitest";
import type { ActivationRecord } from "../../src/core/records.js";
import { createServiceGate } from "../../src/health/gate.js";
import { evaluateHealthPolicies } from "../../src/health/policies.js";
import { createRouter, DEFAULT_UNKNOWN_SUCCESS, rankCountries } from "../../src/health/routing.js";
import { computeHealthStats } from "../../src/health/stats.js";
import { wilson } from "../../src/health/wilson.js";
import { DAY, many, T0 } from "./fixtures.js";

function history(
  country: string,
  successes: number,
  failures: number,
  extra: Partial<ActivationRecord> = {},
) {
  return [
    ...many(successes, { state: "received", service: "telegram", country, ...extra }),
    ...many(failures, { state: "timeout", service: "telegram", country, ...extra }),
  ];
}

const records = [
  ...history("id", 40, 10), // strong
  ...history("ru", 20, 30), // middling
  ...history("kz", 0, 30), // dead
];
const stats = computeHealthStats(records, { groupBy: ["service", "country"] });

describe("rankCountries", () => {
  it("ranks by expected cost per success (price ÷ Wilson lower bound); a dead country is last", () => {
    const ranking = rankCountries(stats, {
      service: "telegram",
      candidates: [
        { country: "kz", priceMinor: 10 },
        { country: "ru", priceMinor: 30 },
        { country: "id", priceMinor: 100 },
      ],
    });
    expect(ranking.ranked.map((r) => r.country)).toEqual(["ru", "id", "kz"]);
    const ru = ranking.ranked[0];
    const lower = wilson(20, 50).lower;
    expect(ru?.expectedSuccess).toBe(lower);
    expect(ru?.expectedCostPerSuccessMinor).toBeCloseTo(30 / lower, 9);
    expect(ranking.ranked[2]?.expectedCostPerSuccessMinor).toBe(Number.POSITIVE_INFINITY);
  });

  it("prefers the more reliable country at equal price", () => {
    const ranking = rankCountries(stats, {
      service: "telegram",
      candidates: [
        { country: "ru", priceMinor: 100 },
        { country: "id", priceMinor: 100 },
      ],
    });
    expect(ranking.ranked.map((r) => r.country)).toEqual(["id", "ru"]);
  });

  it("gives an unknown pair the documented prior", () => {
    const ranking = rankCountries(stats, {
      service: "telegram",
      candidates: [
        { country: "br", priceMinor: 100 },
        { country: "ru", priceMinor: 100 },
      ],
    });
    const br = ranking.ranked.find((r) => r.country === "br");
    expect(br).toMatchObject({ known: false, n: 0, expectedSuccess: DEFAULT_UNKNOWN_SUCCESS });
    // ru's lower bound (≈ 0.276) beats the prior 0.25 at the same price.
    expect(ranking.ranked.map((r) => r.country)).toEqual(["ru", "br"]);
    const optimistic = rankCountries(stats, {
      service: "telegram",
      candidates: [
        { country: "br", priceMinor: 100 },
        { country: "ru", priceMinor: 100 },
      ],
      unknownSuccess: 0.5,
    });
    expect(optimistic.ranked.map((r) => r.country)).toEqual(["br", "ru"]);
  });

  it("skips pairs the gate disables, with the reason", () => {
    const gate = createServiceGate(evaluateHealthPolicies(records, { nowMs: T0 + DAY }).decisions);
    const ranking = rankCountries(stats, {
      service: "telegram",
      candidates: [
        { country: "kz", priceMinor: 1 },
        { country: "id", priceMinor: 100 },
      ],
      gate,
    });
    expect(ranking.ranked.map((r) => r.country)).toEqual(["id"]);
    expect(ranking.skipped).toHaveLength(1);
    expect(ranking.skipped[0]?.country).toBe("kz");
    expect(ranking.skipped[0]?.reason).toContain("telegram in kz");
  });

  it("ranks providers apart when the statistics have them", () => {
    const byProvider = computeHealthStats(
      [...history("id", 5, 45, { provider: "cheap" }), ...history("id", 45, 5, { provider: "good" })],
      { groupBy: ["service", "country", "provider"] },
    );
    const ranking = rankCountries(byProvider, {
      service: "telegram",
      candidates: [
        { country: "id", provider: "cheap", priceMinor: 80 },
        { country: "id", provider: "good", priceMinor: 100 },
      ],
    });
    expect(ranking.ranked.map((r) => r.provider)).toEqual(["good", "cheap"]);
    expect(ranking.ranked[0]?.n).toBe(50);
  });

  it("refuses statistics not grouped by service and country", () => {
    expect(() =>
      rankCountries(computeHealthStats(records, { groupBy: ["service"] }), {
        service: "telegram",
        candidates: [],
      }),
    ).toThrow(RangeError);
  });
});

describe("createRouter", () => {
  it("returns the ordered countries, each once, without the excluded ones (the retry after a timeout)", () => {
    const route = createRouter(records, {
      candidates: [
        { country: "id", priceMinor: 100, provider: "hero" },
        { country: "id", priceMinor: 100, provider: "unseen" },
        { country: "ru", priceMinor: 100 },
        { country: "kz", priceMinor: 100 },
      ],
    });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["id", "ru", "kz"]);
    expect(route({ service: "telegram", excludeCountries: ["id"] })).toEqual(["ru", "kz"]);
  });

  it("derives candidates from history at the mean price when none are given, and honours the gate", () => {
    const gate = createServiceGate(evaluateHealthPolicies(records, { nowMs: T0 + DAY }).decisions);
    const route = createRouter(stats, { gate });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["id", "ru"]);
    expect(route({ service: "nothing", excludeCountries: [] })).toEqual([]);
  });

  it("takes candidates per service from a function", () => {
    const route = createRouter(records, {
      candidates: (service) => (service === "telegram" ? [{ country: "ru", priceMinor: 1 }] : []),
    });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["ru"]);
    expect(route({ service: "google", excludeCountries: [] })).toEqual([]);
  });
});
