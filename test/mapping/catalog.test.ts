import { describe, expect, it } from "vitest";
import {
  type CanonicalCountryId,
  type CanonicalServiceId,
  type CatalogTables,
  createCatalog,
  defaultCatalog,
  defaultCatalogTables,
  mappingErrors,
  mergeCatalogTables,
  resolveCountry,
  resolveService,
  toProviderCode,
} from "../../src/mapping/index.js";
import { lookupKey } from "../../src/mapping/normalize.js";
import { readDataTsv } from "./tsv.js";

const sa = { provider: "sms-activate" } as const;
const fiveSim = { provider: "5sim" } as const;
const serviceId = (input: string, options?: { provider?: string }) =>
  resolveService(input, options).map((e) => e.id);
const countryId = (input: string, options?: { provider?: string }) =>
  resolveCountry(input, options).map((e) => e.id);

describe("the default catalog", () => {
  it("is valid", () => {
    expect(createCatalog(defaultCatalogTables).isOk()).toBe(true);
    expect(defaultCatalog().services).toHaveLength(788);
    expect(defaultCatalog().countries).toHaveLength(197);
  });

  it("contains every row of data/sms-activate-services.tsv with its name, status and former name", () => {
    const rows = readDataTsv("sms-activate-services.tsv");
    expect(rows).toHaveLength(788);
    for (const row of rows) {
      const entry = resolveService(row.code ?? "", sa)._unsafeUnwrap();
      expect({ code: row.code, name: entry.name, status: entry.status }).toEqual({
        code: row.code,
        name: row.name,
        status: row.status,
      });
      expect(toProviderCode(entry.id, "sms-activate")._unsafeUnwrap()).toBe(row.code);
      if (row.former_name !== "") expect(serviceId(row.former_name ?? "")._unsafeUnwrap()).toBe(entry.id);
    }
  });

  it("contains every row of data/sms-activate-countries.tsv with its name and ISO code", () => {
    const rows = readDataTsv("sms-activate-countries.tsv");
    expect(rows).toHaveLength(197);
    for (const row of rows) {
      const entry = resolveCountry(row.id ?? "", sa)._unsafeUnwrap();
      expect({ id: row.id, name: entry.name, iso2: entry.iso2 }).toEqual({
        id: row.id,
        name: row.name,
        iso2: row.iso2,
      });
      expect(toProviderCode(entry.id, "sms-activate")._unsafeUnwrap()).toBe(row.id);
    }
  });

  it("contains every row of data/country-dial-codes.tsv", () => {
    const byIso = new Map(defaultCatalog().countries.map((c) => [c.iso2, c.dialCode]));
    for (const row of readDataTsv("country-dial-codes.tsv"))
      expect(byIso.get(row.iso2 ?? "")).toBe(row.dial_code);
  });

  it("maps every row of data/5sim-products.tsv to the service of its SMS-Activate code", () => {
    const rows = readDataTsv("5sim-products.tsv");
    expect(rows).toHaveLength(44);
    for (const row of rows) {
      const viaSa = serviceId(row.sms_activate ?? "", sa)._unsafeUnwrap();
      expect([row.fivesim, serviceId(row.fivesim ?? "", fiveSim)._unsafeUnwrap()]).toEqual([
        row.fivesim,
        viaSa,
      ]);
      expect(toProviderCode(viaSa, "5sim")._unsafeUnwrap()).toBe(row.fivesim);
    }
  });

  it("maps every row of data/5sim-countries.tsv to the country of its SMS-Activate id", () => {
    const rows = readDataTsv("5sim-countries.tsv");
    expect(rows).toHaveLength(48);
    for (const row of rows) {
      const viaSa = countryId(row.sms_activate_id ?? "", sa)._unsafeUnwrap();
      expect([row.fivesim, countryId(row.fivesim ?? "", fiveSim)._unsafeUnwrap()]).toEqual([
        row.fivesim,
        viaSa,
      ]);
      expect(toProviderCode(viaSa, "5sim")._unsafeUnwrap()).toBe(row.fivesim);
    }
  });

  it("has unique ids, aliases and provider codes", () => {
    const { services, countries, providers } = defaultCatalogTables;
    const ids = [...services, ...countries].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rows of [services, countries]) {
      const aliasKeys = rows.flatMap((r) => (r.aliases ?? []).map(lookupKey));
      expect(new Set(aliasKeys).size).toBe(aliasKeys.length);
    }
    for (const table of Object.values(providers)) {
      for (const map of [table.services, table.countries]) {
        const codes = Object.values(map).flat();
        expect(new Set(codes).size).toBe(codes.length);
      }
    }
  });

  it("uses well-known slugs for famous services", () => {
    const famous = {
      telegram: "tg",
      whatsapp: "wa",
      google: "go",
      facebook: "fb",
      instagram: "ig",
      vkontakte: "vk",
      wechat: "wb",
      yahoo: "mb",
      microsoft: "mm",
      tinder: "oi",
      aol: "pm",
      tiktok: "lf",
      linkedin: "tn",
      steam: "mt",
      openai: "dr",
    };
    for (const [id, code] of Object.entries(famous))
      expect([id, serviceId(code, sa)._unsafeUnwrap()]).toEqual([id, id]);
  });

  it("settles a slug collision by appending the provider code to every colliding slug", () => {
    expect(serviceId("hj", sa)._unsafeUnwrap()).toBe("stoloto-hj");
    expect(serviceId("wd", sa)._unsafeUnwrap()).toBe("stoloto-wd");
  });

  it("rejects a provider map entry for an unknown canonical id at compile time", () => {
    const known = { telegram: "tg", us: "187" } satisfies Partial<
      Record<CanonicalServiceId | CanonicalCountryId, string>
    >;
    // @ts-expect-error `telegramm` is not a canonical service id.
    const unknown = { telegramm: "tg" } satisfies Partial<Record<CanonicalServiceId, string>>;
    expect(toProviderCode(Object.keys(known)[0] ?? "", "sms-activate")._unsafeUnwrap()).toBe("tg");
    expect(toProviderCode(Object.keys(unknown)[0] ?? "", "sms-activate")._unsafeUnwrapErr()).toEqual(
      mappingErrors.unknownCanonicalId("telegramm"),
    );
  });
});

