/**
 * Health analytics over plain activation records (the export shape of docs/design.md §4), with the same meaning as the
 * Postgres views: UTC buckets, the denominator "got a number and ended" (received, cancelled, timeout, expired),
 * `failed` purchases counted apart, `pending`/`waiting` open, percentiles as `percentile_cont`.
 *
 * One pass over the records fills accumulators found through nested Maps (no key strings are built per record);
 * the only per-record storage is the durations kept for the percentiles, in growable typed arrays, and the
 * percentiles are found by selection (linear time), not by sorting.
 */
import { type ActivationRecord, isRefusedPurchase } from "../core/records.js";
import { percentilesInPlace } from "./percentile.js";
import { type HealthWindow, healthWindows, utcDayLabel, utcDayNumber, utcHourOfDay } from "./window.js";

/**
 * What activations are grouped by. `service` and `country` are the canonical ids when the catalog resolved them,
 * else the raw codes as sent; `day` is the UTC date of `createdAtMs`, `hour` its UTC hour of day (0–23).
 */
export type HealthDimension = "service" | "country" | "provider" | "day" | "hour";

/** The key of one group: the value of each dimension it is grouped by. */
export interface HealthGroupKey {
  readonly service?: string;
  readonly country?: string;
  readonly provider?: string;
  /** `YYYY-MM-DD`, UTC. */
  readonly day?: string;
  /** 0–23, UTC. */
  readonly hour?: number;
}

/** An exact share: formatting (percent, decimals) is the caller's business. */
export interface HealthShare {
  readonly numerator: number;
  readonly denominator: number;
}

/** One bin of a histogram of whole seconds. */
export interface HealthSecondsBin {
  readonly seconds: number;
  readonly count: number;
}

/** Money figures of a group in one currency (amounts of different currencies are never added). */
export interface HealthMoney {
  readonly currency: string;
  /** Records of the group in this currency. */
  readonly count: number;
  /** Σ customer price of every record (for the mean price). */
  readonly priceMinorSum: number;
  /** Σ price of `received` activations: money settled to revenue. */
  readonly revenueSettledMinor: number;
  /** Σ price of cancelled, timeout, expired and failed activations: money released to customers. */
  readonly releasedMinor: number;
  /** Σ cashback paid. */
  readonly cashbackPaidMinor: number;
  /** Margin over `received` activations whose provider cost is known. */
  readonly margin: {
    readonly count: number;
    readonly revenueMinor: number;
    readonly costMinor: number;
    readonly marginMinor: number;
  };
}

/** The statistics of one group of activations. */
export interface HealthGroupStats {
  readonly key: HealthGroupKey;
  /** The key's values joined with ` × `, or `all` for the total. */
  readonly label: string;
  /** Every record of the group in the window. */
  readonly total: number;
  readonly pending: number;
  readonly waiting: number;
  /** `pending + waiting`: not ended yet, in no denominator. */
  readonly open: number;
  readonly received: number;
  readonly cancelled: number;
  readonly timeout: number;
  readonly expired: number;
  /** Purchases that never produced a number: counted apart, not in `decided`. */
  readonly failed: number;
  /** The denominator of the shares: `received + cancelled + timeout + expired`. */
  readonly decided: number;
  /** Each ended outcome over `decided`. The four numerators sum to the denominator. */
  readonly shares: {
    readonly received: HealthShare;
    readonly cancelled: HealthShare;
    readonly timeout: HealthShare;
    readonly expired: HealthShare;
  };
  /** `failed` over every ended purchase attempt (`decided + failed`). */
  readonly failedShare: HealthShare;
  /** From `issuedAtMs` to `firstCodeAtMs`, over records that have both. */
  readonly timeToCodeMs: {
    readonly count: number;
    readonly median: number | null;
    readonly p95: number | null;
  };
  /** From `issuedAtMs` to `endedAtMs` of cancelled activations. */
  readonly timeToCancelMs: { readonly count: number; readonly median: number | null };
  /** The same cancel times in whole seconds (floored), ascending: the shape a pile-up shows in. */
  readonly cancelAgeSeconds: readonly HealthSecondsBin[];
  /** Money, one entry per currency, ordered by currency. */
  readonly money: readonly HealthMoney[];
}

