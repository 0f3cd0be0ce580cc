import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTIVATION_STATES } from "../../src/core/records.js";
import { percentileCont, percentilesInPlace, sortedHealthSample } from "../../src/health/percentile.js";
import { computeHealthStats } from "../../src/health/stats.js";
import { wilson } from "../../src/health/wilson.js";
import { activation, DAY, T0 } from "./fixtures.js";

const states = ACTIVATION_STATES;

const recordArb = fc
  .record({
    state: fc.constantFrom(...states),
    service: fc.constantFrom("telegram", "google", "viber"),
    country: fc.constantFrom("id", "ru", "us"),
    createdAtMs: fc.integer({ min: T0, max: T0 + 3 * DAY }),
  })
  .map((r) => activation(r));

describe("health properties", () => {
  it("the outcome shares of every group sum to its denominator, and groups sum to the total", () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 200 }), (records) => {
        const stats = computeHealthStats(records, { groupBy: ["service", "country", "day"] });
        for (const g of [...stats.groups, stats.total]) {
          const s = g.shares;
          const sum =
            s.received.numerator + s.cancelled.numerator + s.timeout.numerator + s.expired.numerator;
          expect(sum).toBe(g.decided);
          for (const share of Object.values(s)) expect(share.denominator).toBe(g.decided);
          expect(g.decided + g.failed + g.open).toBe(g.total);
        }
        expect(stats.groups.reduce((n, g) => n + g.total, 0)).toBe(records.length);
        expect(stats.groups.reduce((n, g) => n + g.decided, 0)).toBe(stats.total.decided);
      }),
    );
  });

  it("Wilson bounds: 0 ≤ lower ≤ point ≤ upper ≤ 1", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: 100_000 })
          .chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n))),
        fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
        ([s, n], confidence) => {
          const w = wilson(s, n, confidence);
          expect(0 <= w.lower && w.lower <= w.point && w.point <= w.upper && w.upper <= 1).toBe(true);
        },
      ),
    );
  });

  it("selection gives exactly percentile_cont over the sorted values", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, f1, f2) => {
          const fractions = [Math.min(f1, f2), Math.max(f1, f2)];
          const sorted = sortedHealthSample(values);
          const selected = percentilesInPlace(Float64Array.from(values), values.length, fractions);
          expect(selected).toEqual(fractions.map((f) => percentileCont(sorted, f)));
        },
      ),
    );
  });

  it("the cancel-age histogram counts every timed cancel once, ascending", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 0, max: 2e10 })), {
          maxLength: 100,
        }),
        (ages) => {
          const records = ages.map((age) => activation({ state: "cancelled", endedAtMs: T0 + 1000 + age }));
          const bins = computeHealthStats(records).total.cancelAgeSeconds;
          expect(bins.reduce((n, b) => n + b.count, 0)).toBe(ages.length);
          for (let i = 1; i < bins.length; i++)
            expect(bins[i]!.seconds).toBeGreaterThan(bins[i - 1]!.seconds);
          const expected = new Map<number, number>();
          for (const a of ages)
            expected.set(Math.floor(a / 1000), (expected.get(Math.floor(a / 1000)) ?? 0) + 1);
          expect(bins).toEqual(
            [...expected].sort((a, b) => a[0] - b[0]).map(([seconds, count]) => ({ seconds, count })),
          );
        },
      ),
    );
  });
});