describe("known traps", () => {
  it("wb is WeChat, not Wildberries (which is uu)", () => {
    expect(serviceId("wb", sa)._unsafeUnwrap()).toBe("wechat");
    expect(serviceId("uu", sa)._unsafeUnwrap()).toBe("wildberries");
    expect(toProviderCode("wildberries", "sms-activate")._unsafeUnwrap()).toBe("uu");
  });

  it("mb is Yahoo and mm is Microsoft", () => {
    expect(serviceId("mb", sa)._unsafeUnwrap()).toBe("yahoo");
    expect(serviceId("mm", sa)._unsafeUnwrap()).toBe("microsoft");
  });

  it("oi is Tinder", () => {
    expect(serviceId("oi", sa)._unsafeUnwrap()).toBe("tinder");
  });

  it("AOL is pm", () => {
    expect(toProviderCode("aol", "sms-activate")._unsafeUnwrap()).toBe("pm");
    expect(serviceId("AOL")._unsafeUnwrap()).toBe("aol");
  });

  it("12 is the virtual USA pool and 187 the real USA: two canonical entries with one ISO code", () => {
    const virtual = resolveCountry("12", sa)._unsafeUnwrap();
    const real = resolveCountry("187", sa)._unsafeUnwrap();
    expect([virtual.id, virtual.iso2, real.id, real.iso2]).toEqual(["us-virtual", "US", "us", "US"]);
  });

  it("16 is the United Kingdom", () => {
    expect(countryId("16", sa)._unsafeUnwrap()).toBe("gb");
    expect(countryId("United Kingdom")._unsafeUnwrap()).toBe("gb");
  });

  it("18 is DR Congo and 150 is the Republic of the Congo", () => {
    const drc = resolveCountry("18", sa)._unsafeUnwrap();
    const congo = resolveCountry("150", sa)._unsafeUnwrap();
    expect([drc.id, drc.iso2, congo.id, congo.iso2]).toEqual(["cd", "CD", "cg", "CG"]);
  });

  it("5sim england is id 16 (United Kingdom), not 12", () => {
    expect(countryId("england", fiveSim)._unsafeUnwrap()).toBe("gb");
    expect(toProviderCode("gb", "sms-activate")._unsafeUnwrap()).toBe("16");
  });

  it("5sim tiktok is lf, linkedin is tn, steam is mt", () => {
    for (const [name, code] of [
      ["tiktok", "lf"],
      ["linkedin", "tn"],
      ["steam", "mt"],
    ] as const) {
      const id = serviceId(name, fiveSim)._unsafeUnwrap();
      expect([name, toProviderCode(id, "sms-activate")._unsafeUnwrap()]).toEqual([name, code]);
    }
  });

  it("an unknown name is an error, never a silent default to Russia", () => {
    for (const input of ["atlantis", "", "  ", "00", "rus", "narnia"]) {
      expect(resolveCountry(input, fiveSim)._unsafeUnwrapErr()).toEqual(
        mappingErrors.unknownCountryCode(input, "5sim"),
      );
      expect(resolveCountry(input, sa)._unsafeUnwrapErr()).toEqual(
        mappingErrors.unknownCountryCode(input, "sms-activate"),
      );
    }
    expect(resolveService("atlantis", fiveSim)._unsafeUnwrapErr()).toEqual(
      mappingErrors.unknownServiceCode("atlantis", "5sim"),
    );
  });

  it("5sim has no names for OpenAI: asking for one is an error", () => {
    expect(toProviderCode("openai", "5sim")._unsafeUnwrapErr()).toEqual(
      mappingErrors.noProviderCode("openai", "5sim"),
    );
  });
});

