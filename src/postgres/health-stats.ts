import type {
  HealthDimension,
  HealthGroupKey,
  HealthGroupStats,
  HealthMoney,
  HealthSecondsBin,
  HealthStats,
} from "../health/stats.js";
import { utcDayLabel } from "../health/window.js";
import { checkHealthStatsQuery } from "../storage/paging.js";
import type { HealthStatsQuery } from "../storage/port.js";
import { allResults, type Queryable } from "./queryable.js";

/**
 * `StorageReader.healthStats` in SQL: three aggregates over the `activation_health_facts` view (migration 0004),
 * restricted to the window by the `activations_created` index, sent in one message inside one read-only
 * REPEATABLE READ transaction so the three see the same snapshot (with `SET LOCAL work_mem`, which ends with the
 * transaction, so the percentile sorts of a month of rows stay in memory; nothing outlives it, behind a pooler too). Only the groups travel: counts and money per
 * group and currency, the percentiles per group and for the total (`percentile_cont`, as the analytics compute
 * them), and the cancel-age histogram per group. The result is built in the shape and order `computeHealthStats`
 * gives, which the parity test checks.
 */

/** The view's column for each dimension (`day_number`: whole UTC days since the epoch). */
const DIMENSION_COLUMN: Readonly<Record<HealthDimension, string>> = {
  service: "service",
  country: "country",
  provider: "provider",
  day: "day_number",
  hour: "hour",
};

/** A numeric bound as SQL text, or `undefined` when it bounds nothing (infinite). */
function bound(value: number): string | undefined {
  return Number.isFinite(value) ? String(value) : undefined;
}

/** The statements of one query, in the order they are sent. */
export function healthStatsStatements(query: HealthStatsQuery, schema: string): string[] {
  checkHealthStatsQuery(query);
  const dims = query.groupBy ?? [];
  const columns = dims.map((d) => DIMENSION_COLUMN[d]);
  const where: string[] = [];
  const since = bound(query.sinceMs);
  const until = bound(query.untilMs);
  if (query.sinceMs === Number.POSITIVE_INFINITY || query.untilMs === Number.NEGATIVE_INFINITY)
    where.push("false");
  if (since !== undefined) where.push(`created_at_ms >= ${since}`);
  if (until !== undefined) where.push(`created_at_ms < ${until}`);
  const from = `FROM ${schema}.activation_health_facts${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}`;
  const keys = columns.map((c, i) => `${c} AS k${i}`);
  const counts =
    `SELECT ${[...keys, "currency"].join(", ")}, count(*) AS total, ` +
    "count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'waiting') AS waiting, " +
    "count(*) FILTER (WHERE state = 'received') AS received, count(*) FILTER (WHERE state = 'cancelled') AS cancelled, " +
    "count(*) FILTER (WHERE state = 'timeout') AS timeout, count(*) FILTER (WHERE state = 'expired') AS expired, " +
    "count(*) FILTER (WHERE state = 'failed') AS failed, sum(price_minor) AS price_sum, " +
    "coalesce(sum(price_minor) FILTER (WHERE state = 'received'), 0) AS revenue, " +
    "coalesce(sum(price_minor) FILTER (WHERE state IN ('cancelled', 'timeout', 'expired', 'failed')), 0) AS released, " +
    "sum(cashback_minor) AS cashback, " +
    "count(*) FILTER (WHERE state = 'received' AND cost_minor IS NOT NULL) AS margin_count, " +
    "coalesce(sum(price_minor) FILTER (WHERE state = 'received' AND cost_minor IS NOT NULL), 0) AS margin_revenue, " +
    "coalesce(sum(cost_minor) FILTER (WHERE state = 'received'), 0) AS margin_cost " +
    `${from} GROUP BY ${[...columns, "currency"].join(", ")}`;
  // The total's percentiles are over every record, so they come from the empty grouping set, not from the groups.
  const sets = columns.length > 0 ? `GROUPING SETS ((${columns.join(", ")}), ())` : "()";
  const flag = columns.length > 0 ? `grouping(${columns.join(", ")}) <> 0` : "true";
  const percentiles =
    `SELECT ${[...keys, `${flag} AS is_total`].join(", ")}, count(time_to_code_ms) AS code_count, ` +
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_code_ms) AS code_median, " +
    "percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_code_ms) AS code_p95, " +
    "count(time_to_cancel_ms) AS cancel_count, " +
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_cancel_ms) AS cancel_median " +
    `${from} GROUP BY ${sets}`;
  const cancelWhere =
    where.length > 0 ? " AND time_to_cancel_ms IS NOT NULL" : " WHERE time_to_cancel_ms IS NOT NULL";
  const histogram =
    `SELECT ${[...keys, "floor(time_to_cancel_ms / 1000.0)::bigint AS seconds"].join(", ")}, count(*) AS n ` +
    `${from}${cancelWhere} GROUP BY ${[...columns, "seconds"].join(", ")}`;
  return [counts, percentiles, histogram];
}

type Path = (string | number)[];

class Group {
  total = 0;
  pending = 0;
  waiting = 0;
  received = 0;
  cancelled = 0;
  timeout = 0;
  expired = 0;
  failed = 0;
  code = { count: 0, median: null as number | null, p95: null as number | null };
  cancel = { count: 0, median: null as number | null };
  readonly bins = new Map<number, number>();
  readonly money = new Map<string, HealthMoney>();
  constructor(readonly path: Path) {}

