import { describe, expect, it } from "vitest";
import { findReconcileDifferences } from "../../src/cli/commands/reconcile.js";
import { createMarket, MINUTE, must, openWallet } from "../integration/market.js";

describe("findReconcileDifferences", () => {
  it("lists numbers no record knows, records the provider no longer lists, and pending purchases with their money", async () => {
    const m = createMarket([{ service: "tg", country: "6", price: "0.50", successRate: 0 }]);
    await openWallet(m.fes, "w", 10_000);
    const kept = must(
      await m.fes.buyActivation({ walletId: "w", service: "tg", country: "6", idempotencyKey: "b1" }),
    );
    const dropped = must(
      await m.fes.buyActivation({ walletId: "w", service: "tg", country: "6", idempotencyKey: "b2" }),
    );
    // Bought upstream without a record, and a purchase whose answer was lost after it happened.
    must(await m.fake.provider.buyActivation({ service: "tg", country: "6", orderId: "elsewhere" }));
    await m.fake.control.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
    await m.fes.buyActivation({
      walletId: "w",
      service: "tg",
      country: "6",
      idempotencyKey: "b3",
    });
    expect((await m.storage.read.listActivations({ states: ["pending"] })).length).toBe(1);
    // The provider ends one of ours on its own.
    m.clock.advance(3 * MINUTE);
    must(await m.fake.provider.cancelActivation(dropped.providerActivationId!));

    const found = await findReconcileDifferences(m.fake.provider, m.storage.read, {
      nowMs: m.clock.now(),
      graceMs: 2 * MINUTE,
    });
    expect(found.unknownUpstream.map((u) => [u.kind, u.service, u.country])).toEqual([
      ["activation", "tg", "6"],
    ]);
    expect(found.missingUpstream.map((x) => x.id)).toEqual([dropped.id]);
    expect(found.pendingPastGrace).toEqual([
      expect.objectContaining({
        kind: "activation",
        walletId: "w",
        amountMinor: 50,
        currency: "USD",
        outcome: "adopt",
      }),
    ]);
    expect(found.missingUpstream.map((x) => x.id)).not.toContain(kept.id);

    // Reading changed nothing: the money is where it was.
    expect((await m.storage.read.getWallet("w"))?.frozenMinor).toBe(150);
  });
});