describe("resolution", () => {
  it("accepts a provider code, a canonical id, an alias and a display name in any case and spacing", () => {
    for (const input of [
      "go",
      "google",
      "gmail",
      "YouTube",
      "Google,youtube,Gmail",
      "  GOOGLE youtube gmail ",
    ]) {
      expect([input, serviceId(input)._unsafeUnwrap()]).toEqual([input, "google"]);
    }
    for (const input of ["6", "id", "ID", "indonesia", " Indonesia "]) {
      expect([input, countryId(input)._unsafeUnwrap()]).toEqual([input, "id"]);
    }
    expect(countryId("Côte d'Ivoire")._unsafeUnwrap()).toBe("ci");
  });

  it("reports `US` as ambiguous between the two pools, while the id `us` is the real USA", () => {
    expect(resolveCountry("US")._unsafeUnwrapErr()).toEqual(
      mappingErrors.ambiguousCountry("US", null, "iso2", ["us", "us-virtual"]),
    );
    expect(countryId("us")._unsafeUnwrap()).toBe("us");
    expect(countryId("us-virtual")._unsafeUnwrap()).toBe("us-virtual");
  });

  it("accepts a provider family alias (hero-sms) and rejects an unknown provider", () => {
    expect(serviceId("tg", { provider: "hero-sms" })._unsafeUnwrap()).toBe("telegram");
    expect(serviceId("tg", { provider: "HeroSMS" })._unsafeUnwrap()).toBe("telegram");
    expect(resolveService("tg", { provider: "nope" })._unsafeUnwrapErr()).toEqual(
      mappingErrors.unknownProvider("nope"),
    );
    expect(toProviderCode("telegram", "nope")._unsafeUnwrapErr()).toEqual(
      mappingErrors.unknownProvider("nope"),
    );
  });

  it("uses only the given provider's codes: an SMS-Activate id is not a 5sim code", () => {
    expect(countryId("0", fiveSim)._unsafeUnwrapErr()).toEqual(mappingErrors.unknownCountryCode("0", "5sim"));
    expect(countryId("0")._unsafeUnwrap()).toBe("ru");
  });
});

