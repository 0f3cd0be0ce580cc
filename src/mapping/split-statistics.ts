/**
 * The split-statistics detector: a canonical service or country recorded under more than one raw code has its
 * statistics split across those codes (the failure this catalog exists to prevent). It reports each code's
 * figures and the merged figure, as exact fractions.
 */
import type { ActivationState } from "../core/records.js";
import type { Catalog } from "./catalog.js";
import { createRecordResolver, type RawCodedRecord, type UnresolvedCode } from "./normalize-records.js";

/** A record the detector can read: raw codes and the activation's state. */
export interface SplitStatisticsRecord extends RawCodedRecord {
  readonly state: ActivationState;
}

/** An exact share: `numerator / denominator` (0 / 0 when nothing ended). */
export interface SplitShare {
  readonly numerator: number;
  readonly denominator: number;
}

/** Outcome counts of a group of records. */
export interface SplitFigures {
  /** All records of the group. */
  readonly records: number;
  readonly received: number;
  readonly cancelled: number;
  readonly timeout: number;
  readonly expired: number;
  /** Purchases that never produced a number: counted apart, outside the success denominator. */
  readonly failed: number;
  /** Still `pending` or `waiting`: outside the denominator. */
  readonly open: number;
  /** received / (received + cancelled + timeout + expired). */
  readonly success: SplitShare;
}

/** The figures of one raw code of a canonical service or country. */
export interface SplitCodeFigures extends SplitFigures {
  /** The raw code exactly as recorded. */
  readonly code: string;
  /** The providers the code was recorded with, sorted. */
  readonly providers: readonly string[];
}

/** A canonical service or country seen under more than one raw code. */
export interface SplitStatistic {
  readonly kind: "service" | "country";
  readonly id: string;
  /** One row per raw code, sorted by code. */
  readonly codes: readonly SplitCodeFigures[];
  /** The figures of all the codes together: what the statistic should have been. */
  readonly merged: SplitFigures;
  /** True when at least two codes have different success shares. */
  readonly sharesDiffer: boolean;
}

/** What the detector found. */
export interface SplitStatisticsReport {
  readonly services: readonly SplitStatistic[];
  readonly countries: readonly SplitStatistic[];
  /** Raw codes that did not resolve; their records are left out of the figures. */
  readonly unresolved: readonly UnresolvedCode[];
}

interface Counts {
  records: number;
  received: number;
  cancelled: number;
  timeout: number;
  expired: number;
  failed: number;
  open: number;
}

const zero = (): Counts => ({
  records: 0,
  received: 0,
  cancelled: 0,
  timeout: 0,
  expired: 0,
  failed: 0,
  open: 0,
});

function count(c: Counts, state: ActivationState): void {
  c.records += 1;
  if (state === "pending" || state === "waiting") c.open += 1;
  else c[state] += 1;
}

function figures(c: Counts): SplitFigures {
  const denominator = c.received + c.cancelled + c.timeout + c.expired;
  return { ...c, success: { numerator: c.received, denominator } };
}

const sameShare = (a: SplitShare, b: SplitShare): boolean =>
  a.numerator * b.denominator === b.numerator * a.denominator &&
  (a.denominator === 0) === (b.denominator === 0);

function report(
  kind: SplitStatistic["kind"],
  groups: Map<string, Map<string, { counts: Counts; providers: Set<string> }>>,
) {
  const out: SplitStatistic[] = [];
  for (const [id, byCode] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (byCode.size < 2) continue;
    const merged = zero();
    const codes = [...byCode]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([code, g]): SplitCodeFigures => {
        for (const k of Object.keys(merged) as (keyof Counts)[]) merged[k] += g.counts[k];
        return { code, providers: [...g.providers].sort(), ...figures(g.counts) };
      });
    const first = codes[0] as SplitCodeFigures;
    const sharesDiffer = codes.some((c) => !sameShare(c.success, first.success));
    out.push({ kind, id, codes, merged: figures(merged), sharesDiffer });
  }
  return out;
}

/**
 * Finds every canonical service and country recorded under more than one raw code, with each code's outcome
 * counts and success share and the merged figure. Raw codes are compared exactly as recorded (`tg` and
 * `telegram` are two codes; so are `tg` and ` tg`), whatever provider they came from.
 */
export function detectSplitStatistics(
  records: Iterable<SplitStatisticsRecord>,
  options?: { readonly catalog?: Catalog },
): SplitStatisticsReport {
  const resolver = createRecordResolver(options?.catalog);
  const services = new Map<string, Map<string, { counts: Counts; providers: Set<string> }>>();
  const countries = new Map<string, Map<string, { counts: Counts; providers: Set<string> }>>();
  const add = (groups: typeof services, id: string, code: string, record: SplitStatisticsRecord): void => {
    let byCode = groups.get(id);
    if (byCode === undefined) {
      byCode = new Map();
      groups.set(id, byCode);
    }
    let g = byCode.get(code);
    if (g === undefined) {
      g = { counts: zero(), providers: new Set() };
      byCode.set(code, g);
    }
    g.providers.add(record.provider);
    count(g.counts, record.state);
  };
  for (const record of records) {
    const service = resolver.service(record);
    if (service !== null) add(services, service, record.serviceCode, record);
    const country = resolver.country(record);
    if (country !== null) add(countries, country, record.countryCode, record);
  }
  return {
    services: report("service", services),
    countries: report("country", countries),
    unresolved: resolver.unresolved(),
  };
}
