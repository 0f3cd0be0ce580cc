// Failing regression tests for two mismatches between the orchestration and health/mapping. Not committed: the
// fixes belong in src/fes, which is being changed by the lead.
import { describe, expect, it } from "vitest";
import { activationIdFor, derivedKey } from "../../src/fes/keys.js";
import { createRouter } from "../../src/health/index.js";
import { createCatalogCodeResolver } from "../../src/mapping/index.js";
import { createMarket, MINUTE, must, openWallet } from "./market.js";

const offerings = [
  { service: "tg", country: "0", price: "0.30", successRate: 0 },
  { service: "tg", country: "6", price: "0.50", successRate: 0.9 },
];
const resolveCodes = createCatalogCodeResolver(undefined, { aliases: { fake: "sms-activate" } });

describe("bug: a timeout recorded by a poll is never retried", () => {
  it("retries after a timeout whichever path recorded it (poll or sweep)", async () => {
    const route = createRouter([], {
      candidates: [
        { country: "0", priceMinor: 30 },
        { country: "6", priceMinor: 50 },
      ],
    });
    const m = createMarket(offerings, { resolveCodes, route, retryOnTimeout: true });
    await openWallet(m.fes, "alice", 1_000);
    const a = must(
      await m.fes.buyActivation({ walletId: "alice", service: "tg", country: "0", idempotencyKey: "k1" }),
    );
    m.clock.advance(21 * MINUTE);
    // The platform polls before the sweeper runs: the provider ended the number at our deadline, so it is a timeout.
    expect(must(await m.fes.pollActivation(a.id)).state).toBe("timeout");
    must(await m.fes.sweep());
    const retry = await m.storage.read.getActivation(activationIdFor("alice", derivedKey(a.id, "retry"), 0));
    expect(retry).toMatchObject({ retryOf: a.id, countryCode: "6" });
  });
});

describe("bug: an activation's unresolved code is recorded as a canonical id", () => {
  it("records null when the resolver does not know the code, as rentals do", async () => {
    const m = createMarket([{ service: "zz-unknown", country: "6", price: "0.50", successRate: 0 }], {
      resolveCodes,
    });
    await openWallet(m.fes, "alice", 1_000);
    const a = must(
      await m.fes.buyActivation({
        walletId: "alice",
        service: "zz-unknown",
        country: "6",
        idempotencyKey: "k1",
      }),
    );
    expect(resolveCodes({ provider: "fake", service: "zz-unknown", country: "6" })).toEqual({
      service: null,
      country: "id",
    });
    expect(a).toMatchObject({ serviceCode: "zz-unknown", service: null, country: "id" });
  });
});
