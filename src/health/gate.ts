/**
 * The service gate: the disable decisions of the policies turned into the predicate the orchestration asks before
 * buying (`config.gate`); a disabled answer becomes `service_disabled` from `buyActivation`.
 */
import type { HealthDecision } from "./policies.js";

/** What the orchestration asks: canonical ids when resolved, else the raw codes (the analytics' group keys). */
export interface HealthGateQuery {
  readonly service: string;
  readonly country: string;
}

/** The gate's answer. */
export type HealthGateVerdict =
  | { readonly enabled: true }
  | { readonly enabled: false; readonly reason: string };

/** The shape `config.gate` of `createFes` takes (structurally the orchestration's `ServiceGate`). */
export type HealthServiceGate = (q: HealthGateQuery) => HealthGateVerdict;

const ENABLED: HealthGateVerdict = { enabled: true };

/**
 * A gate that refuses every service disabled service-wide and every service × country pair disabled on its own;
 * everything else is enabled. Decisions other than `disable` are ignored.
 */
export function createServiceGate(decisions: readonly HealthDecision[]): HealthServiceGate {
  const services = new Map<string, HealthGateVerdict>();
  const pairs = new Map<string, Map<string, HealthGateVerdict>>();
  for (const d of decisions) {
    if (d.type !== "disable") continue;
    const verdict: HealthGateVerdict = { enabled: false, reason: d.reason };
    if (d.country === null) {
      if (!services.has(d.service)) services.set(d.service, verdict);
      continue;
    }
    let byCountry = pairs.get(d.service);
    if (byCountry === undefined) {
      byCountry = new Map();
      pairs.set(d.service, byCountry);
    }
    if (!byCountry.has(d.country)) byCountry.set(d.country, verdict);
  }
  return (q) => services.get(q.service) ?? pairs.get(q.service)?.get(q.country) ?? ENABLED;
}
