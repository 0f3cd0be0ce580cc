import { describe, expect, it } from "vitest";
import type { ActivationRecord } from "../../src/core/records.js";
import type { CountryRouter, ServiceGate } from "../../src/fes/context.js";
import { createServiceGate } from "../../src/health/gate.js";
import { evaluateHealthPolicies } from "../../src/health/policies.js";
import { createRouter, DEFAULT_UNKNOWN_SUCCESS, rankCountries } from "../../src/health/routing.js";
import { computeHealthStats } from "../../src/health/stats.js";
import { wilson } from "../../src/health/wilson.js";
import { DAY, many, T0 } from "./fixtures.js";

/** The provider's raw country codes for the canonical ids (SMS-Activate style). */
const RAW: Record<string, string> = { id: "6", ru: "0", kz: "2" };

function history(
  country: string,
  successes: number,
  failures: number,
  extra: Partial<ActivationRecord> = {},
) {
  const codes = { service: "telegram", serviceCode: "tg", country, countryCode: RAW[country] ?? country };
  return [
    ...many(successes, { state: "received", ...codes, ...extra }),
    ...many(failures, { state: "timeout", ...codes, ...extra }),
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
  const candidates = [
    { country: "id", priceMinor: 100, provider: "hero" },
    { country: "id", priceMinor: 100, provider: "unseen" },
    { country: "ru", priceMinor: 100 },
    { country: "kz", priceMinor: 100 },
  ];

  it("returns the provider's country codes in order, each once", () => {
    const route = createRouter(records, { candidates });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["6", "0", "2"]);
  });

  it("understands the raw service code and excludes by canonical id or raw code (the retry after a timeout)", () => {
    const route = createRouter(records, { candidates });
    expect(route({ service: "tg", excludeCountries: [] })).toEqual(["6", "0", "2"]);
    expect(route({ service: "tg", excludeCountries: ["id"] })).toEqual(["0", "2"]);
    expect(route({ service: "telegram", excludeCountries: ["6", "0"] })).toEqual(["2"]);
  });

  it("returns a candidate's explicit code", () => {
    const route = createRouter(records, { candidates: [{ country: "ru", priceMinor: 1, code: "russia" }] });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["russia"]);
  });

  it("derives candidates from history at the mean price when none are given, and honours the gate", () => {
    const gate = createServiceGate(evaluateHealthPolicies(records, { nowMs: T0 + DAY }).decisions);
    expect(createRouter(records, { gate })({ service: "tg", excludeCountries: [] })).toEqual(["6", "0"]);
    // Statistics alone do not know the raw codes: the router returns their keys.
    expect(createRouter(stats, { gate })({ service: "telegram", excludeCountries: [] })).toEqual([
      "id",
      "ru",
    ]);
    expect(createRouter(stats, { gate })({ service: "nothing", excludeCountries: [] })).toEqual([]);
  });

  it("takes candidates per service from a function", () => {
    const route = createRouter(records, {
      candidates: (service) => (service === "telegram" ? [{ country: "ru", priceMinor: 1 }] : []),
    });
    expect(route({ service: "telegram", excludeCountries: [] })).toEqual(["0"]);
    expect(route({ service: "google", excludeCountries: [] })).toEqual([]);
  });

  it("fits the orchestration's config.gate and config.route shapes", () => {
    const gate: ServiceGate = createServiceGate([]);
    const route: CountryRouter = createRouter([], {});
    expect(gate({ service: "x", country: "y" })).toEqual({ enabled: true });
    expect(route({ service: "x", excludeCountries: [] })).toEqual([]);
  });
});
