import { describe, expect, it } from "vitest";
import { computeHealthStats } from "../../src/health/index.js";
import type { FesConfig } from "../../src/index.js";
import { createCatalogCodeResolver, detectSplitStatistics } from "../../src/mapping/index.js";
import { createMarket, MINUTE, must, openWallet } from "./market.js";

// The provider takes Telegram as `tg` and, after a rename, as `telegram`; Indonesia as `6` and as `ID`.
const offerings = [
  { service: "tg", country: "6", price: "0.50", successRate: 1 },
  { service: "telegram", country: "ID", price: "0.50", successRate: 1 },
];

/** Buys once under each spelling and lets both codes arrive. */
async function buyUnderBothSpellings(config: Partial<FesConfig>) {
  const m = createMarket(offerings, config);
  await openWallet(m.fes, "alice", 1_000);
  for (const o of offerings) {
    must(
      await m.fes.buyActivation({
        walletId: "alice",
        service: o.service,
        country: o.country,
        idempotencyKey: `k-${o.service}`,
      }),
    );
  }
  m.clock.advance(3 * MINUTE);
  for (const a of await m.storage.read.listActivations()) must(await m.fes.pollActivation(a.id));
  return m.storage.read.listActivations();
}

describe("the catalog as the orchestration's code resolver", () => {
  it("records two spellings of one service under one canonical id, so statistics do not split", async () => {
    const resolveCodes = createCatalogCodeResolver(undefined, { aliases: { fake: "sms-activate" } });
    const records = await buyUnderBothSpellings({ resolveCodes });
    expect(records.map((r) => [r.serviceCode, r.countryCode, r.service, r.country, r.state])).toEqual([
      ["telegram", "ID", "telegram", "id", "received"],
      ["tg", "6", "telegram", "id", "received"],
    ]);

    const stats = computeHealthStats(records, { groupBy: ["service", "country"] });
    expect(stats.groups.map((g) => [g.key, g.received, g.decided])).toEqual([
      [{ service: "telegram", country: "id" }, 2, 2],
    ]);
    // The raw codes still differ (the detector sees them) but their figures agree: nothing is lost.
    const split = detectSplitStatistics(records.map((r) => ({ ...r, provider: "sms-activate" })));
    expect(split.services.map((s) => [s.id, s.codes.map((c) => c.code), s.sharesDiffer])).toEqual([
      ["telegram", ["telegram", "tg"], false],
    ]);
  });

  it("without the resolver the same purchases split into two groups (the failure it prevents)", async () => {
    const records = await buyUnderBothSpellings({});
    expect(records.map((r) => [r.service, r.country])).toEqual([
      [null, null],
      [null, null],
    ]);
    const stats = computeHealthStats(records, { groupBy: ["service"] });
    expect(stats.groups.map((g) => g.key.service)).toEqual(["telegram", "tg"]);
  });
});
