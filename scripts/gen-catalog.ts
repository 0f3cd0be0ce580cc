/**
 * Generates the default service and country catalog (`src/mapping/generated/*.ts`) from the vendored provider
 * tables in `data/`. Run with `npx tsx scripts/gen-catalog.ts` after editing `data/` or the curated lists below;
 * the output is committed, so neither the build nor the tests read `data/` at run time.
 */
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const dataFile = (name: string): URL => new URL(`data/${name}`, root);
const outFile = (name: string): URL => new URL(`src/mapping/generated/${name}`, root);

/** Well-known services get a famous slug instead of one derived from the provider's display name. */
const SERVICE_SLUGS: Readonly<Record<string, string>> = {
  tg: "telegram",
  wa: "whatsapp",
  go: "google",
  fb: "facebook",
  ig: "instagram",
  vk: "vkontakte",
  ok: "odnoklassniki",
  wb: "wechat",
  mb: "yahoo",
  mm: "microsoft",
  oi: "tinder",
  pm: "aol",
  lf: "tiktok",
  tn: "linkedin",
  mt: "steam",
  dr: "openai",
  tw: "twitter",
  ds: "discord",
  am: "amazon",
  wx: "apple",
  ub: "uber",
  nf: "netflix",
  ts: "paypal",
  vi: "viber",
  me: "line",
  kt: "kakaotalk",
  qq: "tencent-qq",
  ya: "yandex",
  ma: "mailru",
  hw: "alipay",
  jg: "grab",
  gf: "google-voice",
  dp: "protonmail",
  ot: "other",
};

/** Curated aliases: common names a platform may have stored. Provider codes are not aliases. */
const SERVICE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  go: ["gmail", "youtube"],
  tw: ["x", "x.com"],
  ig: ["threads"],
  lf: ["douyin"],
  wb: ["weixin"],
  dr: ["chatgpt"],
  mm: ["outlook", "hotmail"],
  mb: ["yahoo mail"],
  vk: ["vk"],
  kt: ["kakao"],
  qq: ["qq"],
  dp: ["proton"],
  jg: ["grabtaxi"],
  ot: ["any"],
};

/** Where one ISO code names two pools of a provider, the second pool gets a qualified id. */
const COUNTRY_IDS: Readonly<Record<string, string>> = { "12": "us-virtual" };

/** Curated country aliases, keyed by SMS-Activate country id. */
const COUNTRY_ALIASES: Readonly<Record<string, readonly string[]>> = {
  "0": ["russian federation"],
  "12": ["us virtual", "virtual usa"],
  "16": ["uk", "england", "great britain", "britain"],
  "187": ["united states", "united states of america", "america"],
  "18": ["drc", "democratic republic of the congo", "congo kinshasa"],
  "150": ["republic of the congo", "congo brazzaville"],
  "95": ["united arab emirates"],
  "27": ["cote d'ivoire"],
  "106": ["swaziland", "eswatini"],
  "91": ["east timor"],
  "63": ["czechia"],
  "190": ["republic of korea"],
  "183": ["macedonia"],
  "108": ["bosnia"],
  "10": ["viet nam"],
};

