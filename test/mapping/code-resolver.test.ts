import { describe, expect, it } from "vitest";
import {
  type Catalog,
  createCatalog,
  createCatalogCodeResolver,
  defaultCatalog,
  defaultCatalogTables,
  mergeCatalogTables,
} from "../../src/mapping/index.js";

describe("createCatalogCodeResolver", () => {
  it("resolves a provider's codes to canonical ids, the catalog's own spellings too", () => {
    const resolve = createCatalogCodeResolver();
    expect(resolve({ provider: "sms-activate", service: "tg", country: "6" })).toEqual({
      service: "telegram",
      country: "id",
    });
    expect(resolve({ provider: "hero-sms", service: "go", country: "187" })).toEqual({
      service: "google",
      country: "us",
    });
    expect(resolve({ provider: "5sim", service: "telegram", country: "england" })).toEqual({
      service: "telegram",
      country: "gb",
    });
    expect(resolve({ provider: "sms-activate", service: "Telegram", country: "Indonesia" })).toEqual({
      service: "telegram",
      country: "id",
    });
  });

  it("maps a provider name through an alias, else falls back to SMS-Activate codes", () => {
    const aliased = createCatalogCodeResolver(undefined, { aliases: { fake: "sms-activate" } });
    const fallback = createCatalogCodeResolver();
    for (const resolve of [aliased, fallback]) {
      expect(resolve({ provider: "fake", service: "wa", country: "0" })).toEqual({
        service: "whatsapp",
        country: "ru",
      });
    }
    // An alias wins over the fallback: here the white label speaks 5sim's codes.
    const fiveSim = createCatalogCodeResolver(undefined, { aliases: { mine: "5sim" } });
    expect(fiveSim({ provider: "mine", service: "telegram", country: "england" })).toEqual({
      service: "telegram",
      country: "gb",
    });
  });

  it("without a fallback, resolves an unknown provider's input by the catalog's own spellings", () => {
    const resolve = createCatalogCodeResolver(undefined, { fallbackProvider: null });
    expect(resolve({ provider: "elsewhere", service: "telegram", country: "Indonesia" })).toEqual({
      service: "telegram",
      country: "id",
    });
  });

  it("answers null for an unknown or ambiguous code, never a guess", () => {
    const resolve = createCatalogCodeResolver();
    expect(resolve({ provider: "sms-activate", service: "no-such-service", country: "US" })).toEqual({
      service: null,
      country: null,
    });
  });

  it("uses the catalog it is given, where the provider's own table wins over aliases and the fallback", () => {
    const catalog = createCatalog(
      mergeCatalogTables(defaultCatalogTables, {
        providers: { fake: { services: { telegram: "tele" }, countries: { id: "idn" } } },
      }),
    )._unsafeUnwrap();
    const resolve = createCatalogCodeResolver(catalog, { aliases: { other: "fake" } });
    expect(resolve({ provider: "fake", service: "tele", country: "idn" })).toEqual({
      service: "telegram",
      country: "id",
    });
    expect(resolve({ provider: "other", service: "tele", country: "idn" })).toEqual({
      service: "telegram",
      country: "id",
    });
  });

  it("throws at build time when an alias or the fallback names a provider the catalog lacks", () => {
    expect(() => createCatalogCodeResolver(undefined, { aliases: { fake: "nope" } })).toThrow(RangeError);
    expect(() => createCatalogCodeResolver(undefined, { fallbackProvider: "nope" })).toThrow(RangeError);
  });

  it("regression: the memo is bounded, so unknown codes from outside cannot grow it without limit", () => {
    const base = defaultCatalog();
    let lookups = 0;
    const counting: Catalog = {
      ...base,
      resolveService: (input, options) => {
        lookups += 1;
        return base.resolveService(input, options);
      },
    };
    const resolve = createCatalogCodeResolver(counting, { memoEntries: 100 });
    for (let i = 0; i < 5_000; i++) resolve({ provider: "sms-activate", service: `zz${i}`, country: "6" });
    expect(lookups).toBe(5_000);
    // The most recent codes are still remembered; the first ones were forgotten and are resolved again.
    resolve({ provider: "sms-activate", service: "zz4999", country: "6" });
    expect(lookups).toBe(5_000);
    resolve({ provider: "sms-activate", service: "zz0", country: "6" });
    expect(lookups).toBe(5_001);
    expect(resolve({ provider: "sms-activate", service: "tg", country: "6" }).service).toBe("telegram");
  });
});
