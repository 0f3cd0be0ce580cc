/**
 * Routing by history: rank the countries (and providers) where a service can be bought by the expected cost of
 * one success, price ÷ expected success, where expected success is the Wilson lower bound of the pair's history,
 * so a pair must earn its rank with evidence. The orchestration takes the result as `config.route` for
 * `country: "auto"` and for the retry on another country after a timeout.
 */
import type { ActivationRecord } from "../core/records.js";
import type { HealthServiceGate } from "./gate.js";
import { computeHealthStats, type HealthStats } from "./stats.js";
import { type WilsonInterval, wilson } from "./wilson.js";
import type { HealthWindow } from "./window.js";

/** A place a service can be bought: a country, its customer price, and the provider when there are several. */
export interface HealthRouteCandidate {
  /** The country as the statistics key it: the canonical id when resolved, else the raw code. */
  readonly country: string;
  readonly priceMinor: number;
  readonly provider?: string;
  /**
   * The provider's country code to buy with (what a router returns). Default for {@link createRouter} over
   * records: the raw code most often recorded with this country (and provider); otherwise `country`.
   */
  readonly code?: string;
}

/**
 * The success assumed for a pair without any ended activation: 0.25. Low enough that a pair with good evidence
 * (a lower bound above 25 %) ranks first, high enough that an untried pair ranks before one whose history shows
 * it barely works, so new countries still get traffic.
 */
export const DEFAULT_UNKNOWN_SUCCESS = 0.25;

/** Options of {@link rankCountries}. */
export interface HealthRouteOptions {
  readonly service: string;
  readonly candidates: readonly HealthRouteCandidate[];
  /** Pairs the gate disables are skipped. */
  readonly gate?: HealthServiceGate;
  /** Of the Wilson interval; default 0.95. */
  readonly confidence?: number;
  /** Expected success of a pair without history; default {@link DEFAULT_UNKNOWN_SUCCESS}. */
  readonly unknownSuccess?: number;
}

/** One ranked candidate. */
export interface HealthRankedRoute {
  readonly country: string;
  /** The candidate's `code`, or `country` when it has none. */
  readonly code: string;
  readonly provider: string | null;
  readonly priceMinor: number;
  /** Received activations of the pair in the statistics. */
  readonly successes: number;
  /** Ended activations of the pair in the statistics. */
  readonly n: number;
  /** `false` when the pair has no ended activation: `expectedSuccess` is then the prior. */
  readonly known: boolean;
  readonly interval: WilsonInterval;
  /** The Wilson lower bound, or the prior for an unknown pair. */
  readonly expectedSuccess: number;
  /** `priceMinor / expectedSuccess`; `Infinity` when nothing suggests it can succeed. */
  readonly expectedCostPerSuccessMinor: number;
}

/** A candidate left out of the ranking, and why. */
export interface HealthSkippedRoute {
  readonly country: string;
  readonly provider: string | null;
  readonly reason: string;
}

/** The ranking of the candidates of one service, best first. */
export interface HealthRouteRanking {
  readonly service: string;
  readonly ranked: readonly HealthRankedRoute[];
  readonly skipped: readonly HealthSkippedRoute[];
}

interface PairHistory {
  received: number;
  decided: number;
  readonly prices: Map<string, { sum: number; count: number }>;
}

/** Ended/received counts per service → country → (all providers | one provider), summed over other dimensions. */
class HistoryIndex {
  readonly byService = new Map<
    string,
    Map<string, { all: PairHistory; providers: Map<string, PairHistory> }>
  >();

  constructor(stats: HealthStats) {
    if (!stats.groupBy.includes("service") || !stats.groupBy.includes("country")) {
      throw new RangeError("routing needs statistics grouped by service and country");
    }
    const withProvider = stats.groupBy.includes("provider");
    for (const g of stats.groups) {
      const service = g.key.service as string;
      const country = g.key.country as string;
      let countries = this.byService.get(service);
      if (countries === undefined) {
        countries = new Map();
        this.byService.set(service, countries);
      }
      let entry = countries.get(country);
      if (entry === undefined) {
        entry = { all: emptyHistory(), providers: new Map() };
        countries.set(country, entry);
      }
      addGroup(entry.all, g);
      if (withProvider) {
        const provider = g.key.provider as string;
        let p = entry.providers.get(provider);
        if (p === undefined) {
          p = emptyHistory();
          entry.providers.set(provider, p);
        }
        addGroup(p, g);
      }
    }
  }

