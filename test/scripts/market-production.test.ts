import { describe, expect, it } from "vitest";
import { PRODUCTION_MARKET, runVariant } from "../../scripts/market-production.js";
import { decisionSpeed } from "../../scripts/wait-decision-speed.js";

describe("the production market", () => {
  it("has the profile it was calibrated from: 8 services that never deliver, weak ones under 30 %", () => {
    const best = new Map<string, number>();
    for (const p of PRODUCTION_MARKET) best.set(p.service, Math.max(best.get(p.service) ?? 0, p.success));
    expect([...best.values()].filter((s) => s === 0)).toHaveLength(8);
    expect([...best.values()].filter((s) => s > 0 && s < 0.3).length).toBeGreaterThanOrEqual(6);
  });

  it("runs the same traffic every way with the ledger coherent; as is, only customers, the provider and the deadline end a wait", async () => {
    const options = { seed: 5, purchases: 400, days: 4 };
    const asIs = await runVariant("as is", options);
    const learned = await runVariant("all + learned wait", options);
    for (const r of [asIs, learned]) {
      expect(r.invariantsOk).toBe(true);
      expect(r.bought + r.refused).toBe(r.asked);
      expect(r.succeeded).toBeLessThanOrEqual(r.bought);
    }
    // As is, nobody ends a wait but the customer, the provider and the deadline.
    expect(asIs.outcomes.waitEnded).toBe(0);
    expect(asIs.retries).toBe(0);
    expect(asIs.outcomes.cancelled).toBeGreaterThan(0);
    expect(learned.waits?.length).toBeGreaterThan(0);
  }, 120_000);
});

describe("opaque retry ids in the production market", () => {
  it("counts a retry's code as its purchase's success: the retry is found by retryOf, not by its id", async () => {
    const r = await runVariant("gate + routing + retry", { seed: 5, purchases: 400, days: 4 });
    expect(r.retries).toBeGreaterThan(0);
    // A purchase succeeds at most once (on its first number or its retry), so every code is one purchase's success.
    expect(r.succeeded).toBe(r.outcomes.received);
  }, 120_000);
});

describe("nested waits against a plain split", () => {
  it("decide every candidate's loss sooner, also when only a tenth waits the whole window", () => {
    const delayMs = (u: number) => 10_000 + u * 300_000;
    const all = decisionSpeed({ seed: 1, success: 0.3, delayMs, runs: 5 });
    const tenth = decisionSpeed({ seed: 1, success: 0.3, delayMs, runs: 5, fullShare: 0.1 });
    expect(all.nested * 5).toBeLessThan(all.plainSplit);
    expect(tenth.nested).toBeLessThan(tenth.plainSplit);
  });
});
