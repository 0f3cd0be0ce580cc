import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ActivationRecord, ActivationState } from "../../src/core/records.js";
import { experimentReport, msprtPValue, neededSamplePerArm } from "../../src/health/experiment-report.js";
import { inverseNormal } from "../../src/health/wilson.js";
import { seededRandom } from "../../src/testing/index.js";
import { activation } from "./fixtures.js";

/** Runs `runs` A/A or A/B experiments, looking every `every` activations per arm up to `n`: share ever rejected. */
function everRejected(
  pa: number,
  pb: number,
  test: (a: { successes: number; n: number }, b: { successes: number; n: number }) => boolean,
  seed: number,
  { runs = 400, n = 1000, every = 20 } = {},
): number {
  const random = seededRandom(seed);
  let rejected = 0;
  for (let r = 0; r < runs; r++) {
    const a = { successes: 0, n: 0 };
    const b = { successes: 0, n: 0 };
    for (let i = 1; i <= n; i++) {
      a.n++;
      b.n++;
      if (random() < pa) a.successes++;
      if (random() < pb) b.successes++;
      if (i % every === 0 && i >= 30 && test(a, b)) {
        rejected++;
        break;
      }
    }
  }
  return rejected / runs;
}

const naiveZ = (a: { successes: number; n: number }, b: { successes: number; n: number }) => {
  const p = (a.successes + b.successes) / (a.n + b.n);
  const se = Math.sqrt(p * (1 - p) * (1 / a.n + 1 / b.n));
  return se > 0 && Math.abs(b.successes / b.n - a.successes / a.n) / se > inverseNormal(0.975);
};

describe("the experiment verdict (mSPRT)", () => {
  it("keeps false positives under 5 % when checked after every 20 activations, where a repeated z-test does not", () => {
    fc.assert(
      fc.property(fc.constantFrom(0.1, 0.25, 0.5), fc.integer({ min: 1, max: 1_000_000 }), (p, seed) => {
        const sequential = everRejected(p, p, (a, b) => msprtPValue(a, b) <= 0.05, seed);
        // 400 runs: a true rate of 5 % shows above 7.5 % with probability under 1 %.
        expect(sequential).toBeLessThan(0.075);
        expect(everRejected(p, p, naiveZ, seed)).toBeGreaterThan(0.12);
      }),
      { numRuns: 4 },
    );
  });

  it("finds a real difference of 15 points in most runs within 1000 per arm", () => {
    expect(everRejected(0.3, 0.45, (a, b) => msprtPValue(a, b) <= 0.05, 9, { runs: 200 })).toBeGreaterThan(
      0.9,
    );
  });

  it("needs the textbook fixed-horizon sample for 30 % vs 40 %", () => {
    expect(neededSamplePerArm(0.3, 0.4)).toBe(354);
    expect(neededSamplePerArm(0.3, 0.3)).toBeNull();
  });
});

describe("experimentReport", () => {
  const rec = (arm: string, state: ActivationState, over: Partial<ActivationRecord> = {}) =>
    activation({
      state,
      experimentId: "wait",
      experimentArm: arm,
      costMinor: state === "received" ? 40 : null,
      ...over,
    });

  it("reports each arm's outcomes, time to code and cost per success, and no verdict on too few", () => {
    const records = [
      rec("full", "received"),
      rec("full", "timeout", { cashbackMinor: 50 }),
      rec("full", "cancelled"),
      rec("short", "received"),
      rec("short", "received"),
      rec("short", "cancelled", { failureReason: "wait_time_policy" }),
      activation({ state: "received" }),
      rec("short", "waiting"),
    ];
    const r = experimentReport(records, "wait", { control: "full" });
    expect(r.arms.map((a) => [a.arm, a.ended, a.received])).toEqual([
      ["full", 3, 1],
      ["short", 3, 2],
    ]);
    const full = r.arms[0]!;
    expect(full.success.point).toBeCloseTo(1 / 3, 12);
    expect(full.timeout.point).toBeCloseTo(1 / 3, 12);
    // One code at 40 upstream plus 50 of cashback, for one success.
    expect(full.costPerSuccessMinor?.point).toBe(90);
    expect(full.medianTimeToCodeMs).toBeNull();
    expect(r.arms[1]!.medianTimeToCodeMs).toBe(30_000);
    expect(r.arms[1]!.waitEnded.point).toBeCloseTo(1 / 3, 12);
    expect(r.arms[1]!.cancelled.point).toBeCloseTo(1 / 3, 12);
    expect(r.comparisons).toEqual([
      expect.objectContaining({ arm: "short", verdict: "too_few", difference: 1 / 3 }),
    ]);
  });

  it("cost-per-success intervals cover the truth at their nominal rate", () => {
    const random = seededRandom(3);
    // Success 40 %, a code costs 30–70 (mean 50); a third of the failures time out with 25 of cashback.
    const truth = (0.4 * 50 + 0.6 * (1 / 3) * 25) / 0.4;
    let covered = 0;
    const reps = 300;
    for (let r = 0; r < reps; r++) {
      const records: ActivationRecord[] = [];
      for (let i = 0; i < 200; i++) {
        if (random() < 0.4) records.push(rec("a", "received", { costMinor: 30 + random() * 40 }));
        else if (random() < 1 / 3) records.push(rec("a", "timeout", { cashbackMinor: 25 }));
        else records.push(rec("a", "cancelled"));
      }
      const c = experimentReport(records, "wait").arms[0]!.costPerSuccessMinor!;
      if (c.lower <= truth && truth <= c.upper) covered++;
    }
    expect(covered / reps).toBeGreaterThan(0.91);
    expect(covered / reps).toBeLessThan(0.985);
  });
});
