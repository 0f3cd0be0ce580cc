/**
 * Time windows and UTC buckets for the analytics. A window is half-open, `[fromMs, toMs)`, and selects records
 * by `createdAtMs`; days and hours are UTC, like the SQL views.
 */

/** A half-open window `[fromMs, toMs)` over `createdAtMs`. */
export interface HealthWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Milliseconds in one hour. */
export const HEALTH_HOUR_MS = 3_600_000;
/** Milliseconds in one day. */
export const HEALTH_DAY_MS = 86_400_000;

/** Ready-made windows ending at `nowMs` (exclusive), and a custom one. */
export const healthWindows = {
  /** `[nowMs − 24 h, nowMs)`. */
  last24h: (nowMs: number): HealthWindow => ({ fromMs: nowMs - HEALTH_DAY_MS, toMs: nowMs }),
  /** `[nowMs − 7 d, nowMs)`. */
  last7d: (nowMs: number): HealthWindow => ({ fromMs: nowMs - 7 * HEALTH_DAY_MS, toMs: nowMs }),
  /** `[nowMs − 30 d, nowMs)`. */
  last30d: (nowMs: number): HealthWindow => ({ fromMs: nowMs - 30 * HEALTH_DAY_MS, toMs: nowMs }),
  /** `[nowMs − spanMs, nowMs)`. */
  last: (nowMs: number, spanMs: number): HealthWindow => ({ fromMs: nowMs - spanMs, toMs: nowMs }),
  /** `[fromMs, toMs)`. */
  between: (fromMs: number, toMs: number): HealthWindow => ({ fromMs, toMs }),
  /** Every record: `[−∞, +∞)`. */
  all: (): HealthWindow => ({ fromMs: Number.NEGATIVE_INFINITY, toMs: Number.POSITIVE_INFINITY }),
} as const;

/** The UTC day number (days since the epoch) of an instant. */
export function utcDayNumber(atMs: number): number {
  return Math.floor(atMs / HEALTH_DAY_MS);
}

/** The UTC hour of day (0–23) of an instant. */
export function utcHourOfDay(atMs: number): number {
  const inDay = atMs - Math.floor(atMs / HEALTH_DAY_MS) * HEALTH_DAY_MS;
  return Math.floor(inDay / HEALTH_HOUR_MS);
}

/** The ISO date (`YYYY-MM-DD`, UTC) of a day number. */
export function utcDayLabel(dayNumber: number): string {
  return new Date(dayNumber * HEALTH_DAY_MS).toISOString().slice(0, 10);
}
