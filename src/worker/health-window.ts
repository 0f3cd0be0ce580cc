import { createServiceGate, type HealthServiceGate } from "../health/gate.js";
import {
  defaultHealthPolicyConfig,
  evaluateHealthPoliciesOnStats,
  type HealthPolicyConfig,
  type HealthPolicyReport,
} from "../health/policies.js";
import { createRouter, type HealthCountryRouter, type HealthRouterOptions } from "../health/routing.js";
import type { HealthDimension, HealthStats } from "../health/stats.js";
import { HEALTH_DAY_MS } from "../health/window.js";
import type { StorageReader } from "../storage/port.js";

/** A window `[sinceMs, untilMs)` over `createdAtMs` and how to group it. */
export interface HealthWindowQuery {
  readonly sinceMs: number;
  readonly untilMs: number;
  /** Default: only the total. */
  readonly groupBy?: readonly HealthDimension[];
}

/**
 * The health statistics of one window: the only place the worker and the command line read health from. The
 * storage aggregates the window itself (`StorageReader.healthStats`: the analytics in memory, the views in
 * PostgreSQL), so the history never comes into this process.
 */
export async function readHealthWindow(
  reader: StorageReader,
  query: HealthWindowQuery,
): Promise<HealthStats> {
  return reader.healthStats({ sinceMs: query.sinceMs, untilMs: query.untilMs, groupBy: query.groupBy ?? [] });
}

/** What one health refresh produces: the policies' decisions, and the gate and router built from them. */
export interface HealthSnapshot {
  readonly nowMs: number;
  readonly policies: HealthPolicyReport;
  /** Refuses what the policies disable (`config.gate` of `createFes`). */
  readonly gate: HealthServiceGate;
  /** Ranks countries by the routing window's history, skipping what the gate refuses (`config.route`). */
  readonly route: HealthCountryRouter;
}

/** Options of {@link readHealthSnapshot}. */
export interface HealthSnapshotOptions {
  readonly nowMs: number;
  readonly config?: HealthPolicyConfig;
  /** The history the router learns from (default 7 days). */
  readonly routeWindowMs?: number;
  /**
   * Passed to `createRouter` (the gate is added). A router over statistics knows the groups' keys only: when
   * records carry canonical ids (`resolveCodes`), give `candidates` with their provider `code`s, or the router
   * answers canonical ids the provider does not know.
   */
  readonly router?: Omit<HealthRouterOptions, "gate" | "window">;
}

/**
 * Evaluates the policies and builds the gate and the router through five windowed reads (history and alert
 * windows by service and by service × country, and the routing window by service × country × provider).
 */
export async function readHealthSnapshot(
  reader: StorageReader,
  options: HealthSnapshotOptions,
): Promise<HealthSnapshot> {
  const { nowMs } = options;
  const config = options.config ?? defaultHealthPolicyConfig;
  const history = { sinceMs: nowMs - config.historyWindowMs, untilMs: nowMs };
  const alert = { sinceMs: nowMs - config.alert.windowMs, untilMs: nowMs };
  const routing = { sinceMs: nowMs - (options.routeWindowMs ?? 7 * HEALTH_DAY_MS), untilMs: nowMs };
  const [hs, hsc, as, asc, rs] = await Promise.all([
    readHealthWindow(reader, { ...history, groupBy: ["service"] }),
    readHealthWindow(reader, { ...history, groupBy: ["service", "country"] }),
    readHealthWindow(reader, { ...alert, groupBy: ["service"] }),
    readHealthWindow(reader, { ...alert, groupBy: ["service", "country"] }),
    readHealthWindow(reader, { ...routing, groupBy: ["service", "country", "provider"] }),
  ]);
  const policies = evaluateHealthPoliciesOnStats({
    nowMs,
    config,
    history: { byService: hs, byServiceCountry: hsc },
    alert: { byService: as, byServiceCountry: asc },
  });
  const gate = createServiceGate(policies.decisions);
  return { nowMs, policies, gate, route: createRouter(rs, { ...options.router, gate }) };
}