/** A table of groups for one window and one grouping, plus the total over the window. */
export interface HealthStats {
  readonly window: HealthWindow;
  readonly groupBy: readonly HealthDimension[];
  readonly total: HealthGroupStats;
  /** Ordered by the key's values (days and hours chronologically, names by code unit). */
  readonly groups: readonly HealthGroupStats[];
}

/** Options of {@link computeHealthStats}. */
export interface HealthStatsOptions {
  /** Default: every record. */
  readonly window?: HealthWindow;
  /** Default: no dimension (only the total). */
  readonly groupBy?: readonly HealthDimension[];
}

/** The standard groupings over one window, computed in a single pass. */
export interface HealthOverview {
  readonly window: HealthWindow;
  readonly total: HealthGroupStats;
  readonly byService: HealthStats;
  readonly byCountry: HealthStats;
  readonly byServiceCountry: HealthStats;
  readonly byDay: HealthStats;
  readonly byHour: HealthStats;
}

const DIMENSION_INDEX: Readonly<Record<HealthDimension, number>> = {
  service: 0,
  country: 1,
  provider: 2,
  day: 3,
  hour: 4,
};

class MoneyAccumulator {
  count = 0;
  priceSum = 0;
  revenue = 0;
  released = 0;
  cashback = 0;
  marginCount = 0;
  marginRevenue = 0;
  marginCost = 0;
  constructor(readonly currency: string) {}
}

/** A growable array of doubles: durations without boxing, selected in place at the end. */
class DoubleBuffer {
  data = new Float64Array(16);
  length = 0;

  push(x: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = x;
  }

  static concat(parts: readonly DoubleBuffer[]): DoubleBuffer {
    const out = new DoubleBuffer();
    let n = 0;
    for (const p of parts) n += p.length;
    out.data = new Float64Array(Math.max(16, n));
    for (const p of parts) {
      out.data.set(p.data.subarray(0, p.length), out.length);
      out.length += p.length;
    }
    return out;
  }
}

class Accumulator {
  total = 0;
  pending = 0;
  waiting = 0;
  received = 0;
  cancelled = 0;
  timeout = 0;
  expired = 0;
  failed = 0;
  codeMs = new DoubleBuffer();
  cancelMs = new DoubleBuffer();
  readonly money = new Map<string, MoneyAccumulator>();
  // Most groups see one currency: remembering the last one skips the Map lookup per record.
  lastMoney: MoneyAccumulator | null = null;
  constructor(
    readonly path: readonly (string | number)[],
    // The total's durations are the concatenation of one grouping's, gathered once at the end instead.
    readonly keepDurations = true,
  ) {}

  add(r: ActivationRecord): void {
    this.total++;
    let money = this.lastMoney;
    if (money === null || money.currency !== r.currency) {
      money = this.money.get(r.currency) ?? null;
      if (money === null) {
        money = new MoneyAccumulator(r.currency);
        this.money.set(r.currency, money);
      }
      this.lastMoney = money;
    }
    money.count++;
    money.priceSum += r.priceMinor;
    money.cashback += r.cashbackMinor;
    switch (r.state) {
      case "pending":
        this.pending++;
        break;
      case "waiting":
        this.waiting++;
        break;
      case "received":
        this.received++;
        money.revenue += r.priceMinor;
        if (r.costMinor !== null) {
          money.marginCount++;
          money.marginRevenue += r.priceMinor;
          money.marginCost += r.costMinor;
        }
        break;
      case "cancelled":
        this.cancelled++;
        money.released += r.priceMinor;
        if (this.keepDurations && r.issuedAtMs !== null && r.endedAtMs !== null) {
          this.cancelMs.push(r.endedAtMs - r.issuedAtMs);
        }
        break;
      case "timeout":
        this.timeout++;
        money.released += r.priceMinor;
        break;
      case "expired":
        this.expired++;
        money.released += r.priceMinor;
        break;
      case "failed":
        this.failed++;
        money.released += r.priceMinor;
        break;
    }
    if (this.keepDurations && r.issuedAtMs !== null && r.firstCodeAtMs !== null) {
      this.codeMs.push(r.firstCodeAtMs - r.issuedAtMs);
    }
  }
}

type Tree = Map<string | number, Tree | Accumulator>;

/**
 * Statistics of the records created in `options.window`, grouped by `options.groupBy`, in a single pass.
 * Throws a RangeError for a grouping that names a dimension twice (a programming error).
 */
