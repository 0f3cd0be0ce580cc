import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ActivationState } from "../../src/core/records.js";
import { computeHealthStats } from "../../src/health/stats.js";
import { wilson } from "../../src/health/wilson.js";
import { activation, DAY, T0 } from "./fixtures.js";

const states: ActivationState[] = [
  "pending",
  "waiting",
  "received",
  "cancelled",
  "timeout",
  "expired",
  "failed",
];

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
});