  add(row: Record<string, unknown>): void {
    this.total += n(row.total);
    this.pending += n(row.pending);
    this.waiting += n(row.waiting);
    this.received += n(row.received);
    this.cancelled += n(row.cancelled);
    this.timeout += n(row.timeout);
    this.expired += n(row.expired);
    this.failed += n(row.failed);
    const currency = String(row.currency);
    const m = this.money.get(currency);
    const add = (a: number | undefined, b: unknown) => (a ?? 0) + n(b);
    this.money.set(currency, {
      currency,
      count: add(m?.count, row.total),
      priceMinorSum: add(m?.priceMinorSum, row.price_sum),
      revenueSettledMinor: add(m?.revenueSettledMinor, row.revenue),
      releasedMinor: add(m?.releasedMinor, row.released),
      cashbackPaidMinor: add(m?.cashbackPaidMinor, row.cashback),
      margin: {
        count: add(m?.margin.count, row.margin_count),
        revenueMinor: add(m?.margin.revenueMinor, row.margin_revenue),
        costMinor: add(m?.margin.costMinor, row.margin_cost),
        marginMinor: add(m?.margin.marginMinor, n(row.margin_revenue) - n(row.margin_cost)),
      },
    });
  }
}

/** A count or a sum as a number (bigint and numeric columns arrive as text). */
function n(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Runs the query on `db` and builds what `computeHealthStats` would return. */
export async function queryHealthStats(
  db: Queryable,
  query: HealthStatsQuery,
  schema: string,
): Promise<HealthStats> {
  const statements = healthStatsStatements(query, schema);
  const text = [
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    "SET LOCAL work_mem = '64MB'",
    ...statements,
    "COMMIT",
  ].join(";\n");
  const [, , counts, percentiles, histogram] = allResults(await db.query(text));
  const dims = query.groupBy ?? [];
  const pathOf = (row: Record<string, unknown>): Path =>
    dims.map((d, i) => {
      const v = row[`k${i}`];
      return d === "day" || d === "hour" ? Number(v) : String(v);
    });
  const groups = new Map<string, Group>();
  const total = new Group([]);
  const groupOf = (path: Path) => {
    const key = JSON.stringify(path);
    let g = groups.get(key);
    if (g === undefined) {
      g = new Group(path);
      groups.set(key, g);
    }
    return g;
  };
  for (const row of counts?.rows ?? []) {
    total.add(row);
    if (dims.length > 0) groupOf(pathOf(row)).add(row);
  }
  for (const row of percentiles?.rows ?? []) {
    const target = row.is_total === true ? total : groupOf(pathOf(row));
    target.code = {
      count: n(row.code_count),
      median: nullableNumber(row.code_median),
      p95: nullableNumber(row.code_p95),
    };
    target.cancel = { count: n(row.cancel_count), median: nullableNumber(row.cancel_median) };
  }
  for (const row of histogram?.rows ?? []) {
    const seconds = Number(row.seconds);
    const count = n(row.n);
    total.bins.set(seconds, (total.bins.get(seconds) ?? 0) + count);
    if (dims.length > 0) {
      const g = groupOf(pathOf(row));
      g.bins.set(seconds, (g.bins.get(seconds) ?? 0) + count);
    }
  }
  const window = { fromMs: query.sinceMs, toMs: query.untilMs };
  const ordered = [...groups.values()]
    .filter((g) => g.total > 0)
    .sort((a, b) => comparePaths(a.path, b.path));
  return {
    window,
    groupBy: [...dims],
    total: finish(total, []),
    groups: dims.length === 0 ? [] : ordered.map((g) => finish(g, dims)),
  };
}

function comparePaths(a: Path, b: Path): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

function finish(g: Group, dims: readonly HealthDimension[]): HealthGroupStats {
  const key: Record<string, string | number> = {};
  const parts: string[] = [];
  dims.forEach((d, i) => {
    const raw = g.path[i] as string | number;
    const value = d === "day" ? utcDayLabel(raw as number) : raw;
    key[d] = value;
    parts.push(d === "hour" ? `${String(value).padStart(2, "0")}h` : String(value));
  });
  const decided = g.received + g.cancelled + g.timeout + g.expired;
  const share = (numerator: number, denominator: number) => ({ numerator, denominator });
  const cancelAgeSeconds: HealthSecondsBin[] = [...g.bins.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([seconds, count]) => ({ seconds, count }));
  return {
    key: key as HealthGroupKey,
    label: parts.length === 0 ? "all" : parts.join(" × "),
    total: g.total,
    pending: g.pending,
    waiting: g.waiting,
    open: g.pending + g.waiting,
    received: g.received,
    cancelled: g.cancelled,
    timeout: g.timeout,
    expired: g.expired,
    failed: g.failed,
    decided,
    shares: {
      received: share(g.received, decided),
      cancelled: share(g.cancelled, decided),
      timeout: share(g.timeout, decided),
      expired: share(g.expired, decided),
    },
    failedShare: share(g.failed, decided + g.failed),
    timeToCodeMs: g.code,
    timeToCancelMs: g.cancel,
    cancelAgeSeconds,
    money: [...g.money.values()].sort((a, b) =>
      a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0,
    ),
  };
}
