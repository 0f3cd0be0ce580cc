import { compareBytes } from "../core/ids.js";
import type { ActivationRecord } from "../core/records.js";
import { computeHealthStats, type HealthStats } from "../health/stats.js";
import type { CreatedWindow, HealthStatsQuery, PageQuery } from "./port.js";

/**
 * Every record of a paged list, page by page (`pageSize` per read), e.g.
 * `for await (const a of iterateList((page) => storage.read.listActivations({ states: ["waiting"], ...page })))`.
 * Rows written while the iteration runs may or may not be seen; none is seen twice.
 */
export async function* iterateList<T extends { readonly id: string }>(
  list: (page: { readonly afterId?: string; readonly limit: number }) => Promise<readonly T[]>,
  pageSize = 500,
): AsyncGenerator<T, void, undefined> {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new RangeError("pageSize must be a positive integer");
  let afterId: string | undefined;
  for (;;) {
    const page = await list(afterId === undefined ? { limit: pageSize } : { afterId, limit: pageSize });
    for (const item of page) yield item;
    const last = page[page.length - 1];
    if (page.length < pageSize || last === undefined) return;
    afterId = last.id;
  }
}

/**
 * The meaning of {@link PageQuery} over a list already in its order: the records for which `isAfter` holds (the
 * adapter's test "comes after the record `afterId` in this list's order", whether or not that record matches the
 * filter), at most `limit`. What an adapter that keeps its records in memory returns, and what a database
 * adapter's keyset queries must agree with.
 */
export function selectPage<T>(
  list: readonly T[],
  page: PageQuery = {},
  isAfter?: (record: T) => boolean,
): T[] {
  let start = 0;
  if (page.afterId !== undefined && isAfter !== undefined) {
    start = list.findIndex(isAfter);
    if (start < 0) return [];
  }
  const end = page.limit === undefined ? list.length : Math.min(list.length, start + Math.max(0, page.limit));
  return list.slice(start, end);
}

/** `isAfter` for lists in byte order of ids: the ids after `afterId`. */
export function afterIdInByteOrder(
  afterId: string | undefined,
): ((r: { readonly id: string }) => boolean) | undefined {
  return afterId === undefined ? undefined : (r) => compareBytes(r.id, afterId) > 0;
}

/**
 * `isAfter` for lists in (`createdAtMs`, id) order: after the record `anchor` (the one with id `afterId`); none
 * when there is no such record.
 */
export function afterCreated(
  afterId: string | undefined,
  anchor: { readonly id: string; readonly createdAtMs: number } | undefined,
): ((r: { readonly id: string; readonly createdAtMs: number }) => boolean) | undefined {
  if (afterId === undefined) return undefined;
  if (anchor === undefined) return () => false;
  return (r) =>
    r.createdAtMs > anchor.createdAtMs ||
    (r.createdAtMs === anchor.createdAtMs && compareBytes(r.id, anchor.id) > 0);
}

/** Whether `createdAtMs` lies in the window (`createdSinceMs` inclusive, `createdUntilMs` exclusive). */
export function inCreatedWindow(createdAtMs: number, window: CreatedWindow): boolean {
  return (
    (window.createdSinceMs === undefined || createdAtMs >= window.createdSinceMs) &&
    (window.createdUntilMs === undefined || createdAtMs < window.createdUntilMs)
  );
}

/** The meaning of `StorageReader.healthStats` over records in memory: `computeHealthStats` on the window. */
export function healthStatsOf(records: Iterable<ActivationRecord>, query: HealthStatsQuery): HealthStats {
  checkHealthStatsQuery(query);
  return computeHealthStats(records, {
    window: { fromMs: query.sinceMs, toMs: query.untilMs },
    groupBy: query.groupBy ?? [],
  });
}

const DIMENSIONS: ReadonlySet<string> = new Set(["service", "country", "provider", "day", "hour"]);

/** Throws a RangeError for a window bound that is not a number or a grouping that is not a set of dimensions. */
export function checkHealthStatsQuery(query: HealthStatsQuery): void {
  if (Number.isNaN(query.sinceMs) || Number.isNaN(query.untilMs) || typeof query.sinceMs !== "number")
    throw new RangeError("healthStats: sinceMs and untilMs must be numbers");
  if (typeof query.untilMs !== "number") throw new RangeError("healthStats: untilMs must be a number");
  const dims = query.groupBy ?? [];
  if (dims.some((d) => !DIMENSIONS.has(d)) || new Set(dims).size !== dims.length)
    throw new RangeError(`healthStats: not a grouping: ${dims.join(",")}`);
}
