/**
 * A catalog built from tables: validated once, indexed once into normalised lookup Maps (and the catalog's own
 * spellings resolved ahead of time), so resolving an input costs a few `Map.get` calls.
 *
 * Resolution precedence, highest first (a tie inside one tier is an `ambiguous_*` error with the candidates):
 *
 * 1. `provider_code` — the code of the given provider (`tg`, `187`, `england` for 5sim); trimmed, any case.
 * 2. `canonical_id` — the canonical id exactly as written (ids are lower-case slugs: `us` is an id, `US` is not).
 * 3. `alias` — a curated alias, normalised (case, spacing, punctuation and accents ignored).
 * 4. `display_name` — the display name, normalised. Names are not unique, so this tier can be ambiguous.
 * 5. `iso2` (countries) — an ISO 3166-1 alpha-2 code, any case. Last of the catalog's own tiers because it
 *    is the one that legitimately names several pools: `US` is both `us` and `us-virtual`.
 * 6. `any_provider_code` — only when no provider is given: the codes of every provider. Lowest, because a
 *    short code of one provider (`bit`) may be the canonical id or the name of something else.
 *
 * When a provider is given, only that provider's codes are considered. Nothing ever falls back to a default:
 * an input that matches no tier is `unknown_service_code` / `unknown_country_code`.
 */
import { err, ok, type Result } from "neverthrow";
import { type InputIssue, issuesFromZod } from "../core/errors.js";
import { type MappingError, type MatchTier, mappingErrors } from "./errors.js";
import { codeKey, lookupKey } from "./normalize.js";
import { type CatalogTables, catalogTablesSchema, type ProviderCodes } from "./tables.js";

/** A canonical service. */
export interface ServiceEntry {
  readonly kind: "service";
  readonly id: string;
  readonly name: string;
  readonly aliases: readonly string[];
  readonly status: "current" | "legacy";
}

/** A canonical country (or pool). */
export interface CountryEntry {
  readonly kind: "country";
  readonly id: string;
  readonly name: string;
  readonly iso2: string;
  readonly dialCode: string | null;
  readonly aliases: readonly string[];
}

/** What resolution returns. */
export type CanonicalEntry = ServiceEntry | CountryEntry;

/** Options of a resolution. */
export interface ResolveCodeOptions {
  /** The provider the input came from (or a family alias such as `hero-sms`): its codes take precedence. */
  readonly provider?: string;
}

/** A built catalog: the resolvers bound to one set of tables. */
export interface Catalog {
  /** The validated tables the catalog was built from (extend them with `mergeCatalogTables`). */
  readonly tables: CatalogTables;
  readonly services: readonly ServiceEntry[];
  readonly countries: readonly CountryEntry[];
  /** The provider names (not their aliases). */
  readonly providers: readonly string[];
  /** Resolves any spelling of a service to its canonical entry. */
  resolveService(input: string, options?: ResolveCodeOptions): Result<ServiceEntry, MappingError>;
  /** Resolves any spelling of a country to its canonical entry. */
  resolveCountry(input: string, options?: ResolveCodeOptions): Result<CountryEntry, MappingError>;
  /** The provider's current code for a canonical service or country id. */
  toProviderCode(canonicalId: string, provider: string): Result<string, MappingError>;
  /** The canonical provider name of a provider name or family alias (`hero-sms` → `sms-activate`). */
  providerName(provider: string): Result<string, MappingError>;
}

interface KindIndex<E extends CanonicalEntry> {
  readonly byId: Map<string, E>;
  readonly byAlias: Map<string, E>;
  readonly byName: Map<string, readonly E[]>;
  readonly byIso: Map<string, readonly E[]>;
  readonly byAnyCode: Map<string, readonly E[]>;
  /** Tiers 2 to 5 already walked for every spelling the tables contain, as written and in lower/upper case. */
  readonly exact: Map<string, Found<E>>;
}

