/**
 * The catalog as data: canonical services and countries, and per provider a map from canonical id to the
 * provider's code. Reverse maps are never written by hand; the catalog derives them when it is built.
 * The default tables are generated from the vendored provider lists (`scripts/gen-catalog.ts`).
 */
import * as z from "zod";
import { generatedCountries } from "./generated/countries.js";
import { fiveSimCountries, fiveSimServices } from "./generated/fivesim.js";
import { generatedServices } from "./generated/services.js";
import { smsActivateCountries, smsActivateServices } from "./generated/sms-activate.js";

export type { GeneratedCountryId as CanonicalCountryId } from "./generated/countries.js";
export type { GeneratedServiceId as CanonicalServiceId } from "./generated/services.js";

/** A canonical service as a table row. */
export interface ServiceRow {
  /** Neutral slug, e.g. `telegram`. */
  readonly id: string;
  /** Display name. Not unique: two services may share one. */
  readonly name: string;
  /** Curated other names, unique across the catalog once normalised. */
  readonly aliases?: readonly string[];
  /** `legacy`: only seen in older provider lists, may be retired. */
  readonly status?: "current" | "legacy";
}

/** A canonical country (or a provider's pool of numbers in one country) as a table row. */
export interface CountryRow {
  /** Lower-case ISO 3166-1 alpha-2 code, with a qualifier for a second pool, e.g. `us-virtual`. */
  readonly id: string;
  readonly name: string;
  /** ISO 3166-1 alpha-2, upper case. Two pools may share one. */
  readonly iso2: string;
  /** Country calling code without `+`, e.g. `44`. */
  readonly dialCode?: string;
  readonly aliases?: readonly string[];
}

/**
 * A provider's code(s) for one canonical id: one code, or several where the first is the current code (what
 * `toProviderCode` returns) and the others are older codes still recognised on input (e.g. after a rename).
 */
export type ProviderCodes = string | readonly [string, ...string[]];

/** One provider's codes, keyed by canonical id. */
export interface ProviderCodeTable {
  /** Other names of the same provider family that share these codes, e.g. `hero-sms`. */
  readonly aliases?: readonly string[];
  readonly services: Readonly<Record<string, ProviderCodes>>;
  readonly countries: Readonly<Record<string, ProviderCodes>>;
}

/** Everything a catalog is built from. */
export interface CatalogTables {
  readonly services: readonly ServiceRow[];
  readonly countries: readonly CountryRow[];
  /** Keyed by provider name, e.g. `sms-activate`, `5sim`. */
  readonly providers: Readonly<Record<string, ProviderCodeTable>>;
}

/** An extension of a catalog: rows replace rows with the same id, provider codes replace codes per id. */
export interface CatalogTablesPatch {
  readonly services?: readonly ServiceRow[];
  readonly countries?: readonly CountryRow[];
  readonly providers?: Readonly<Record<string, Partial<ProviderCodeTable>>>;
}

const slug = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "must be a lower-case slug like `us-virtual`");
const aliases = z.array(z.string().min(1)).optional();
const codes = z.union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1)]);

/** Validates user-supplied tables; the cross-row rules (uniqueness, references) are checked by `createCatalog`. */
export const catalogTablesSchema = z.object({
  services: z.array(
    z.object({ id: slug, name: z.string(), aliases, status: z.enum(["current", "legacy"]).optional() }),
  ),
  countries: z.array(
    z.object({
      id: slug,
      name: z.string().min(1),
      iso2: z.string().regex(/^[A-Z]{2}$/, "must be an upper-case ISO 3166-1 alpha-2 code"),
      dialCode: z
        .string()
        .regex(/^[1-9][0-9]{0,3}$/, "must be a calling code without `+`")
        .optional(),
      aliases,
    }),
  ),
  providers: z.record(
    z.string().trim().min(1),
    z.object({
      aliases: z.array(z.string().trim().min(1)).optional(),
      services: z.record(z.string(), codes),
      countries: z.record(z.string(), codes),
    }),
  ),
});

/** The default tables: SMS-Activate's lists as the canonical catalog, the SMS-Activate family and 5sim. */
export const defaultCatalogTables: CatalogTables = {
  services: generatedServices,
  countries: generatedCountries,
  providers: {
    "sms-activate": {
      aliases: ["hero-sms", "herosms", "smsactivate"],
      services: smsActivateServices,
      countries: smsActivateCountries,
    },
    "5sim": { aliases: ["fivesim"], services: fiveSimServices, countries: fiveSimCountries },
  },
};

function mergeRows<R extends { readonly id: string }>(
  base: readonly R[],
  patch: readonly R[] | undefined,
): R[] {
  if (patch === undefined) return [...base];
  const replaced = new Map(patch.map((r) => [r.id, r]));
  const merged = base.map((r) => replaced.get(r.id) ?? r);
  const known = new Set(base.map((r) => r.id));
  return [...merged, ...patch.filter((r) => !known.has(r.id))];
}

/** Extends tables without forking them: rows are replaced by id, provider codes by canonical id. */
export function mergeCatalogTables(base: CatalogTables, patch: CatalogTablesPatch): CatalogTables {
  // A Map, not a plain object: a provider named `__proto__` or `constructor` is a name like any other.
  const providers = new Map<string, ProviderCodeTable>(Object.entries(base.providers));
  for (const [name, table] of Object.entries(patch.providers ?? {})) {
    const before = providers.get(name);
    const providerAliases = [...(before?.aliases ?? []), ...(table.aliases ?? [])];
    providers.set(name, {
      ...(providerAliases.length === 0 ? {} : { aliases: [...new Set(providerAliases)] }),
      services: { ...before?.services, ...table.services },
      countries: { ...before?.countries, ...table.countries },
    });
  }
  return {
    services: mergeRows(base.services, patch.services),
    countries: mergeRows(base.countries, patch.countries),
    providers: Object.fromEntries(providers),
  };
}
