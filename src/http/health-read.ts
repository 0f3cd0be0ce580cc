/**
 * The windowed health read behind the dashboard and `GET /admin/health`: the storage aggregates each table itself
 * (`StorageReader.healthStats`: the analytics in memory, the views in PostgreSQL).
 */
import type { HealthDimension, HealthStats } from "../health/stats.js";
import type { HealthWindow } from "../health/window.js";
import type { StorageReader } from "../storage/port.js";

/** The health tables of one window. */
export interface WindowHealth {
  readonly window: HealthWindow;
  readonly byService: HealthStats;
  readonly byCountry: HealthStats;
  readonly byServiceCountry: HealthStats;
  /** Per service and UTC day (the timeline of the 7- and 30-day windows). */
  readonly byServiceDay: HealthStats;
  /** Per service and UTC hour of day (the timeline of the 24-hour window). */
  readonly byServiceHour: HealthStats;
}

/** Reads the window's tables through the storage's windowed health read. */
export async function readWindowHealth(
  read: Pick<StorageReader, "healthStats">,
  window: HealthWindow,
): Promise<WindowHealth> {
  const stats = (groupBy: readonly HealthDimension[]) =>
    read.healthStats({ sinceMs: window.fromMs, untilMs: window.toMs, groupBy });
  const [byService, byCountry, byServiceCountry, byServiceDay, byServiceHour] = await Promise.all([
    stats(["service"]),
    stats(["country"]),
    stats(["service", "country"]),
    stats(["service", "day"]),
    stats(["service", "hour"]),
  ]);
  return { window, byService, byCountry, byServiceCountry, byServiceDay, byServiceHour };
}