interface ProviderIndex {
  readonly name: string;
  readonly services: Map<string, ServiceEntry>;
  readonly countries: Map<string, CountryEntry>;
  readonly codeOf: Map<string, string>;
}

const codesOf = (codes: ProviderCodes): readonly string[] =>
  (typeof codes === "string" ? [codes] : codes).map((c) => c.trim());

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

/** Cross-row rules zod cannot express: uniqueness and references. */
function crossCheck(tables: CatalogTables): InputIssue[] {
  const issues: InputIssue[] = [];
  const issue = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  const kindOfId = new Map<string, string>();
  for (const kind of ["services", "countries"] as const) {
    const rows: readonly { id: string; name: string; aliases?: readonly string[] }[] = tables[kind];
    const idKeys = new Map<string, string>();
    const nameKeys = new Map<string, Set<string>>();
    rows.forEach((row, i) => {
      const other = kindOfId.get(row.id);
      if (other !== undefined) {
        issue(
          `${kind}.${i}.id`,
          other === kind ? `duplicate id \`${row.id}\`` : `\`${row.id}\` is also in ${other}`,
        );
      }
      kindOfId.set(row.id, kind);
      idKeys.set(lookupKey(row.id), row.id);
      const nk = lookupKey(row.name);
      if (nk !== "") nameKeys.set(nk, (nameKeys.get(nk) ?? new Set()).add(row.id));
    });
    const aliasOwner = new Map<string, string>();
    rows.forEach((row, i) => {
      for (const [j, alias] of (row.aliases ?? []).entries()) {
        const path = `${kind}.${i}.aliases.${j}`;
        const key = lookupKey(alias);
        if (key === "") {
          issue(path, `alias \`${alias}\` has no letters or digits`);
          continue;
        }
        const owner = aliasOwner.get(key);
        if (owner !== undefined && owner !== row.id) {
          issue(path, `alias \`${alias}\` of \`${row.id}\` is already an alias of \`${owner}\``);
          continue;
        }
        aliasOwner.set(key, row.id);
        const idOwner = idKeys.get(key);
        if (idOwner !== undefined && idOwner !== row.id) {
          issue(path, `alias \`${alias}\` of \`${row.id}\` is the id of \`${idOwner}\``);
        }
        const nameOwners = [...(nameKeys.get(key) ?? [])].filter((id) => id !== row.id);
        if (nameOwners.length > 0) {
          issue(path, `alias \`${alias}\` of \`${row.id}\` is the name of \`${nameOwners.join("`, `")}\``);
        }
      }
    });
  }
  const providerOf = new Map<string, string>();
  for (const [name, table] of Object.entries(tables.providers)) {
    for (const spelling of [name, ...(table.aliases ?? [])]) {
      const key = codeKey(spelling);
      const owner = providerOf.get(key);
      if (owner !== undefined && owner !== name) {
        issue(`providers.${name}`, `provider name \`${spelling}\` is also \`${owner}\``);
      }
      providerOf.set(key, name);
    }
    for (const kind of ["services", "countries"] as const) {
      const codeOwner = new Map<string, string>();
      for (const [id, codes] of Object.entries(table[kind])) {
        const path = `providers.${name}.${kind}.${id}`;
        if (kindOfId.get(id) !== kind)
          issue(path, `unknown canonical ${kind === "services" ? "service" : "country"} id \`${id}\``);
        for (const code of codesOf(codes)) {
          const key = codeKey(code);
          const owner = codeOwner.get(key);
          if (owner !== undefined && owner !== id) {
            issue(path, `${name} code \`${code}\` is claimed by both \`${owner}\` and \`${id}\``);
          }
          codeOwner.set(key, id);
        }
      }
    }
  }
  return issues;
}

