import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  codeQuantile,
  codeWithin,
  kaplanMeier,
  survivalAt,
  timeToCodeCurves,
  type WaitObservation,
  waitObservation,
} from "../../src/health/time-to-code.js";
import { seededRandom } from "../../src/testing/index.js";
import { activation, MINUTE, SECOND, T0 } from "./fixtures.js";

const observations = (censoring: boolean) =>
  fc.array(
    fc.record({
      timeMs: fc.integer({ min: 0, max: 30 }).map((t) => t * 1000),
      code: censoring ? fc.boolean() : fc.constant(true),
    }),
    { minLength: 1, maxLength: 60 },
  );

/** The product-limit estimate computed the slow way: at every code time, at risk = waits lasting at least as long. */
function bruteProductLimit(obs: readonly WaitObservation[], t: number): number {
  const times = [...new Set(obs.filter((o) => o.code && o.timeMs <= t).map((o) => o.timeMs))].sort(
    (a, b) => a - b,
  );
  let s = 1;
  for (const u of times) {
    const atRisk = obs.filter((o) => o.timeMs >= u).length;
    const codes = obs.filter((o) => o.code && o.timeMs === u).length;
    s *= 1 - codes / atRisk;
  }
  return s;
}

describe("Kaplan–Meier time to code", () => {
  it("equals the empirical share still without a code on uncensored data", () => {
    fc.assert(
      fc.property(observations(false), fc.integer({ min: -1, max: 31 }), (obs, t) => {
        const curve = kaplanMeier(obs);
        const empirical = obs.filter((o) => o.timeMs > t * 1000).length / obs.length;
        expect(survivalAt(curve, t * 1000)).toBeCloseTo(empirical, 12);
      }),
    );
  });

  it("equals a brute-force product limit with censoring", () => {
    fc.assert(
      fc.property(observations(true), fc.integer({ min: 0, max: 31 }), (obs, t) => {
        expect(survivalAt(kaplanMeier(obs), t * 1000)).toBeCloseTo(bruteProductLimit(obs, t * 1000), 12);
      }),
    );
  });

  it("the median on uncensored data is the empirical one (the smallest time with at least half the codes)", () => {
    fc.assert(
      fc.property(observations(false), (obs) => {
        const sorted = obs.map((o) => o.timeMs).sort((a, b) => a - b);
        const expected = sorted[Math.ceil(sorted.length / 2) - 1];
        expect(codeQuantile(kaplanMeier(obs), 0.5)).toBe(expected);
      }),
    );
  });

  it("has no median where fewer than half ever get a code", () => {
    const obs = [
      { timeMs: 1000, code: true },
      { timeMs: 2000, code: false },
      { timeMs: 20 * MINUTE, code: false },
    ];
    expect(codeQuantile(kaplanMeier(obs), 0.5)).toBeNull();
    expect(codeWithin(kaplanMeier(obs), 5000).probability).toBeCloseTo(1 / 3, 12);
  });

  it("bands cover the true chance of a code at their nominal rate on simulated data", () => {
    // A cure model: a share never gets a code; the rest arrive exponentially; customers cancel uniformly.
    fc.assert(
      fc.property(
        fc.record({
          success: fc.constantFrom(0.25, 0.5, 0.8),
          meanMs: fc.constantFrom(60_000, 180_000),
          seed: fc.integer({ min: 1, max: 1_000_000 }),
        }),
        ({ success, meanMs, seed }) => {
          const random = seededRandom(seed);
          const t0 = 3 * MINUTE;
          const truth = success * (1 - Math.exp(-t0 / meanMs));
          const reps = 300;
          let covered = 0;
          for (let r = 0; r < reps; r++) {
            const obs: WaitObservation[] = [];
            for (let i = 0; i < 120; i++) {
              const codeAt = random() < success ? -meanMs * Math.log(1 - random()) : Number.POSITIVE_INFINITY;
              const stopAt = 30_000 + random() * 20 * MINUTE;
              obs.push(codeAt <= stopAt ? { timeMs: codeAt, code: true } : { timeMs: stopAt, code: false });
            }
            const est = codeWithin(kaplanMeier(obs), t0);
            if (est.lower <= truth && truth <= est.upper) covered++;
          }
          // 300 replications: the standard error of a 95 % coverage is 1.3 points.
          expect(covered / reps).toBeGreaterThan(0.9);
          expect(covered / reps).toBeLessThan(0.99);
        },
      ),
      { numRuns: 6 },
    );
  });
});

describe("wait observations from records", () => {
  it("a code is an event at first code; a cancel censors at its end; a timeout at its deadline", () => {
    const received = activation({ state: "received" });
    expect(waitObservation(received)).toEqual({ timeMs: 30 * SECOND, code: true });
    const cancelled = activation({ state: "cancelled", endedAtMs: T0 + SECOND + 3 * MINUTE });
    expect(waitObservation(cancelled)).toEqual({ timeMs: 3 * MINUTE, code: false });
    const timeout = activation({
      state: "timeout",
      endedAtMs: T0 + 24 * MINUTE,
      deadlineAtMs: T0 + SECOND + 20 * MINUTE,
    });
    expect(waitObservation(timeout)).toEqual({ timeMs: 20 * MINUTE, code: false });
    expect(waitObservation(activation({ state: "waiting" }))).toBeUndefined();
    expect(waitObservation(activation({ state: "failed" }))).toBeUndefined();
  });

  it("groups curves per service × country, and by provider when asked", () => {
    const records = [
      activation({ state: "received" }),
      activation({ state: "cancelled" }),
      activation({ state: "received", country: "ru", provider: "other" }),
    ];
    const byPair = timeToCodeCurves(records);
    expect(byPair.map((g) => [g.service, g.country, g.curve.n, g.curve.codes])).toEqual([
      ["telegram", "id", 2, 1],
      ["telegram", "ru", 1, 1],
    ]);
    expect(byPair[0]?.medianMs).toBe(30 * SECOND);
    const byProvider = timeToCodeCurves(records, { by: ["service", "provider"] });
    expect(byProvider.map((g) => [g.provider, g.country, g.curve.n])).toEqual([
      ["hero", null, 2],
      ["other", null, 1],
    ]);
  });
});
