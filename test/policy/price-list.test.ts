import { err, ok } from "neverthrow";
import { describe, expect, it } from "vitest";
import { createPriceList } from "../../src/policy/price-list.js";
import { createPricing, defaultPricing } from "../../src/policy/pricing.js";
import type { Provider, ProviderResult, Quote } from "../../src/provider/port.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";

/** A provider whose quotes the test sets, counting the calls. */
function stubProvider(answer: (service: string, country: string) => ProviderResult<Quote>) {
  const calls: string[] = [];
  const provider: Pick<Provider, "quote"> = {
    async quote({ service, country }) {
      calls.push(`${service}/${country}`);
      return answer(service, country);
    },
  };
  return { provider, calls };
}

describe("createPriceList", () => {
  it("applies the platform's pricing to the provider's quote", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock });
    await fake.control.setStock("tg", "6", { price: "0.35", count: 12 });
    const pricing = createPricing({ markupPercent: "50" })._unsafeUnwrap();
    const list = createPriceList({ provider: fake.provider, pricing, clock, currency: "USD" });
    const quote = await list.quote({ service: "tg", country: "6" });
    expect(quote._unsafeUnwrap()).toEqual({
      service: "tg",
      country: "6",
      priceMinor: 53,
      costMinor: 35,
      currency: "USD",
      stock: 12,
      quotedAtMs: clock.now(),
    });
  });

  it("reuses a quote for ttlMs, then asks the provider again", async () => {
    const clock = new ManualClock();
    let price = "1.00";
    const { provider, calls } = stubProvider(() => ok({ price, currency: "USD", stock: 3 }));
    const list = createPriceList({
      provider,
      pricing: defaultPricing,
      clock,
      currency: "USD",
      ttlMs: 10_000,
    });
    expect((await list.quote({ service: "tg", country: "6" }))._unsafeUnwrap().priceMinor).toBe(100);
    price = "2.00";
    clock.advance(9_999);
    expect((await list.quote({ service: "tg", country: "6" }))._unsafeUnwrap().priceMinor).toBe(100);
    expect(calls).toHaveLength(1);
    clock.advance(1);
    expect((await list.quote({ service: "tg", country: "6" }))._unsafeUnwrap().priceMinor).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it("shares one provider call between concurrent quotes of one pair", async () => {
    const clock = new ManualClock();
    const { provider, calls } = stubProvider(() => ok({ price: "0.50", currency: "USD", stock: 1 }));
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "USD" });
    const [a, b] = await Promise.all([
      list.quote({ service: "wa", country: "6" }),
      list.quote({ service: "wa", country: "6" }),
    ]);
    expect(a._unsafeUnwrap()).toEqual(b._unsafeUnwrap());
    expect(calls).toEqual(["wa/6"]);
  });

  it("does not cache a failure, and returns it typed", async () => {
    const clock = new ManualClock();
    let fail = true;
    const { provider, calls } = stubProvider(() =>
      fail
        ? err({ class: "declined", reason: "no_numbers" })
        : ok({ price: "0.10", currency: "USD", stock: 5 }),
    );
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "USD" });
    expect((await list.quote({ service: "go", country: "0" }))._unsafeUnwrapErr()).toMatchObject({
      type: "provider_unavailable",
      reason: "no_numbers",
    });
    fail = false;
    expect((await list.quote({ service: "go", country: "0" })).isOk()).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it("turns a provider that throws into provider_unavailable, never a throw", async () => {
    const clock = new ManualClock();
    const provider: Pick<Provider, "quote"> = {
      quote: () => Promise.reject(new TypeError("boom")),
    };
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "USD" });
    expect((await list.quote({ service: "go", country: "0" }))._unsafeUnwrapErr()).toMatchObject({
      type: "provider_unavailable",
      reason: "unknown:exception",
    });
  });

  it("reports a missing exchange rate as the pricing's typed error", async () => {
    const clock = new ManualClock();
    const { provider } = stubProvider(() => ok({ price: "0.10", currency: "USD", stock: 5 }));
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "RUB" });
    expect((await list.quote({ service: "go", country: "0" }))._unsafeUnwrapErr()).toEqual({
      type: "no_exchange_rate",
      from: "USD",
      to: "RUB",
    });
  });

  it("rejects bad input with invalid_input and asks the provider nothing", async () => {
    const clock = new ManualClock();
    const { provider, calls } = stubProvider(() => ok({ price: "0.10", currency: "USD", stock: 5 }));
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "USD" });
    for (const bad of [
      { service: "", country: "6" },
      { service: "tg" },
      null,
      "tg",
      { service: 1, country: 2 },
    ]) {
      expect((await list.quote(bad as never))._unsafeUnwrapErr().type).toBe("invalid_input");
    }
    expect((await list.priceList([{ service: "tg" }] as never))._unsafeUnwrapErr().type).toBe(
      "invalid_input",
    );
    expect(calls).toEqual([]);
  });

  it("regression: a pair named like an Object.prototype member is quoted, not read off the prototype", async () => {
    const clock = new ManualClock();
    const { provider, calls } = stubProvider(() => ok({ price: "0.10", currency: "USD", stock: 5 }));
    const list = createPriceList({ provider, pricing: defaultPricing, clock, currency: "USD" });
    const quote = await list.quote({ service: "__proto__", country: "constructor" });
    expect(quote._unsafeUnwrap().priceMinor).toBe(10);
    expect(calls).toEqual(["__proto__/constructor"]);
  });

  it("lists every configured pair, with the failing ones marked unavailable", async () => {
    const clock = new ManualClock();
    const { provider } = stubProvider((service) =>
      service === "mm"
        ? err({ class: "declined", reason: "no_numbers" })
        : ok({ price: "0.25", currency: "USD", stock: 2 }),
    );
    const list = createPriceList({
      provider,
      pricing: defaultPricing,
      clock,
      currency: "USD",
      pairs: [
        { service: "tg", country: "6" },
        { service: "mm", country: "0" },
      ],
    });
    const entries = (await list.priceList())._unsafeUnwrap();
    expect(entries.map((e) => [e.service, e.available, e.available ? e.priceMinor : e.error.type])).toEqual([
      ["tg", true, 25],
      ["mm", false, "provider_unavailable"],
    ]);
  });
});

describe("pricing", () => {
  it("regression: a service code named like an Object.prototype member does not make the pricing throw", () => {
    const pricing = createPricing({ fixedPriceMinor: { tg: 99 } })._unsafeUnwrap();
    for (const service of ["__proto__", "toString", "constructor", "hasOwnProperty"]) {
      const price = pricing({
        kind: "activation",
        service,
        country: "6",
        providerPrice: "0.10",
        providerCurrency: "constructor",
        walletCurrency: "constructor",
      });
      expect(price._unsafeUnwrap()).toEqual({ priceMinor: 10, costMinor: 10 });
    }
  });
});
