/**
 * The windowed health read behind the dashboard and `GET /admin/health`: one function, so a storage that
 * computes the same tables itself (in SQL) replaces this body and nothing else.
 */
import { computeHealthGroupings, type HealthStats } from "../health/stats.js";
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

/** Reads the activations and computes the window's tables with the pure analytics, in one pass. */
export async function readWindowHealth(
  read: Pick<StorageReader, "listActivations">,
  window: HealthWindow,
): Promise<WindowHealth> {
  const records = await read.listActivations();
  const [byService, byCountry, byServiceCountry, byServiceDay, byServiceHour] = computeHealthGroupings(
    records,
    window,
    [["service"], ["country"], ["service", "country"], ["service", "day"], ["service", "hour"]],
  ) as [HealthStats, HealthStats, HealthStats, HealthStats, HealthStats];
  return { window, byService, byCountry, byServiceCountry, byServiceDay, byServiceHour };
}