  /** The history of a candidate: the provider's own when the statistics have providers, else the pair's. */
  lookup(service: string, country: string, provider: string | undefined): PairHistory | undefined {
    const entry = this.byService.get(service)?.get(country);
    if (entry === undefined) return undefined;
    if (provider !== undefined && entry.providers.size > 0) return entry.providers.get(provider);
    return entry.all;
  }

  /** Candidates from history: every country (and provider) seen for the service, at its mean customer price. */
  candidates(service: string): HealthRouteCandidate[] {
    const out: HealthRouteCandidate[] = [];
    for (const [country, entry] of this.byService.get(service) ?? []) {
      if (entry.providers.size === 0) out.push({ country, priceMinor: meanPrice(entry.all) });
      for (const [provider, h] of entry.providers) out.push({ country, provider, priceMinor: meanPrice(h) });
    }
    return out;
  }
}

function emptyHistory(): PairHistory {
  return { received: 0, decided: 0, prices: new Map() };
}

function addGroup(h: PairHistory, g: HealthStats["groups"][number]): void {
  h.received += g.received;
  h.decided += g.decided;
  for (const m of g.money) {
    const p = h.prices.get(m.currency) ?? { sum: 0, count: 0 };
    p.sum += m.priceMinorSum;
    p.count += m.count;
    h.prices.set(m.currency, p);
  }
}

// The mean price in the currency with the most records (a platform rarely sells one service in two currencies).
function meanPrice(h: PairHistory): number {
  let best: { sum: number; count: number } | undefined;
  for (const p of h.prices.values()) if (best === undefined || p.count > best.count) best = p;
  return best === undefined || best.count === 0 ? 0 : Math.round(best.sum / best.count);
}

