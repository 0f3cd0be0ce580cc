import { describe, expect, it } from "vitest";
import { percentileCont, sortedHealthSample } from "../../src/health/percentile.js";

// Expected values are what PostgreSQL returns for
// `SELECT percentile_cont(f) WITHIN GROUP (ORDER BY v) FROM unnest(ARRAY[...]) v`.
describe("percentileCont", () => {
  it.each([
    [[1, 2, 3, 4], 0.5, 2.5],
    [[1, 2, 3, 4], 0.95, 3.85],
    [[1, 2, 3], 0.5, 2],
    [[10], 0.5, 10],
    [[10], 0.95, 10],
    [[0, 100], 0.95, 95],
    [[5, 5, 5, 7], 0.5, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95, 19.05],
    [[1, 2, 3, 4], 0, 1],
    [[1, 2, 3, 4], 1, 4],
  ])("percentile_cont(%j, %s) = %s", (values, f, expected) => {
    expect(percentileCont(sortedHealthSample(values), f)).toBeCloseTo(expected, 12);
  });

  it("is null for no values", () => {
    expect(percentileCont([], 0.5)).toBeNull();
  });

  it("sorts numerically, not as strings", () => {
    expect([...sortedHealthSample([10, 9, 100, 1])]).toEqual([1, 9, 10, 100]);
  });

  it("rejects a fraction outside [0, 1]", () => {
    expect(() => percentileCont([1], 1.5)).toThrow(RangeError);
  });
});
