/**
 * The default catalog and the thin wrappers that bind it: `resolveService("tg", { provider: "sms-activate" })`
 * works without building anything, and every wrapper takes `{ catalog }` to use extended tables instead.
 */
import type { Result } from "neverthrow";
import {
  type Catalog,
  type CountryEntry,
  createCatalog,
  type ResolveCodeOptions,
  type ServiceEntry,
} from "./catalog.js";
import type { MappingError } from "./errors.js";
import { defaultCatalogTables } from "./tables.js";

/** Options of the default-bound resolvers. */
export interface CatalogOptions extends ResolveCodeOptions {
  /** A catalog built with `createCatalog`; the default catalog when omitted. */
  readonly catalog?: Catalog;
}

let built: Catalog | undefined;

/** The catalog of the default tables, built on first use and then reused. */
export function defaultCatalog(): Catalog {
  if (built === undefined) {
    const result = createCatalog(defaultCatalogTables);
    // The default tables are generated and tested; failing here is a broken build, not an expected error.
    if (result.isErr()) throw new Error(`the default catalog is invalid: ${JSON.stringify(result.error)}`);
    built = result.value;
  }
  return built;
}

/** Resolves any spelling of a service (provider code, canonical id, alias, display name) to its entry. */
export function resolveService(input: string, options?: CatalogOptions): Result<ServiceEntry, MappingError> {
  return (options?.catalog ?? defaultCatalog()).resolveService(input, options);
}

/** Resolves any spelling of a country (provider code, canonical id, alias, display name, ISO code) to its entry. */
export function resolveCountry(input: string, options?: CatalogOptions): Result<CountryEntry, MappingError> {
  return (options?.catalog ?? defaultCatalog()).resolveCountry(input, options);
}

/** The provider's current code for a canonical service or country id. */
export function toProviderCode(
  canonicalId: string,
  provider: string,
  options?: { readonly catalog?: Catalog },
): Result<string, MappingError> {
  return (options?.catalog ?? defaultCatalog()).toProviderCode(canonicalId, provider);
}
