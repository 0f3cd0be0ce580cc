import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFes, createPricing, defaultPricing } from "../../src/index.js";
import {
  createCatalogCodeResolver,
  createRecordResolver,
  defaultCatalog,
  defaultCatalogTables,
  mergeCatalogTables,
  resolveCountry,
  resolveService,
  toProviderCode,
} from "../../src/mapping/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import {
  classifyErrorToken,
  createSmsActivateProvider,
  createWebhookHandler,
  type FetchLike,
  matchErrorToken,
  parseBody,
  quoteLongIntegers,
} from "../../src/provider/sms-activate/index.js";
import { startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";

/*
 * Hostile input at every public function that looks external input up: names of `Object.prototype` members
 * (`constructor`, `__proto__`, `toString`…) as service, country, provider, currency and token names, and input
 * objects whose getters or Proxy traps throw. Nothing may throw; each answer is a typed value or error.
 */

const PROTO_NAMES = [
  "constructor",
  "__proto__",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__lookupGetter__",
  "prototype",
  "length",
  "name",
] as const;

/** A prototype member's name, or an ordinary-looking code. */
const name = fc.oneof(fc.constantFrom(...PROTO_NAMES), fc.constantFrom("tg", "6", "USD", "sms-activate"));
const runs = { numRuns: 60 };

/** True when `v` is a neverthrow `Result`. */
const isResult = (v: unknown): boolean =>
  v !== null && typeof v === "object" && typeof (v as { isOk?: unknown }).isOk === "function";

describe("prototype-named input", () => {
  it("pricing: createPricing and the default pricing", () => {
    fc.assert(
      fc.property(name, name, name, (service, from, to) => {
        const options = JSON.parse(
          `{"fixedPriceMinor":{"${service}":100},"exchangeRates":{"${from}:${to}":"2"},"minorDigits":{"${to}":2}}`,
        );
        const created = createPricing(options);
        expect(isResult(created)).toBe(true);
        const request = {
          kind: "activation" as const,
          service,
          country: from,
          providerPrice: "1.5",
          providerCurrency: from,
          walletCurrency: to,
        };
        expect(isResult(defaultPricing(request))).toBe(true);
        if (created.isOk()) expect(isResult(created.value(request))).toBe(true);
        const plain = createPricing({})._unsafeUnwrap()(request);
        if (from !== to) expect(plain._unsafeUnwrapErr()).toMatchObject({ type: "no_exchange_rate" });
      }),
      runs,
    );
  });

  it("regression: the default pricing of a service named like a prototype member is the provider's price", () => {
    for (const service of PROTO_NAMES) {
      expect(
        defaultPricing({
          kind: "activation",
          service,
          country: "6",
          providerPrice: "1.5",
          providerCurrency: "USD",
          walletCurrency: "USD",
        }),
      ).toMatchObject({ value: { priceMinor: 150 } });
      const fixed = createPricing({ fixedPriceMinor: { tg: 999 } })._unsafeUnwrap();
      expect(
        fixed({
          kind: "activation",
          service,
          country: "6",
          providerPrice: "1",
          providerCurrency: "USD",
          walletCurrency: "USD",
        }),
      ).toMatchObject({ value: { priceMinor: 100 } });
    }
  });

  it("mapping: catalog lookups, the code resolver, the record resolver and table merges", () => {
    const catalog = defaultCatalog();
    const resolver = createCatalogCodeResolver(catalog, { memoEntries: 8 });
    const records = createRecordResolver(catalog);
    fc.assert(
      fc.property(name, name, name, (provider, service, country) => {
        expect(isResult(catalog.resolveService(service, { provider }))).toBe(true);
        expect(isResult(catalog.resolveCountry(country, { provider }))).toBe(true);
        expect(isResult(catalog.providerName(provider))).toBe(true);
        expect(isResult(catalog.toProviderCode(service, provider))).toBe(true);
        expect(isResult(resolveService(service))).toBe(true);
        expect(isResult(resolveCountry(country))).toBe(true);
        expect(isResult(toProviderCode(country, provider))).toBe(true);
        const r = resolver({ provider, service, country });
        expect(typeof r.service === "string" || r.service === null).toBe(true);
        const record = { provider, serviceCode: service, countryCode: country };
        expect(typeof records.service(record) === "string" || records.service(record) === null).toBe(true);
      }),
      runs,
    );
  });

  it("regression: a catalog patch naming a provider __proto__ adds a provider, never a prototype", () => {
    const patch = JSON.parse('{"providers":{"__proto__":{"services":{},"countries":{}}}}');
    const merged = mergeCatalogTables(defaultCatalogTables, patch);
    expect(Object.hasOwn(merged.providers, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(merged.providers)).toBe(Object.prototype);
  });

  it("the sms-activate parser, token table and adapter", async () => {
    const fetch: FetchLike = async (url) => {
      const action = new URL(url).searchParams.get("action");
      const body =
        action === "getPrices"
          ? '{"6":{"tg":{"cost":0.25,"count":3}}}'
          : action === "getRentServicesAndCountries"
            ? '{"services":{"tg":{"cost":1,"quant":2}}}'
            : "NO_NUMBERS";
      return { status: 200, headers: new Headers(), text: async () => body };
    };
    const p = createSmsActivateProvider({
      baseUrl: "http://x.test/h",
      apiKey: "k",
      fetch,
      retry: { attempts: 1 },
    });
    await fc.assert(
      fc.asyncProperty(name, name, async (service, country) => {
        expect(matchErrorToken(service)).toBeNull();
        const ctx = { nowMs: 0, dateZoneOffsetMinutes: 0, earlyCancelWindowMs: 120_000 };
        expect(classifyErrorToken(service, country, { [service]: 1 }, null, ctx)).toBeNull();
        expect(parseBody(`{"${service}":{"${country}":1}}`).kind).toBe("json");
        for (const r of [
          await p.quote({ service, country }),
          await p.quoteRental({ service, country, hours: 4 }),
          await p.buyActivation({ service, country, orderId: service }),
          await p.getActivationStatus(service),
        ]) {
          expect(isResult(r)).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("regression: the fake server lists a stock named __proto__ as an own key and pollutes nothing", async () => {
    const server = await startFakeSmsActivateServer({ dialect: "hero-sms" });
    try {
      server.setStock("__proto__", "constructor", { price: "0.5", count: 1 });
      server.setRentStock("__proto__", "0", { pricePerHour: "0.1", count: 1 });
      const get = async (q: string) =>
        quoteLongIntegers(await (await fetch(`${server.url}?${q}&api_key=${server.apiKey}`)).text());
      const prices = JSON.parse(await get("action=getPrices"));
      expect(Object.hasOwn(prices.constructor, "__proto__")).toBe(true);
      const rent = JSON.parse(await get("action=getRentServicesAndCountries&country=0"));
      expect(Object.hasOwn(rent.services, "__proto__")).toBe(true);
      expect(({} as Record<string, unknown>).cost).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it("the in-process fake provider and the webhook helper", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock });
    const handler = createWebhookHandler({
      provider: fake.provider,
      onCode: () => undefined,
      secret: null,
      clock,
    });
    await fc.assert(
      fc.asyncProperty(name, name, async (service, country) => {
        for (const r of [
          await fake.provider.quote({ service, country }),
          await fake.provider.quoteRental({ service, country, hours: 4 }),
          await fake.provider.buyActivation({ service, country, orderId: service }),
          await fake.provider.rent({ service, country, hours: 4, orderId: service }),
          await fake.provider.getActivationStatus(service),
          await fake.provider.cancelActivation(service),
          await fake.provider.getRentalStatus(country),
        ]) {
          expect(isResult(r)).toBe(true);
        }
        const o = await handler.handle({
          body: `{"activationId":"1","code":"${service}","__proto__":{"x":1}}`,
        });
        expect([200, 400, 503]).toContain(o.status);
      }),
      { numRuns: 30 },
    );
  });

  it("the orchestration: purchases of prototype-named services and countries", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock, balance: "1000" });
    await fake.control.setStock("tg", "6", { price: "0.5", count: 100 });
    const fes = createFes({ storage: createMemoryStorage(), provider: fake.provider, clock });
    await fes.createWallet({ walletId: "w", currency: "USD" });
    await fes.deposit({ walletId: "w", amountMinor: 10_000, currency: "USD", idempotencyKey: "d" });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(name, name, async (service, country) => {
        n += 1;
        const a = await fes.buyActivation({ walletId: "w", service, country, idempotencyKey: `a${n}` });
        const r = await fes.buyRental({ walletId: "w", service, country, hours: 4, idempotencyKey: `r${n}` });
        expect(isResult(a) && isResult(r)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe("input objects that throw when read", () => {
  const validated = [
    "createWallet",
    "statement",
    "deposit",
    "withdraw",
    "adjust",
    "cashback",
    "reverse",
    "freeze",
    "settle",
    "release",
    "buyActivation",
    "onCode",
    "requestAnotherCode",
    "cancelActivation",
    "finishActivation",
    "buyRental",
    "extendRental",
    "cancelRental",
    "finishRental",
  ] as const;

  const throwingGetter = () => {
    const o: Record<string, unknown> = {};
    for (const k of [
      "walletId",
      "idempotencyKey",
      "service",
      "country",
      "amountMinor",
      "currency",
      "activationId",
    ]) {
      Object.defineProperty(o, k, {
        enumerable: true,
        get() {
          throw new Error(`getter ${k}`);
        },
      });
    }
    return o;
  };
  const throwingProxy = () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error("get trap");
        },
        has() {
          throw new Error("has trap");
        },
        ownKeys() {
          throw new Error("ownKeys trap");
        },
        getOwnPropertyDescriptor() {
          throw new Error("descriptor trap");
        },
        getPrototypeOf() {
          throw new Error("prototype trap");
        },
      },
    );

  it("regression: each of the 19 validated functions answers invalid_input instead of throwing", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock });
    const fes = createFes({ storage: createMemoryStorage(), provider: fake.provider, clock });
    for (const method of validated) {
      for (const input of [throwingGetter(), throwingProxy()]) {
        const call = (fes[method] as (i: unknown) => PromiseLike<unknown>).bind(fes);
        let result: unknown;
        expect(() => {
          result = call(input);
        }, method).not.toThrow();
        const settled = (await result) as { isErr(): boolean; error: { type: string } };
        expect(settled.isErr(), method).toBe(true);
        expect(settled.error.type, method).toBe("invalid_input");
      }
    }
  });
});
