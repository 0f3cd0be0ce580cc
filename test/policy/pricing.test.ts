import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createPricing, createRefundPolicy, type RentalRecord } from "../../src/index.js";

const req = {
  kind: "activation" as const,
  service: "tg",
  country: "6",
  providerCurrency: "USD",
  walletCurrency: "RUB",
};

describe("pricing", () => {
  it("converts exactly (no floats): cost to nearest, customer price rounded up", () => {
    const price = createPricing({
      exchangeRates: { "USD:RUB": "92.35" },
      markupPercent: "20",
    })._unsafeUnwrap();
    // 0.025 USD × 92.35 = 2.30875 RUB = 230.875 kopecks → cost 231; × 1.2 = 277.05 → price 278.
    expect(price({ ...req, providerPrice: "0.025" })._unsafeUnwrap()).toEqual({
      priceMinor: 278,
      costMinor: 231,
    });
  });

  it("rounds up to a step, honours a minimum and fixed prices", () => {
    const price = createPricing({
      exchangeRates: { "USD:RUB": "100" },
      roundToMinor: 100,
      minimumPriceMinor: 500,
      fixedPriceMinor: { wa: 1999 },
    })._unsafeUnwrap();
    expect(price({ ...req, providerPrice: "0.011" })._unsafeUnwrap()).toEqual({
      priceMinor: 500,
      costMinor: 110,
    });
    expect(price({ ...req, providerPrice: "0.0601" })._unsafeUnwrap()).toEqual({
      priceMinor: 700,
      costMinor: 601,
    });
    expect(price({ ...req, service: "wa", providerPrice: "0.5" })._unsafeUnwrap()).toEqual({
      priceMinor: 2000,
      costMinor: 5000,
    });
  });

  it("invalid options are an invalid_input error, not a throw", () => {
    expect(createPricing({ markupPercent: "ten" })._unsafeUnwrapErr()).toMatchObject({
      type: "invalid_input",
      issues: [{ path: "markupPercent", message: "markupPercent must be a decimal string" }],
    });
    expect(createPricing({ roundToMinor: 0 })._unsafeUnwrapErr().type).toBe("invalid_input");
    expect(createPricing({ exchangeRates: { "USD:RUB": "1,5" } })._unsafeUnwrapErr().issues[0]?.path).toBe(
      "exchangeRates.USD:RUB",
    );
    expect(createRefundPolicy({ timeoutCashbackPercent: 150 })._unsafeUnwrapErr().type).toBe("invalid_input");
  });

  it("a missing rate or a malformed price is a typed error", () => {
    const price = createPricing()._unsafeUnwrap();
    expect(price({ ...req, providerPrice: "1" })._unsafeUnwrapErr()).toEqual({
      type: "no_exchange_rate",
      from: "USD",
      to: "RUB",
    });
    expect(price({ ...req, walletCurrency: "USD", providerPrice: "-1" })._unsafeUnwrapErr().type).toBe(
      "unpriceable_quote",
    );
    expect(price({ ...req, walletCurrency: "USD", providerPrice: "1e3" })._unsafeUnwrapErr().type).toBe(
      "unpriceable_quote",
    );
  });

  it("the customer price never falls below the cost with a non-negative markup", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 300 }),
        (units, markup) => {
          const price = createPricing({ markupPercent: String(markup) })._unsafeUnwrap();
          const p = price({ ...req, walletCurrency: "USD", providerPrice: (units / 10_000).toFixed(4) });
          if (p.isErr()) return p.error.type === "unpriceable_quote";
          return p.value.priceMinor >= p.value.costMinor;
        },
      ),
    );
  });
});

describe("refund policy", () => {
  const rental = { startedAtMs: 0, endsAtMs: 3_000 } as RentalRecord;

  it("pro rata refunds round down: the customer is never refunded a fraction the platform does not have", () => {
    const policy = createRefundPolicy({ rentalEarlyEnd: "pro_rata" })._unsafeUnwrap();
    expect(policy.rental(rental, "finished", 1_000, 100)).toEqual({
      settleMinor: 34,
      releaseMinor: 66,
      cashbackMinor: 0,
    });
  });

  it("settle + release always equals what is held", () => {
    const policy = createRefundPolicy({ rentalEarlyEnd: "pro_rata" })._unsafeUnwrap();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom("finished", "revoked", "expired", "cancelled"),
        (now, held, outcome) => {
          const d = policy.rental(rental, outcome as never, now, held);
          return d.settleMinor + d.releaseMinor === held && d.settleMinor >= 0 && d.releaseMinor >= 0;
        },
      ),
    );
  });
});