function indexKind<E extends CanonicalEntry>(entries: readonly E[]): KindIndex<E> {
  const byId = new Map<string, E>();
  const byAlias = new Map<string, E>();
  const byName = new Map<string, E[]>();
  const byIso = new Map<string, E[]>();
  for (const e of entries) {
    byId.set(e.id, e);
    for (const alias of e.aliases) byAlias.set(lookupKey(alias), e);
    const nk = lookupKey(e.name);
    if (nk !== "") push(byName, nk, e);
    if (e.kind === "country") push(byIso, e.iso2, e);
  }
  for (const list of [...byName.values(), ...byIso.values()]) list.sort((a, b) => (a.id < b.id ? -1 : 1));
  const index: KindIndex<E> = { byId, byAlias, byName, byIso, byAnyCode: new Map(), exact: new Map() };
  for (const e of entries) {
    for (const spelling of [e.id, e.name, ...e.aliases, ...(e.kind === "country" ? [e.iso2] : [])]) {
      for (const s of [spelling, spelling.toLowerCase(), spelling.toUpperCase()]) {
        if (index.exact.has(s)) continue;
        const found = catalogTiers(index, s);
        if (found !== null) index.exact.set(s, found);
      }
    }
  }
  return index;
}

type Found<E> =
  | { readonly entry: E }
  | { readonly tier: MatchTier; readonly candidates: readonly E[] }
  | null;

function fromList<E>(tier: MatchTier, list: readonly E[] | undefined): Found<E> {
  if (list === undefined) return null;
  return list.length === 1 ? { entry: list[0] as E } : { tier, candidates: list };
}

/** Tiers 2 to 5 (canonical id, alias, display name, ISO code): the catalog's own spellings. */
function catalogTiers<E extends CanonicalEntry>(index: KindIndex<E>, input: string): Found<E> {
  const trimmed = input.trim();
  const byId = index.byId.get(trimmed);
  if (byId !== undefined) return { entry: byId };
  const key = lookupKey(trimmed);
  if (key === "") return null;
  const byAlias = index.byAlias.get(key);
  if (byAlias !== undefined) return { entry: byAlias };
  const byName = fromList("display_name", index.byName.get(key));
  if (byName !== null) return byName;
  return trimmed.length === 2 ? fromList("iso2", index.byIso.get(trimmed.toUpperCase())) : null;
}

/** Walks the tiers for one kind. `codes` is the given provider's code map, or null for none. */
function find<E extends CanonicalEntry>(
  index: KindIndex<E>,
  codes: Map<string, E> | null,
  input: string,
): Found<E> {
  if (codes !== null) {
    const hit = codes.get(input) ?? codes.get(codeKey(input));
    if (hit !== undefined) return { entry: hit };
  }
  const found = index.exact.get(input) ?? catalogTiers(index, input);
  if (found !== null || codes !== null) return found;
  return fromList("any_provider_code", index.byAnyCode.get(codeKey(input)));
}

/**
 * Builds a catalog from tables (validated with zod, then checked for duplicate aliases, codes claimed by two
 * canonical ids and references to unknown ids). Errors: `invalid_catalog` with every issue found.
 */
