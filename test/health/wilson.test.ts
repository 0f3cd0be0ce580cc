import { describe, expect, it } from "vitest";
import { inverseNormal, judgedValue, wilson, zForConfidence } from "../../src/health/wilson.js";

describe("inverseNormal", () => {
  it.each([
    [0.975, 1.959963984540054],
    [0.95, 1.6448536269514715],
    [0.995, 2.5758293035489],
    [0.5, 0],
    [0.025, -1.959963984540054],
    [1e-10, -6.361340902404056],
  ])("Φ⁻¹(%s) = %s to 1e-9", (p, z) => {
    expect(Math.abs(inverseNormal(p) - z)).toBeLessThan(1e-9);
  });

  it("rejects probabilities outside (0, 1)", () => {
    expect(() => inverseNormal(0)).toThrow(RangeError);
    expect(() => inverseNormal(1)).toThrow(RangeError);
    expect(() => zForConfidence(1)).toThrow(RangeError);
  });
});

describe("wilson", () => {
  // Reference values: R `binom::binom.confint(x, n, method = "wilson")`, recomputed independently.
  it.each([
    [0, 2, 0, 0.6576197725],
    [0, 30, 0, 0.1135133932],
    [5, 10, 0.2365930905, 0.7634069095],
    [50, 100, 0.4038315304, 0.5961684696],
    [1, 1, 0.2065493144, 1],
    [1, 30, 0.0059085904, 0.1667039099],
    [3, 5, 0.2307242813, 0.8823792258],
  ])("%i/%i at 95 %% is [%f, %f]", (s, n, lower, upper) => {
    const w = wilson(s, n);
    expect(Math.abs(w.lower - lower)).toBeLessThan(1e-6);
    expect(Math.abs(w.upper - upper)).toBeLessThan(1e-6);
    expect(w.point).toBe(s / n);
  });

  it("widens with the confidence level", () => {
    const w90 = wilson(5, 10, 0.9);
    const w99 = wilson(5, 10, 0.99);
    expect(w99.lower).toBeLessThan(w90.lower);
    expect(w99.upper).toBeGreaterThan(w90.upper);
  });

  it("knows nothing from no sample", () => {
    expect(wilson(0, 0)).toEqual({ lower: 0, upper: 1, point: 0 });
  });

  it("rejects impossible counts", () => {
    expect(() => wilson(3, 2)).toThrow(RangeError);
    expect(() => wilson(-1, 2)).toThrow(RangeError);
    expect(() => wilson(0.5, 2)).toThrow(RangeError);
  });

  it("judges the chosen value", () => {
    const w = wilson(5, 10);
    expect(judgedValue(w, "point")).toBe(0.5);
    expect(judgedValue(w, "lower")).toBe(w.lower);
    expect(judgedValue(w, "upper")).toBe(w.upper);
  });
});
