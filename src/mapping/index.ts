/**
 * sms-fes/mapping: the canonical service and country catalog, per-provider codes, resolution and the split
 * detector.
 */

export type { CanonicalEntry, Catalog, CountryEntry, ResolveCodeOptions, ServiceEntry } from "./catalog.js";
export { createCatalog } from "./catalog.js";
export type {
  CatalogCodeAnswer,
  CatalogCodeQuery,
  CatalogCodeResolver,
  CatalogCodeResolverOptions,
} from "./code-resolver.js";
export { createCatalogCodeResolver } from "./code-resolver.js";
export type { CatalogOptions } from "./default.js";
export { defaultCatalog, resolveCountry, resolveService, toProviderCode } from "./default.js";
export type { MappingError, MatchTier } from "./errors.js";
export { mappingErrors } from "./errors.js";
export type {
  NormalizedRecord,
  RawCodedRecord,
  RecordResolver,
  UnresolvedCode,
} from "./normalize-records.js";
export { createRecordResolver, normalizeRecords } from "./normalize-records.js";
export type {
  SplitCodeFigures,
  SplitFigures,
  SplitShare,
  SplitStatistic,
  SplitStatisticsRecord,
  SplitStatisticsReport,
} from "./split-statistics.js";
export { detectSplitStatistics } from "./split-statistics.js";
export type {
  CanonicalCountryId,
  CanonicalServiceId,
  CatalogTables,
  CatalogTablesPatch,
  CountryRow,
  ProviderCodes,
  ProviderCodeTable,
  ServiceRow,
} from "./tables.js";
export { catalogTablesSchema, defaultCatalogTables, mergeCatalogTables } from "./tables.js";