export function createCatalog(input: CatalogTables): Result<Catalog, MappingError> {
  const parsed = catalogTablesSchema.safeParse(input);
  if (!parsed.success) return err(mappingErrors.invalidCatalog(issuesFromZod(parsed.error.issues)));
  const tables: CatalogTables = parsed.data as CatalogTables;
  const issues = crossCheck(tables);
  if (issues.length > 0) return err(mappingErrors.invalidCatalog(issues));

  const services: ServiceEntry[] = tables.services.map((r) => ({
    kind: "service",
    id: r.id,
    name: r.name,
    aliases: r.aliases ?? [],
    status: r.status ?? "current",
  }));
  const countries: CountryEntry[] = tables.countries.map((r) => ({
    kind: "country",
    id: r.id,
    name: r.name,
    iso2: r.iso2,
    dialCode: r.dialCode ?? null,
    aliases: r.aliases ?? [],
  }));
  const serviceIndex = indexKind(services);
  const countryIndex = indexKind(countries);
  const anyService = serviceIndex.byAnyCode as Map<string, ServiceEntry[]>;
  const anyCountry = countryIndex.byAnyCode as Map<string, CountryEntry[]>;

  const providers = new Map<string, ProviderIndex>();
  for (const [name, table] of Object.entries(tables.providers)) {
    const p: ProviderIndex = { name, services: new Map(), countries: new Map(), codeOf: new Map() };
    for (const [id, codes] of Object.entries(table.services)) {
      const entry = serviceIndex.byId.get(id) as ServiceEntry;
      const all = codesOf(codes);
      p.codeOf.set(id, all[0] as string);
      for (const code of all) {
        p.services.set(codeKey(code), entry);
        p.services.set(code, entry);
        push(anyService, codeKey(code), entry);
      }
    }
    for (const [id, codes] of Object.entries(table.countries)) {
      const entry = countryIndex.byId.get(id) as CountryEntry;
      const all = codesOf(codes);
      p.codeOf.set(id, all[0] as string);
      for (const code of all) {
        p.countries.set(codeKey(code), entry);
        p.countries.set(code, entry);
        push(anyCountry, codeKey(code), entry);
      }
    }
    for (const spelling of [name, ...(table.aliases ?? [])]) {
      providers.set(spelling, p);
      providers.set(codeKey(spelling), p);
    }
  }
  for (const list of [...anyService.values(), ...anyCountry.values()])
    list.sort((a, b) => (a.id < b.id ? -1 : 1));

  const providerIndex = (provider: string): ProviderIndex | undefined =>
    providers.get(provider) ?? providers.get(codeKey(provider));

  const resolveServiceIn = (input: string, p: ProviderIndex | null): Result<ServiceEntry, MappingError> => {
    const providerName = p === null ? null : p.name;
    const found =
      typeof input === "string" ? find(serviceIndex, p === null ? null : p.services, input) : null;
    if (found === null) return err(mappingErrors.unknownServiceCode(String(input), providerName));
    if ("entry" in found) return ok(found.entry);
    const ids = found.candidates.map((c) => c.id);
    return err(mappingErrors.ambiguousService(input, providerName, found.tier, ids));
  };
  const resolveCountryIn = (input: string, p: ProviderIndex | null): Result<CountryEntry, MappingError> => {
    const providerName = p === null ? null : p.name;
    const found =
      typeof input === "string" ? find(countryIndex, p === null ? null : p.countries, input) : null;
    if (found === null) return err(mappingErrors.unknownCountryCode(String(input), providerName));
    if ("entry" in found) return ok(found.entry);
    const ids = found.candidates.map((c) => c.id);
    return err(mappingErrors.ambiguousCountry(input, providerName, found.tier, ids));
  };

  const catalog: Catalog = {
    tables,
    services,
    countries,
    providers: Object.keys(tables.providers),
    resolveService(input, options) {
      const provider = options?.provider;
      if (provider === undefined) return resolveServiceIn(input, null);
      const p = providerIndex(provider);
      return p === undefined ? err(mappingErrors.unknownProvider(provider)) : resolveServiceIn(input, p);
    },
    resolveCountry(input, options) {
      const provider = options?.provider;
      if (provider === undefined) return resolveCountryIn(input, null);
      const p = providerIndex(provider);
      return p === undefined ? err(mappingErrors.unknownProvider(provider)) : resolveCountryIn(input, p);
    },
    toProviderCode(canonicalId, provider) {
      const p = providerIndex(provider);
      if (p === undefined) return err(mappingErrors.unknownProvider(provider));
      if (!serviceIndex.byId.has(canonicalId) && !countryIndex.byId.has(canonicalId)) {
        return err(mappingErrors.unknownCanonicalId(canonicalId));
      }
      const code = p.codeOf.get(canonicalId);
      return code === undefined ? err(mappingErrors.noProviderCode(canonicalId, p.name)) : ok(code);
    },
    providerName(provider) {
      const p = providerIndex(provider);
      return p === undefined ? err(mappingErrors.unknownProvider(provider)) : ok(p.name);
    },
  };
  return ok(catalog);
}
