import type { CoherenceReport } from "../health/coherence.js";
import type { HealthDecision, HealthPolicyReport } from "../health/policies.js";
import type { DueWork } from "../storage/port.js";
import type { AlertCondition } from "./store.js";

function decisionKey(d: HealthDecision): string {
  return `${d.type}:${d.scope}:${d.service ?? "*"}:${d.country ?? "*"}`;
}

/**
 * The policies' decisions as conditions: a disable raised is a service (or pair) disabled, cleared is re-enabled;
 * likewise warnings, the 24-hour success alert and cancel pile-ups.
 */
export function healthAlertConditions(report: HealthPolicyReport): AlertCondition[] {
  return report.decisions.map((d) => ({
    key: decisionKey(d),
    kind: d.type,
    summary: d.reason,
    details:
      d.type === "cancel_pile_up"
        ? {
            service: d.service,
            country: d.country,
            scope: d.scope,
            share: d.share,
            modeSeconds: d.modeSeconds,
          }
        : {
            service: d.service,
            country: d.country,
            scope: d.scope,
            n: d.judgement.n,
            value: d.judgement.value,
            floor: d.judgement.floor,
          },
  }));
}

/** Money not coherent, as one condition (none when the report is coherent). */
export function coherenceAlertConditions(report: CoherenceReport): AlertCondition[] {
  if (report.ok) return [];
  const critical = report.recommendations.filter((r) => r.severity === "critical").map((r) => r.text);
  return [
    {
      key: "coherence",
      kind: "coherence",
      summary: `money is not coherent: ${critical[0] ?? "see the coherence report"}`,
      details: { findings: critical },
    },
  ];
}

/**
 * Purchases still `pending` well past the sweeper's grace period (it should have reconciled them), as one
 * condition: `due` is `listDue` at `pendingBeforeMs = now − threshold`.
 */
export function stuckPurchaseConditions(due: DueWork): AlertCondition[] {
  const ids = [...due.pendingActivations.map((a) => a.id), ...due.pendingRentals.map((r) => r.id)];
  if (ids.length === 0) return [];
  return [
    {
      key: "stuck_purchases",
      kind: "stuck_purchases",
      summary: `${ids.length} purchase(s) stuck in pending`,
      details: { ids: ids.slice(0, 50), count: ids.length },
    },
  ];
}