function rankWith(index: HistoryIndex, options: HealthRouteOptions): HealthRouteRanking {
  const confidence = options.confidence ?? 0.95;
  const prior = options.unknownSuccess ?? DEFAULT_UNKNOWN_SUCCESS;
  const ranked: HealthRankedRoute[] = [];
  const skipped: HealthSkippedRoute[] = [];
  for (const c of options.candidates) {
    const provider = c.provider ?? null;
    const verdict = options.gate?.({ service: options.service, country: c.country });
    if (verdict !== undefined && !verdict.enabled) {
      skipped.push({ country: c.country, provider, reason: verdict.reason });
      continue;
    }
    const h = index.lookup(options.service, c.country, c.provider);
    const successes = h?.received ?? 0;
    const n = h?.decided ?? 0;
    const interval = wilson(successes, n, confidence);
    const known = n > 0;
    const expectedSuccess = known ? interval.lower : prior;
    ranked.push({
      country: c.country,
      code: c.code ?? c.country,
      provider,
      priceMinor: c.priceMinor,
      successes,
      n,
      known,
      interval,
      expectedSuccess,
      expectedCostPerSuccessMinor:
        expectedSuccess > 0 ? c.priceMinor / expectedSuccess : Number.POSITIVE_INFINITY,
    });
  }
  ranked.sort(
    (a, b) =>
      compareNumbers(a.expectedCostPerSuccessMinor, b.expectedCostPerSuccessMinor) ||
      compareNumbers(b.expectedSuccess, a.expectedSuccess) ||
      compareNumbers(a.priceMinor, b.priceMinor) ||
      compareStrings(a.country, b.country) ||
      compareStrings(a.provider ?? "", b.provider ?? ""),
  );
  return { service: options.service, ranked, skipped };
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Ranks the candidates for a service, best first: ascending expected cost per success, then higher expected
 * success, lower price, country and provider. Pairs the gate disables are skipped (listed with the reason); a pair
 * whose history shows no success has an infinite expected cost and ranks last. `stats` must be grouped by service
 * and country (and provider, to rank providers apart); other dimensions are summed. Throws a RangeError otherwise.
 */
export function rankCountries(stats: HealthStats, options: HealthRouteOptions): HealthRouteRanking {
  return rankWith(new HistoryIndex(stats), options);
}

/**
 * The shape `config.route` of `createFes` takes (structurally the orchestration's `CountryRouter`): the ordered
 * country codes to try for a service, without the excluded ones.
 */
export type HealthCountryRouter = (q: {
  readonly service: string;
  readonly excludeCountries: readonly string[];
}) => readonly string[];

/** Options of {@link createRouter}. */
export interface HealthRouterOptions {
  /** Per service; default: every country (and provider) in the history, at its mean customer price. */
  readonly candidates?:
    | readonly HealthRouteCandidate[]
    | ((service: string) => readonly HealthRouteCandidate[]);
  readonly gate?: HealthServiceGate;
  readonly confidence?: number;
  readonly unknownSuccess?: number;
  /** When records are given: the window to learn from (default: every record). */
  readonly window?: HealthWindow;
}

function isHealthStats(x: unknown): x is HealthStats {
  return typeof x === "object" && x !== null && "groups" in x && "groupBy" in x && !Array.isArray(x);
}

/**
 * What records know and statistics do not: which raw service codes stand for a canonical service, and which raw
 * country code (per provider) was sent for a canonical country. The orchestration asks with either spelling and
 * buys with the raw country code.
 */
class CodeIndex {
  private readonly services = new Map<string, Map<string, number>>();
  private readonly countries = new Map<string, Map<string, Map<string, number>>>();

  constructor(records: Iterable<ActivationRecord>, window: HealthWindow | undefined) {
    for (const r of records) {
      if (window !== undefined && (r.createdAtMs < window.fromMs || r.createdAtMs >= window.toMs)) continue;
      if (r.service !== null && r.service !== r.serviceCode) count(this.services, r.serviceCode, r.service);
      const key = r.country ?? r.countryCode;
      let byProvider = this.countries.get(key);
      if (byProvider === undefined) {
        byProvider = new Map();
        this.countries.set(key, byProvider);
      }
      count(byProvider, r.provider, r.countryCode);
      count(byProvider, "", r.countryCode);
    }
  }

  /** The canonical service a raw code stands for (the most frequent), or the input itself. */
  canonicalService(service: string): string {
    const m = this.services.get(service);
    return m === undefined ? service : mostFrequent(m);
  }

  /** The raw country code most often sent for a country, by this provider when given. */
  countryCode(country: string, provider: string | undefined): string | undefined {
    const byProvider = this.countries.get(country);
    const m = byProvider?.get(provider ?? "") ?? byProvider?.get("");
    return m === undefined ? undefined : mostFrequent(m);
  }
}

function count(map: Map<string, Map<string, number>>, key: string, value: string): void {
  let m = map.get(key);
  if (m === undefined) {
    m = new Map();
    map.set(key, m);
  }
  m.set(value, (m.get(value) ?? 0) + 1);
}

function mostFrequent(m: ReadonlyMap<string, number>): string {
  let best = "";
  let bestCount = -1;
  for (const [value, n] of m) {
    if (n > bestCount || (n === bestCount && value < best)) {
      best = value;
      bestCount = n;
    }
  }
  return best;
}

/**
 * A router over a snapshot of history (records are summarised once, by service × country × provider): each call
 * ranks the service's candidates and returns their country codes in order, each once.
 *
 * The orchestration may ask with the canonical service id or the raw code it sends, and may exclude countries by
 * canonical id or raw code; both are understood. The codes returned are what the provider is sent: a candidate's
 * `code`, else (over records) the raw country code recorded for that country, else the statistics' key.
 */
export function createRouter(
  source: Iterable<ActivationRecord> | HealthStats,
  options: HealthRouterOptions = {},
): HealthCountryRouter {
  let stats: HealthStats;
  let codes: CodeIndex | undefined;
  if (isHealthStats(source)) {
    stats = source;
  } else {
    const list = Array.isArray(source) ? (source as readonly ActivationRecord[]) : [...source];
    stats = computeHealthStats(list, {
      groupBy: ["service", "country", "provider"],
      ...(options.window === undefined ? {} : { window: options.window }),
    });
    codes = new CodeIndex(list, options.window);
  }
  const index = new HistoryIndex(stats);
  return ({ service, excludeCountries }) => {
    const canonical = codes?.canonicalService(service) ?? service;
    const c = options.candidates;
    const given = c === undefined ? index.candidates(canonical) : typeof c === "function" ? c(service) : c;
    const excluded = new Set(excludeCountries);
    const candidates: HealthRouteCandidate[] = [];
    for (const x of given) {
      const code = x.code ?? codes?.countryCode(x.country, x.provider) ?? x.country;
      if (excluded.has(x.country) || excluded.has(code)) continue;
      candidates.push({ ...x, code });
    }
    const ranking = rankWith(index, {
      service: canonical,
      candidates,
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      ...(options.confidence === undefined ? {} : { confidence: options.confidence }),
      ...(options.unknownSuccess === undefined ? {} : { unknownSuccess: options.unknownSuccess }),
    });
    const seen = new Set<string>();
    const out: string[] = [];
    for (const r of ranking.ranked) {
      if (seen.has(r.code)) continue;
      seen.add(r.code);
      out.push(r.code);
    }
    return out;
  };
}
