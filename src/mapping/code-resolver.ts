/**
 * The catalog as the orchestration's code resolver (`config.resolveCodes` of `createFes`): every activation and
 * rental is recorded with canonical ids beside the raw codes it was bought with, so statistics, policies and the
 * router key one service under one id however it was spelled.
 *
 * The shape is declared here structurally, so mapping does not import the orchestration.
 */
import type { Catalog } from "./catalog.js";
import { defaultCatalog } from "./default.js";

/** What the orchestration asks: the provider's name and the codes exactly as sent to it. */
export interface CatalogCodeQuery {
  readonly provider: string;
  readonly service: string;
  readonly country: string;
}

/** The canonical ids, `null` where the code is unknown or ambiguous. */
export interface CatalogCodeAnswer {
  readonly service: string | null;
  readonly country: string | null;
}

/** The shape `config.resolveCodes` of `createFes` takes (structurally the orchestration's `CodeResolver`). */
export type CatalogCodeResolver = (query: CatalogCodeQuery) => CatalogCodeAnswer;

/** Options of {@link createCatalogCodeResolver}. */
export interface CatalogCodeResolverOptions {
  /**
   * Provider names the catalog does not know, mapped to a catalog provider whose codes they use, e.g.
   * `{ fake: "sms-activate" }` for the test provider or `{ "my-reseller": "sms-activate" }` for a white label.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /**
   * The catalog provider whose codes are used for a provider name that neither the catalog nor `aliases` know.
   * Default `sms-activate` (the protocol most resellers speak); `null` resolves such codes without a provider,
   * through canonical ids, aliases, names and, last, any provider's codes.
   */
  readonly fallbackProvider?: string | null;
  /**
   * How many resolved codes are remembered per kind (default 10 000; the least recently used is forgotten
   * first). Codes come from outside, so an unbounded memo would grow with every distinct unknown code.
   */
  readonly memoEntries?: number;
}

/** A memo of at most `limit` entries, forgetting the least recently used first. */
class BoundedMemo<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly limit: number) {}
  has(key: string): boolean {
    return this.#map.has(key);
  }
  get(key: string): V | undefined {
    if (!this.#map.has(key)) return undefined;
    const v = this.#map.get(key) as V;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.limit) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }
  get size(): number {
    return this.#map.size;
  }
}

/**
 * Builds a resolver from provider codes to canonical ids over a catalog (the default catalog when omitted). Each
 * distinct (provider, code) is resolved once and remembered, up to `memoEntries` per kind. A code that is unknown
 * or ambiguous for the provider resolves to `null`, never to a guess.
 *
 * Throws a RangeError when an alias or the fallback names a provider the catalog does not have: that is a wiring
 * mistake to catch at startup, not an expected outcome of a purchase.
 */
export function createCatalogCodeResolver(
  catalog: Catalog = defaultCatalog(),
  options: CatalogCodeResolverOptions = {},
): CatalogCodeResolver {
  const known = (name: string, what: string): string =>
    catalog.providerName(name).match(
      (canonical) => canonical,
      () => {
        throw new RangeError(`${what} \`${name}\` is not a provider of the catalog`);
      },
    );
  const aliases = new Map<string, string>();
  for (const [name, target] of Object.entries(options.aliases ?? {})) {
    aliases.set(name, known(target, `the alias target of \`${name}\``));
  }
  const fallbackName = options.fallbackProvider === undefined ? "sms-activate" : options.fallbackProvider;
  const fallback = fallbackName === null ? undefined : known(fallbackName, "the fallback provider");

  // The catalog provider each provider name stands for (undefined: resolve without a provider).
  const limit = Math.max(1, Math.floor(options.memoEntries ?? 10_000));
  const providers = new BoundedMemo<string | undefined>(limit);
  const providerFor = (name: string): string | undefined => {
    if (providers.has(name)) return providers.get(name);
    const p =
      aliases.get(name) ??
      catalog.providerName(name).match(
        (canonical) => canonical,
        () => fallback,
      );
    providers.set(name, p);
    return p;
  };

  const services = new BoundedMemo<string | null>(limit);
  const countries = new BoundedMemo<string | null>(limit);
  return ({ provider, service, country }) => {
    const p = providerFor(provider);
    const options = p === undefined ? undefined : { provider: p };
    const serviceKey = `${p ?? ""}\u0000${service}`;
    let s = services.get(serviceKey);
    if (s === undefined) {
      s = catalog.resolveService(service, options).match(
        (entry) => entry.id,
        () => null,
      );
      services.set(serviceKey, s);
    }
    const countryKey = `${p ?? ""}\u0000${country}`;
    let c = countries.get(countryKey);
    if (c === undefined) {
      c = catalog.resolveCountry(country, options).match(
        (entry) => entry.id,
        () => null,
      );
      countries.set(countryKey, c);
    }
    return { service: s, country: c };
  };
}
