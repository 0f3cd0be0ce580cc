/**
 * Normalisation of stored records: the raw codes a record was bought with become canonical ids, so every
 * statistic is keyed by one id per service and country however the code was spelled.
 */
import type { Catalog } from "./catalog.js";
import { defaultCatalog } from "./default.js";
import type { MappingError } from "./errors.js";

/** Any record that carries the raw codes it was bought with (e.g. `ActivationRecord`, `RentalRecord`). */
export interface RawCodedRecord {
  /** The provider's name, e.g. `sms-activate` or a family alias such as `hero-sms`. */
  readonly provider: string;
  /** The service code exactly as sent to the provider. */
  readonly serviceCode: string;
  /** The country code exactly as sent to the provider. */
  readonly countryCode: string;
}

/** A record with its canonical ids set (`null` where the raw code did not resolve). */
export type NormalizedRecord<T extends RawCodedRecord> = Omit<T, "service" | "country"> & {
  readonly service: string | null;
  readonly country: string | null;
};

/** A raw code that did not resolve, with how many records carry it and why. */
export interface UnresolvedCode {
  readonly field: "serviceCode" | "countryCode";
  readonly provider: string;
  readonly raw: string;
  readonly records: number;
  readonly error: MappingError;
}

/** A resolver over records that remembers each (provider, raw code) it has seen. */
export interface RecordResolver {
  /** The canonical service id of a record, or null. */
  service(record: RawCodedRecord): string | null;
  /** The canonical country id of a record, or null. */
  country(record: RawCodedRecord): string | null;
  /** Every raw code that did not resolve so far, sorted by field, provider and code. */
  unresolved(): UnresolvedCode[];
}

interface Memo {
  readonly id: string | null;
  readonly failure: {
    field: UnresolvedCode["field"];
    provider: string;
    raw: string;
    records: number;
    error: MappingError;
  } | null;
}

/** Builds a memoising resolver: each distinct (provider, raw code) is resolved once. */
export function createRecordResolver(catalog: Catalog = defaultCatalog()): RecordResolver {
  const memo = new Map<string, Memo>();
  const resolve = (field: UnresolvedCode["field"], record: RawCodedRecord): string | null => {
    const raw = record[field];
    const key = `${field}\u0000${record.provider}\u0000${raw}`;
    let m = memo.get(key);
    if (m === undefined) {
      const options = { provider: record.provider };
      const result =
        field === "serviceCode" ? catalog.resolveService(raw, options) : catalog.resolveCountry(raw, options);
      m = result.match(
        (entry): Memo => ({ id: entry.id, failure: null }),
        (error): Memo => ({
          id: null,
          failure: { field, provider: record.provider, raw, records: 0, error },
        }),
      );
      memo.set(key, m);
    }
    if (m.failure !== null) m.failure.records += 1;
    return m.id;
  };
  return {
    service: (record) => resolve("serviceCode", record),
    country: (record) => resolve("countryCode", record),
    unresolved: () =>
      [...memo.values()]
        .flatMap((m) => (m.failure === null ? [] : [{ ...m.failure }]))
        .sort(
          (a, b) => compare(a.field, b.field) || compare(a.provider, b.provider) || compare(a.raw, b.raw),
        ),
  };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Returns the records with `service`/`country` set to canonical ids (resolved from the raw codes for the
 * record's provider; `null` where they do not resolve), and the raw codes that did not resolve.
 */
export function normalizeRecords<T extends RawCodedRecord>(
  records: readonly T[],
  options?: { readonly catalog?: Catalog },
): { readonly records: NormalizedRecord<T>[]; readonly unresolved: UnresolvedCode[] } {
  const resolver = createRecordResolver(options?.catalog);
  const normalized = records.map(
    (r) => ({ ...r, service: resolver.service(r), country: resolver.country(r) }) as NormalizedRecord<T>,
  );
  return { records: normalized, unresolved: resolver.unresolved() };
}