function readTsv(name: string): string[][] {
  const lines = readFileSync(dataFile(name), "utf8").split("\n");
  return lines
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

const CYRILLIC: Readonly<Record<string, string>> = {
  а: "a",
  б: "b",
  в: "v",
  г: "g",
  д: "d",
  е: "e",
  ё: "e",
  ж: "zh",
  з: "z",
  и: "i",
  й: "y",
  к: "k",
  л: "l",
  м: "m",
  н: "n",
  о: "o",
  п: "p",
  р: "r",
  с: "s",
  т: "t",
  у: "u",
  ф: "f",
  х: "kh",
  ц: "ts",
  ч: "ch",
  ш: "sh",
  щ: "shch",
  ъ: "",
  ы: "y",
  ь: "",
  э: "e",
  ю: "yu",
  я: "ya",
};

/** Cyrillic letters that look like Latin ones: some provider names mix the scripts inside one word. */
const HOMOGLYPHS: Readonly<Record<string, string>> = {
  а: "a",
  в: "b",
  е: "e",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
};

function transliterate(name: string): string {
  return name
    .toLowerCase()
    .split(/(\s+)/)
    .map((word) => {
      const mixed = /[a-z]/.test(word) && /[\u0400-\u04ff]/.test(word);
      const table = mixed ? HOMOGLYPHS : CYRILLIC;
      return [...word].map((ch) => table[ch] ?? CYRILLIC[ch] ?? ch).join("");
    })
    .join("");
}

/** Lower-case, non-alphanumerics → `-`, Cyrillic transliterated, other scripts dropped. */
function slugify(name: string): string {
  return transliterate(name)
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** The lookup key of the library (see src/mapping/normalize.ts); repeated here so the script stays standalone. */
function lookupKey(input: string): string {
  return input
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "");
}

function fail(message: string): never {
  throw new Error(message);
}

// Countries first: their ids are reserved, so no service slug can equal a country id.
const countryRows = readTsv("sms-activate-countries.tsv").map(([id, name, iso2]) => ({
  code: id ?? fail("country id"),
  name: name ?? fail("country name"),
  iso2: iso2 ?? fail("country iso2"),
}));
const dialCodes = new Map(readTsv("country-dial-codes.tsv").map(([iso2, dial]) => [iso2, dial]));
const countryIdByCode = new Map<string, string>();
for (const row of countryRows) {
  const id = COUNTRY_IDS[row.code] ?? row.iso2.toLowerCase();
  if ([...countryIdByCode.values()].includes(id)) {
    fail(`country id ${id} (provider id ${row.code}) is taken: add a qualified id to COUNTRY_IDS`);
  }
  countryIdByCode.set(row.code, id);
}
const countries = countryRows.map((row) => {
  const id = countryIdByCode.get(row.code) ?? fail("country id");
  const aliases = (COUNTRY_ALIASES[row.code] ?? []).filter((a) => lookupKey(a) !== lookupKey(row.name));
  const dialCode = dialCodes.get(row.iso2);
  return { id, name: row.name, iso2: row.iso2, ...(dialCode === undefined ? {} : { dialCode }), aliases };
});
const countryIds = new Set(countries.map((c) => c.id));

const serviceRows = readTsv("sms-activate-services.tsv").map(([code, name, formerName, status]) => ({
  code: code ?? fail("service code"),
  name: name ?? "",
  formerName: formerName ?? "",
  status: status === "legacy" ? ("legacy" as const) : ("current" as const),
}));
const curated = new Set(Object.values(SERVICE_SLUGS));
const derived = new Map<string, string>();
for (const row of serviceRows) {
  if (SERVICE_SLUGS[row.code] === undefined) derived.set(row.code, slugify(row.name) || row.code);
}
const derivedCount = new Map<string, number>();
for (const slug of derived.values()) derivedCount.set(slug, (derivedCount.get(slug) ?? 0) + 1);
const serviceIdByCode = new Map<string, string>();
for (const row of serviceRows) {
  const fixed = SERVICE_SLUGS[row.code];
  if (fixed !== undefined) {
    serviceIdByCode.set(row.code, fixed);
    continue;
  }
  const slug = derived.get(row.code) ?? fail("slug");
  // A collision is settled the same way whatever the row order: every colliding derived slug gets its code.
  const collides = curated.has(slug) || countryIds.has(slug) || (derivedCount.get(slug) ?? 0) > 1;
  serviceIdByCode.set(row.code, collides ? `${slug}-${row.code}` : slug);
}
const seen = new Set<string>();
for (const id of serviceIdByCode.values()) {
  if (seen.has(id) || countryIds.has(id)) fail(`service id ${id} is not unique`);
  seen.add(id);
}
const services = serviceRows.map((row) => {
  const id = serviceIdByCode.get(row.code) ?? fail("service id");
  const nameKey = lookupKey(row.name);
  const candidates = [
    ...(SERVICE_SLUGS[row.code] === undefined ? [] : [id]),
    ...(row.formerName === "" ? [] : [row.formerName]),
    ...(SERVICE_ALIASES[row.code] ?? []),
  ];
  const aliases: string[] = [];
  const keys = new Set<string>([nameKey]);
  for (const alias of candidates) {
    const key = lookupKey(alias);
    if (key === "" || keys.has(key)) continue;
    keys.add(key);
    aliases.push(alias);
  }
  return { id, name: row.name, aliases, status: row.status };
});

const fiveSimServices = readTsv("5sim-products.tsv").map(([name, code]) => {
  const id = serviceIdByCode.get(code ?? "") ?? fail(`5sim product ${name}: unknown code ${code}`);
  return [id, name ?? fail("5sim name")] as const;
});
const fiveSimCountries = readTsv("5sim-countries.tsv").map(([name, code]) => {
  const id = countryIdByCode.get(code ?? "") ?? fail(`5sim country ${name}: unknown id ${code}`);
  return [id, name ?? fail("5sim name")] as const;
});

const header = (source: string): string =>
  `// Generated by scripts/gen-catalog.ts from ${source}. Do not edit: change the data or the script and rerun it.\n`;
const str = (s: string): string => JSON.stringify(s);
const record = (pairs: readonly (readonly [string, string])[]): string =>
  pairs.map(([k, v]) => `  ${str(k)}: ${str(v)},`).join("\n");

writeFileSync(
  outFile("services.ts"),
  header("data/sms-activate-services.tsv") +
    `\n/** The canonical services. */\nexport const generatedServices = [\n` +
    services
      .map(
        (s) =>
          `  { id: ${str(s.id)}, name: ${str(s.name)}, aliases: [${s.aliases.map(str).join(", ")}], status: ${str(s.status)} },`,
      )
      .join("\n") +
    `\n] as const;\n\n/** A canonical service id of the default catalog. */\nexport type GeneratedServiceId = (typeof generatedServices)[number]["id"];\n`,
);

writeFileSync(
  outFile("countries.ts"),
  header("data/sms-activate-countries.tsv and data/country-dial-codes.tsv") +
    `\n/** The canonical countries. */\nexport const generatedCountries = [\n` +
    countries
      .map(
        (c) =>
          `  { id: ${str(c.id)}, name: ${str(c.name)}, iso2: ${str(c.iso2)}, ` +
          (c.dialCode === undefined ? "" : `dialCode: ${str(c.dialCode)}, `) +
          `aliases: [${c.aliases.map(str).join(", ")}] },`,
      )
      .join("\n") +
    `\n] as const;\n\n/** A canonical country id of the default catalog. */\nexport type GeneratedCountryId = (typeof generatedCountries)[number]["id"];\n`,
);

const providerFile = (
  source: string,
  prefix: string,
  label: string,
  servicePairs: readonly (readonly [string, string])[],
  countryPairs: readonly (readonly [string, string])[],
  complete: boolean,
): string => {
  const wrap = (t: string): string =>
    complete ? `Readonly<Record<${t}, string>>` : `Partial<Record<${t}, string>>`;
  return (
    header(source) +
    `\nimport type { GeneratedCountryId } from "./countries.js";\nimport type { GeneratedServiceId } from "./services.js";\n\n` +
    `/** ${label} service codes by canonical service id. */\nexport const ${prefix}Services = {\n${record(servicePairs)}\n} as const satisfies ${wrap("GeneratedServiceId")};\n\n` +
    `/** ${label} country codes by canonical country id. */\nexport const ${prefix}Countries = {\n${record(countryPairs)}\n} as const satisfies ${wrap("GeneratedCountryId")};\n`
  );
};

writeFileSync(
  outFile("sms-activate.ts"),
  providerFile(
    "data/sms-activate-services.tsv and data/sms-activate-countries.tsv",
    "smsActivate",
    "SMS-Activate / HeroSMS",
    serviceRows.map((r) => [serviceIdByCode.get(r.code) ?? fail("id"), r.code] as const),
    countryRows.map((r) => [countryIdByCode.get(r.code) ?? fail("id"), r.code] as const),
    true,
  ),
);

writeFileSync(
  outFile("fivesim.ts"),
  providerFile(
    "data/5sim-products.tsv and data/5sim-countries.tsv",
    "fiveSim",
    "5sim",
    fiveSimServices,
    fiveSimCountries,
    false,
  ),
);

console.log(
  `catalog: ${services.length} services, ${countries.length} countries, ` +
    `5sim: ${fiveSimServices.length} products, ${fiveSimCountries.length} countries`,
);
