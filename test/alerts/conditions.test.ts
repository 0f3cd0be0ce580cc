import { describe, expect, it } from "vitest";
import {
  coherenceAlertConditions,
  healthAlertConditions,
  stuckPurchaseConditions,
} from "../../src/alerts/conditions.js";
import type { CoherenceReport } from "../../src/health/coherence.js";
import { evaluateHealthPolicies } from "../../src/health/policies.js";
import { createMarket, MINUTE, must, openWallet } from "../integration/market.js";

describe("alert conditions", () => {
  it("turn the policies' decisions into keyed conditions, one per service or pair", async () => {
    const m = createMarket([{ service: "mm", country: "0", price: "0.15", successRate: 0 }]);
    await openWallet(m.fes, "w", 100_000);
    for (let i = 0; i < 30; i++) {
      must(
        await m.fes.buyActivation({ walletId: "w", service: "mm", country: "0", idempotencyKey: `b${i}` }),
      );
    }
    m.clock.advance(30 * MINUTE);
    must(await m.fes.sweep());
    const report = evaluateHealthPolicies(await m.storage.read.listActivations(), { nowMs: m.clock.now() });
    const conditions = healthAlertConditions(report);
    expect(conditions.map((c) => c.key)).toContain("disable:service_country:mm:0");
    expect(conditions.map((c) => c.key)).toContain("disable:service:mm:*");
    expect(new Set(conditions.map((c) => c.key)).size).toBe(conditions.length);
    for (const c of conditions) expect(JSON.parse(JSON.stringify(c.details))).toEqual(c.details);
  });

  it("raise money not coherent only when the report is not ok", () => {
    const base = { ok: true, recommendations: [] } as unknown as CoherenceReport;
    expect(coherenceAlertConditions(base)).toEqual([]);
    const bad = {
      ok: false,
      recommendations: [{ severity: "critical", text: "wallet w1: stored 10, ledger 0" }],
    } as unknown as CoherenceReport;
    expect(coherenceAlertConditions(bad)).toEqual([
      {
        key: "coherence",
        kind: "coherence",
        summary: "money is not coherent: wallet w1: stored 10, ledger 0",
        details: { findings: ["wallet w1: stored 10, ledger 0"] },
      },
    ]);
  });

  it("count stuck purchases as one condition", () => {
    expect(
      stuckPurchaseConditions({
        activationsPastDeadline: [],
        rentalsPastEnd: [],
        pendingActivations: [],
        pendingRentals: [],
      }),
    ).toEqual([]);
    const stuck = stuckPurchaseConditions({
      activationsPastDeadline: [],
      rentalsPastEnd: [],
      pendingActivations: [{ id: "a1" } as never],
      pendingRentals: [{ id: "r1" } as never],
    });
    expect(stuck).toEqual([
      {
        key: "stuck_purchases",
        kind: "stuck_purchases",
        summary: "2 purchase(s) stuck in pending",
        details: { ids: ["a1", "r1"], count: 2 },
      },
    ]);
  });
});