describe("precedence and ambiguity", () => {
  const tables: CatalogTables = {
    services: [
      { id: "alpha", name: "Beta" },
      { id: "beta", name: "Gamma", aliases: ["delta"] },
      { id: "gamma", name: "Zeta" },
      { id: "twin-a", name: "Twin" },
      { id: "twin-b", name: "Twin" },
      { id: "omega", name: "Omega" },
    ],
    countries: [
      { id: "us", name: "USA", iso2: "US" },
      { id: "us-virtual", name: "USA (virtual)", iso2: "US" },
      { id: "de", name: "Germany", iso2: "DE" },
      { id: "fr", name: "France", iso2: "FR", aliases: ["gaul"] },
      { id: "xa", name: "FR", iso2: "XA" },
    ],
    providers: {
      p: { services: { gamma: "alpha", omega: "zz" }, countries: { fr: "de", us: "fr" } },
      q: { services: { alpha: "zz" }, countries: { de: "49" } },
    },
  };
  const catalog = createCatalog(tables)._unsafeUnwrap();
  const s = (input: string, provider?: string) =>
    catalog.resolveService(input, provider === undefined ? {} : { provider }).map((e) => e.id);
  const c = (input: string, provider?: string) =>
    catalog.resolveCountry(input, provider === undefined ? {} : { provider }).map((e) => e.id);

  it("provider code beats canonical id", () => {
    expect(s("alpha", "p")._unsafeUnwrap()).toBe("gamma");
    expect(s("alpha")._unsafeUnwrap()).toBe("alpha");
  });

  it("canonical id beats display name", () => {
    expect(s("beta")._unsafeUnwrap()).toBe("beta");
    expect(s("Beta")._unsafeUnwrap()).toBe("alpha");
  });

  it("alias resolves, in any case", () => {
    expect(s("DELTA")._unsafeUnwrap()).toBe("beta");
    expect(c("Gaul")._unsafeUnwrap()).toBe("fr");
  });

  it("a display name shared by two entries is ambiguous, with the candidates", () => {
    expect(catalog.resolveService("twin")._unsafeUnwrapErr()).toEqual(
      mappingErrors.ambiguousService("twin", null, "display_name", ["twin-a", "twin-b"]),
    );
  });

  it("display name beats ISO, ISO beats another provider's code, the given provider's code beats all", () => {
    expect(c("FR")._unsafeUnwrap()).toBe("xa");
    expect(c("fr")._unsafeUnwrap()).toBe("fr");
    expect(c("DE")._unsafeUnwrap()).toBe("de");
    expect(c("de", "p")._unsafeUnwrap()).toBe("fr");
    expect(c("fr", "p")._unsafeUnwrap()).toBe("us");
    expect(c("49")._unsafeUnwrap()).toBe("de");
    expect(c("49", "p")._unsafeUnwrapErr()).toEqual(mappingErrors.unknownCountryCode("49", "p"));
  });

  it("without a provider, one code used by two providers for different ids is ambiguous", () => {
    expect(catalog.resolveService("zz")._unsafeUnwrapErr()).toEqual(
      mappingErrors.ambiguousService("zz", null, "any_provider_code", ["alpha", "omega"]),
    );
    expect(s("zz", "p")._unsafeUnwrap()).toBe("omega");
    expect(s("zz", "q")._unsafeUnwrap()).toBe("alpha");
  });
});

