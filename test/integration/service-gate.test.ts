import { describe, expect, it } from "vitest";
import { createServiceGate, evaluateHealthPolicies } from "../../src/health/index.js";
import { createCatalogCodeResolver } from "../../src/mapping/index.js";
import { createMarket, expectCoherentLedger, openWallet, runUntilSettled, snapshot } from "./market.js";

// WhatsApp never works in Russia (`0`) and mostly works in Indonesia (`6`); Telegram mostly works in Indonesia.
const offerings = [
  { service: "wa", country: "0", price: "0.40", successRate: 0 },
  { service: "wa", country: "6", price: "0.60", successRate: 0.9 },
  { service: "tg", country: "6", price: "0.50", successRate: 0.9 },
];

describe("health policies gate the orchestration", () => {
  it("a pair that never succeeds is disabled: buyActivation is service_disabled and writes nothing", async () => {
    const resolveCodes = createCatalogCodeResolver(undefined, { aliases: { fake: "sms-activate" } });
    const m = createMarket(offerings, { resolveCodes });
    await openWallet(m.fes, "history", 1_000_000);
    for (let i = 0; i < 30; i++) {
      for (const o of offerings) {
        const bought = await m.fes.buyActivation({
          walletId: "history",
          service: o.service,
          country: o.country,
          idempotencyKey: `h-${o.service}-${o.country}-${i}`,
        });
        expect(bought.isOk()).toBe(true);
      }
    }
    await runUntilSettled(m);
    const records = await m.storage.read.listActivations();
    const dead = records.filter((r) => r.serviceCode === "wa" && r.countryCode === "0");
    expect(dead.map((r) => r.state)).toEqual(Array(30).fill("timeout"));

    const policies = evaluateHealthPolicies(records, { nowMs: m.clock.now() });
    const disables = policies.decisions.filter((d) => d.type === "disable");
    // Only the pair: WhatsApp as a whole still sells half the time in the history.
    expect(disables.map((d) => [d.service, d.country])).toEqual([["whatsapp", "ru"]]);

    const fes = m.with({ gate: createServiceGate(policies.decisions) });
    await openWallet(fes, "alice", 10_000);
    const before = await snapshot(m.storage);
    const refused = await fes.buyActivation({
      walletId: "alice",
      service: "wa",
      country: "0",
      idempotencyKey: "alice-1",
    });
    expect(refused._unsafeUnwrapErr()).toMatchObject({
      type: "service_disabled",
      service: "wa",
      country: "0",
      reason: expect.stringContaining("whatsapp in ru"),
    });
    expect(await snapshot(m.storage)).toEqual(before);
    expect(await m.storage.read.getIdempotency("alice-1")).toBeUndefined();

    // The same service in a healthy country, and another service in the same gate, still sell.
    for (const [service, country] of [
      ["wa", "6"],
      ["tg", "6"],
    ] as const) {
      const sold = await fes.buyActivation({
        walletId: "alice",
        service,
        country,
        idempotencyKey: `alice-${service}`,
      });
      expect(sold._unsafeUnwrap()).toMatchObject({ state: "waiting", service: expect.any(String) });
    }
    await expectCoherentLedger(m.storage);
  });
});