export function computeHealthStats(
  records: Iterable<ActivationRecord>,
  options: HealthStatsOptions = {},
): HealthStats {
  const window = options.window ?? healthWindows.all();
  const [stats] = computeHealthGroupings(records, window, [options.groupBy ?? []]);
  return stats as HealthStats;
}

/** Several groupings over one window, computed in a single pass over the records (one table per grouping). */
export function computeHealthGroupings(
  records: Iterable<ActivationRecord>,
  window: HealthWindow,
  groupings: readonly (readonly HealthDimension[])[],
): HealthStats[] {
  const plans = groupings.map((dims) => {
    if (new Set(dims).size !== dims.length) throw new RangeError(`a dimension repeats in ${dims.join(",")}`);
    return dims.map((d) => DIMENSION_INDEX[d]);
  });
  const trees: Tree[] = plans.map(() => new Map());
  // Every record in the window lands in exactly one group of a grouping, so the total's durations can be
  // gathered from the first grouping that has a dimension rather than pushed twice per record.
  const source = plans.findIndex((p) => p.length > 0);
  const total = new Accumulator([], source < 0);
  const values: (string | number)[] = ["", "", "", 0, 0];
  const { fromMs, toMs } = window;
  const planCount = plans.length;
  const needDay = plans.some((p) => p.includes(DIMENSION_INDEX.day));
  const needHour = plans.some((p) => p.includes(DIMENSION_INDEX.hour));

  for (const r of records) {
    const at = r.createdAtMs;
    if (at < fromMs || at >= toMs) continue;
    // A purchase the provider refused without executing it bought nothing: no outcome of the service.
    if (isRefusedPurchase(r)) continue;
    values[0] = r.service ?? r.serviceCode;
    values[1] = r.country ?? r.countryCode;
    values[2] = r.provider;
    if (needDay) values[3] = utcDayNumber(at);
    if (needHour) values[4] = utcHourOfDay(at);
    total.add(r);
    for (let g = 0; g < planCount; g++) {
      const plan = plans[g] as number[];
      let node = trees[g] as Tree;
      const last = plan.length - 1;
      if (last < 0) continue;
      for (let i = 0; i < last; i++) {
        const v = values[plan[i] as number] as string | number;
        let child = node.get(v) as Tree | undefined;
        if (child === undefined) {
          child = new Map();
          node.set(v, child);
        }
        node = child;
      }
      const v = values[plan[last] as number] as string | number;
      let acc = node.get(v) as Accumulator | undefined;
      if (acc === undefined) {
        acc = new Accumulator(plan.map((d) => values[d] as string | number));
        node.set(v, acc);
      }
      acc.add(r);
    }
  }

  const found = groupings.map((dims, g) => {
    const list: Accumulator[] = [];
    collect(trees[g] as Tree, dims.length, list);
    return list.sort((a, b) => comparePaths(a.path, b.path));
  });
  if (source >= 0) {
    const groups = found[source] as Accumulator[];
    total.codeMs = DoubleBuffer.concat(groups.map((a) => a.codeMs));
    total.cancelMs = DoubleBuffer.concat(groups.map((a) => a.cancelMs));
  }
  const totalStats = finalize(total, []);
  return groupings.map((dims, g) => ({
    window,
    groupBy: [...dims],
    total: totalStats,
    groups: (found[g] as Accumulator[]).map((a) => finalize(a, dims)),
  }));
}

/** The standard tables (service, country, service × country, day, hour) over one window, in a single pass. */
export function computeHealthOverview(
  records: Iterable<ActivationRecord>,
  options: { readonly window?: HealthWindow } = {},
): HealthOverview {
  const window = options.window ?? healthWindows.all();
  const [byService, byCountry, byServiceCountry, byDay, byHour] = computeHealthGroupings(records, window, [
    ["service"],
    ["country"],
    ["service", "country"],
    ["day"],
    ["hour"],
  ]) as [HealthStats, HealthStats, HealthStats, HealthStats, HealthStats];
  return { window, total: byService.total, byService, byCountry, byServiceCountry, byDay, byHour };
}

function collect(node: Tree, depth: number, out: Accumulator[]): void {
  if (depth === 0) return;
  for (const child of node.values()) {
    if (child instanceof Accumulator) out.push(child);
    else collect(child, depth - 1, out);
  }
}