describe("user tables", () => {
  const base: CatalogTables = {
    services: [
      { id: "telegram", name: "Telegram", aliases: ["tgram"] },
      { id: "signal", name: "Signal" },
    ],
    countries: [{ id: "de", name: "Germany", iso2: "DE" }],
    providers: { shop: { services: { telegram: "tg", signal: "sg" }, countries: { de: "43" } } },
  };

  it("accepts a valid table", () => {
    expect(createCatalog(base).isOk()).toBe(true);
  });

  it("rejects a duplicate alias", () => {
    const tables = {
      ...base,
      services: [base.services[0]!, { id: "signal", name: "Signal", aliases: ["T-Gram"] }],
    };
    expect(createCatalog(tables)._unsafeUnwrapErr()).toEqual(
      mappingErrors.invalidCatalog([
        {
          path: "services.1.aliases.0",
          message: "alias `T-Gram` of `signal` is already an alias of `telegram`",
        },
      ]),
    );
  });

  it("rejects two canonical ids claiming one provider code", () => {
    const tables = {
      ...base,
      providers: { shop: { services: { telegram: "tg", signal: "TG" }, countries: {} } },
    };
    expect(createCatalog(tables)._unsafeUnwrapErr()).toEqual(
      mappingErrors.invalidCatalog([
        {
          path: "providers.shop.services.signal",
          message: "shop code `TG` is claimed by both `telegram` and `signal`",
        },
      ]),
    );
  });

  it("rejects a provider code for an unknown canonical id", () => {
    const tables = { ...base, providers: { shop: { services: { telegramm: "tg" }, countries: {} } } };
    expect(createCatalog(tables)._unsafeUnwrapErr()).toEqual(
      mappingErrors.invalidCatalog([
        { path: "providers.shop.services.telegramm", message: "unknown canonical service id `telegramm`" },
      ]),
    );
  });

  it("rejects an alias that is another entry's display name or id", () => {
    const tables = {
      ...base,
      services: [base.services[0]!, { id: "signal", name: "Signal", aliases: ["telegram"] }],
    };
    expect(createCatalog(tables)._unsafeUnwrapErr()).toEqual(
      mappingErrors.invalidCatalog([
        { path: "services.1.aliases.0", message: "alias `telegram` of `signal` is the id of `telegram`" },
        { path: "services.1.aliases.0", message: "alias `telegram` of `signal` is the name of `telegram`" },
      ]),
    );
  });

  it("rejects a duplicate id and an id that is both a service and a country", () => {
    const tables = {
      ...base,
      services: [...base.services, { id: "signal", name: "Signal 2" }, { id: "de", name: "Deezer" }],
    };
    expect(createCatalog(tables)._unsafeUnwrapErr()).toEqual(
      mappingErrors.invalidCatalog([
        { path: "services.2.id", message: "duplicate id `signal`" },
        { path: "countries.0.id", message: "`de` is also in services" },
      ]),
    );
  });

  it("rejects malformed rows through the schema", () => {
    const tables = { ...base, countries: [{ id: "De", name: "Germany", iso2: "DEU" }] };
    const error = createCatalog(tables)._unsafeUnwrapErr();
    expect(error.type).toBe("invalid_catalog");
    expect(error.type === "invalid_catalog" && error.issues.map((i) => i.path)).toEqual([
      "countries.0.id",
      "countries.0.iso2",
    ]);
    expect(createCatalog(null as unknown as CatalogTables).isErr()).toBe(true);
  });

  it("extends the default tables without forking: a renamed code keeps the old one recognised", () => {
    const tables = mergeCatalogTables(defaultCatalogTables, {
      services: [{ id: "telegram-business", name: "Telegram Business" }],
      providers: {
        "sms-activate": { services: { telegram: ["tgm", "tg"], "telegram-business": "tgb" } },
        onlinesim: { services: { telegram: "telegram" }, countries: { gb: "44" } },
      },
    });
    const catalog = createCatalog(tables)._unsafeUnwrap();
    expect(catalog.toProviderCode("telegram", "sms-activate")._unsafeUnwrap()).toBe("tgm");
    expect(catalog.resolveService("tg", sa)._unsafeUnwrap().id).toBe("telegram");
    expect(catalog.resolveService("tgm", sa)._unsafeUnwrap().id).toBe("telegram");
    expect(catalog.resolveService("tgb", sa)._unsafeUnwrap().id).toBe("telegram-business");
    expect(catalog.resolveCountry("44", { provider: "onlinesim" })._unsafeUnwrap().id).toBe("gb");
    expect(catalog.resolveService("wb", { provider: "hero-sms" })._unsafeUnwrap().id).toBe("wechat");
    expect(resolveService("tgm", { ...sa, catalog })._unsafeUnwrap().id).toBe("telegram");
    expect(resolveService("tgm", sa)._unsafeUnwrapErr().type).toBe("unknown_service_code");
  });
});
