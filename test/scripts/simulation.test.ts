import { describe, expect, it } from "vitest";
import { simulate, summarize } from "../../scripts/simulation.js";

describe("the npm start simulation", () => {
  const options = { seed: 3, customers: 25, activations: 400, rentals: 20, days: 3 };

  it("keeps every invariant and leaves nothing frozen once everything has ended", async () => {
    const summary = await summarize(await simulate(options));
    expect(summary.invariants).toEqual({ ok: true, violations: [] });
    expect(summary.activations).toBeGreaterThan(350);
    expect(summary.outcomes.received).toBeGreaterThan(0);
    expect(summary.outcomes.timeout).toBeGreaterThan(0);
    expect(summary.outcomes.cancelled).toBeGreaterThan(0);
    expect(summary.wallets.frozenMinor).toBe(0);
    // Money is conserved: platform accounts and wallets sum to zero.
    const platform = Object.values(summary.platformAccounts).reduce((s, v) => s + v, 0);
    expect(platform + summary.wallets.balanceMinor).toBe(0);
  });

  it("is deterministic for a seed", async () => {
    const a = await summarize(await simulate(options));
    const b = await summarize(await simulate(options));
    expect(b).toEqual(a);
  });
});