function comparePaths(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

function share(numerator: number, denominator: number): HealthShare {
  return { numerator, denominator };
}

function finalize(acc: Accumulator, dims: readonly HealthDimension[]): HealthGroupStats {
  const key: Record<string, string | number> = {};
  const parts: string[] = [];
  dims.forEach((d, i) => {
    const raw = acc.path[i] as string | number;
    const value = d === "day" ? utcDayLabel(raw as number) : raw;
    key[d] = value;
    parts.push(d === "hour" ? `${String(value).padStart(2, "0")}h` : String(value));
  });
  const decided = acc.received + acc.cancelled + acc.timeout + acc.expired;
  const code = acc.codeMs;
  const cancel = acc.cancelMs;
  // The histogram first: selection reorders the buffer, counting does not care.
  const cancelAgeSeconds = secondsHistogram(cancel);
  const [codeMedian, codeP95] = percentilesInPlace(code.data, code.length, [0.5, 0.95]) as [
    number | null,
    number | null,
  ];
  const [cancelMedian] = percentilesInPlace(cancel.data, cancel.length, [0.5]) as [number | null];
  const money = [...acc.money.values()]
    .sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0))
    .map(
      (m): HealthMoney => ({
        currency: m.currency,
        count: m.count,
        priceMinorSum: m.priceSum,
        revenueSettledMinor: m.revenue,
        releasedMinor: m.released,
        cashbackPaidMinor: m.cashback,
        margin: {
          count: m.marginCount,
          revenueMinor: m.marginRevenue,
          costMinor: m.marginCost,
          marginMinor: m.marginRevenue - m.marginCost,
        },
      }),
    );
  return {
    key: key as HealthGroupKey,
    label: parts.length === 0 ? "all" : parts.join(" × "),
    total: acc.total,
    pending: acc.pending,
    waiting: acc.waiting,
    open: acc.pending + acc.waiting,
    received: acc.received,
    cancelled: acc.cancelled,
    timeout: acc.timeout,
    expired: acc.expired,
    failed: acc.failed,
    decided,
    shares: {
      received: share(acc.received, decided),
      cancelled: share(acc.cancelled, decided),
      timeout: share(acc.timeout, decided),
      expired: share(acc.expired, decided),
    },
    failedShare: share(acc.failed, decided + acc.failed),
    timeToCodeMs: { count: code.length, median: codeMedian, p95: codeP95 },
    timeToCancelMs: { count: cancel.length, median: cancelMedian },
    cancelAgeSeconds,
    money,
  };
}

function secondsHistogram(ms: DoubleBuffer): HealthSecondsBin[] {
  const n = ms.length;
  if (n === 0) return [];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = ms.data[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const from = Math.floor(min / 1000);
  const span = Math.floor(max / 1000) - from + 1;
  const bins: HealthSecondsBin[] = [];
  // Cancel ages span minutes, so a counting array is cheap; a wild outlier falls back to a Map.
  if (span <= 4 * n + 4096) {
    const counts = new Uint32Array(span);
    for (let i = 0; i < n; i++) {
      const k = Math.floor((ms.data[i] as number) / 1000) - from;
      counts[k] = (counts[k] as number) + 1;
    }
    for (let k = 0; k < span; k++)
      if (counts[k] !== 0) bins.push({ seconds: from + k, count: counts[k] as number });
    return bins;
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const seconds = Math.floor((ms.data[i] as number) / 1000);
    counts.set(seconds, (counts.get(seconds) ?? 0) + 1);
  }
  for (const [seconds, count] of [...counts.entries()].sort((a, b) => a[0] - b[0]))
    bins.push({ seconds, count });
  return bins;
}

/** The group key of a record for one dimension (canonical id when resolved, else the raw code). */
export function healthDimensionValue(r: ActivationRecord, dimension: HealthDimension): string | number {
  switch (dimension) {
    case "service":
      return r.service ?? r.serviceCode;
    case "country":
      return r.country ?? r.countryCode;
    case "provider":
      return r.provider;
    case "day":
      return utcDayLabel(utcDayNumber(r.createdAtMs));
    case "hour":
      return utcHourOfDay(r.createdAtMs);
  }
}
