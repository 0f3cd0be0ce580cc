import { describe, expect, it } from "vitest";
import { simulate } from "../../scripts/simulation.js";
import { formatMinorAmount, renderHealthTable, withCountryNames } from "../../src/health/index.js";
import { computeHealthStats } from "../../src/health/stats.js";

describe("the simulation's progress and money display", () => {
  it("regression: the progress bar reached 100 % a fifth of the way through; now it follows simulated time", async () => {
    const seen: number[] = [];
    await simulate({
      seed: 2,
      customers: 20,
      activations: 300,
      rentals: 10,
      days: 3,
      onProgress: (d) => seen.push(d),
    });
    expect(seen.length).toBeGreaterThan(4);
    expect(seen.at(-1)).toBe(1);
    // Only the final call says "done", and the share never goes back.
    expect(seen.filter((d) => d >= 1)).toEqual([1]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
    // Halfway through the calls, the bar is neither near 0 nor near 100 %.
    const middle = seen[Math.floor(seen.length / 2)] as number;
    expect(middle).toBeGreaterThan(0.2);
    expect(middle).toBeLessThan(0.95);
  });

  it("regression: health tables printed minor units with a currency suffix (114246 USD for $1,142.46)", () => {
    expect(formatMinorAmount(114_246, "USD")).toBe("1,142.46 USD");
    expect(formatMinorAmount(-5, "USD")).toBe("-0.05 USD");
    expect(formatMinorAmount(500, "JPY")).toBe("500 JPY");
    expect(formatMinorAmount(1_234, "KWD")).toBe("1.234 KWD");
    expect(formatMinorAmount(7, "credits")).toBe("0.07 credits");
    const stats = computeHealthStats(
      [
        {
          id: "a1",
          walletId: "w",
          provider: "fake",
          providerActivationId: "p1",
          serviceCode: "tg",
          countryCode: "6",
          service: null,
          country: null,
          state: "received",
          priceMinor: 114_246,
          costMinor: 100_000,
          cashbackMinor: 0,
          currency: "USD",
          createdAtMs: 0,
          issuedAtMs: 0,
          firstCodeAtMs: 1_000,
          endedAtMs: 1_000,
          deadlineAtMs: 1_000,
        } as never,
      ],
      { groupBy: ["country"] },
    );
    const text = renderHealthTable(withCountryNames(stats));
    expect(text).toContain("1,142.46 USD");
    expect(text).not.toContain("114246");
    expect(text).toContain("Indonesia (6)");
  });
});
