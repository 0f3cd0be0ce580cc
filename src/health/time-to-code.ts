/**
 * Time to first code, estimated with Kaplan–Meier over activation records (see `docs/wait-times.md`). An activation
 * that ended without a code is censored at the time it stopped waiting: a cancel at 3 minutes says nothing about
 * minute 15. The curve is "still no code" over time since issue; `1 − S(t)` is the chance of a code by `t`.
 */
import type { ActivationRecord } from "../core/records.js";
import { inverseNormal } from "./wilson.js";

/** One activation's wait: how long it waited (ms from issue) and whether that wait ended with a code. */
export interface WaitObservation {
  readonly timeMs: number;
  /** `true`: a code arrived at `timeMs`; `false`: waiting stopped at `timeMs` without one (censored). */
  readonly code: boolean;
}

/** One step of a Kaplan–Meier curve: a time at which at least one code arrived or one wait was censored. */
export interface KaplanMeierStep {
  readonly timeMs: number;
  /** Waits still open just before `timeMs`. */
  readonly atRisk: number;
  /** Codes at `timeMs`. */
  readonly codes: number;
  /** Waits that stopped at `timeMs` without a code. */
  readonly censored: number;
  /** `S(t)`: the estimated chance of still having no code after `timeMs`. */
  readonly survival: number;
  /** Greenwood's `Σ d / (n (n − d))` up to `timeMs` (relative variance of `S`). */
  readonly greenwood: number;
  /** Pointwise confidence band of `S(t)` (log–log transformed Greenwood), within [0, 1]. */
  readonly lower: number;
  readonly upper: number;
}

/** A Kaplan–Meier estimate of time to first code. */
export interface KaplanMeierCurve {
  readonly n: number;
  readonly codes: number;
  readonly confidence: number;
  /** Steps in increasing time; `S` is 1 before the first. */
  readonly steps: readonly KaplanMeierStep[];
}

/** The chance of a code by some time, with its band. */
export interface CodeByEstimate {
  readonly probability: number;
  readonly lower: number;
  readonly upper: number;
  /** Waits still open at that time: the evidence behind the estimate. */
  readonly atRisk: number;
}

/**
 * The Kaplan–Meier product-limit estimate. At tied times codes come before censoring (the usual convention: a wait
 * censored at `t` was still at risk at `t`). Bands are pointwise, on `log(−log S)` (Kalbfleisch–Prentice), which
 * stays inside [0, 1] and covers better than the plain Greenwood band at small samples.
 */
export function kaplanMeier(
  observations: readonly WaitObservation[],
  options: { readonly confidence?: number } = {},
): KaplanMeierCurve {
  const confidence = options.confidence ?? 0.95;
  const z = inverseNormal(1 - (1 - confidence) / 2);
  const sorted = observations
    .filter((o) => Number.isFinite(o.timeMs) && o.timeMs >= 0)
    .slice()
    .sort((a, b) => a.timeMs - b.timeMs);
  const steps: KaplanMeierStep[] = [];
  let atRisk = sorted.length;
  let survival = 1;
  let greenwood = 0;
  let codesTotal = 0;
  for (let i = 0; i < sorted.length; ) {
    const t = sorted[i]!.timeMs;
    let codes = 0;
    let censored = 0;
    for (; i < sorted.length && sorted[i]!.timeMs === t; i++) {
      if (sorted[i]!.code) codes++;
      else censored++;
    }
    if (codes > 0) {
      survival *= 1 - codes / atRisk;
      greenwood += atRisk === codes ? Number.POSITIVE_INFINITY : codes / (atRisk * (atRisk - codes));
    }
    const band = logLogBand(survival, greenwood, z);
    steps.push({ timeMs: t, atRisk, codes, censored, survival, greenwood, ...band });
    codesTotal += codes;
    atRisk -= codes + censored;
  }
  return { n: sorted.length, codes: codesTotal, confidence, steps };
}

/** The log–log band of `S` with relative variance `g`; degenerate at `S ∈ {0, 1}`. */
function logLogBand(s: number, g: number, z: number): { lower: number; upper: number } {
  if (s <= 0 || !Number.isFinite(g)) return { lower: 0, upper: s <= 0 ? 0 : 1 };
  if (s >= 1) return { lower: 1, upper: 1 };
  const logS = Math.log(s);
  const se = Math.sqrt(g) / Math.abs(logS);
  return { lower: s ** Math.exp(z * se), upper: s ** Math.exp(-z * se) };
}

/** The step in force at `timeMs` (the last one at or before it), or `undefined` before the first. */
function stepAt(curve: KaplanMeierCurve, timeMs: number): KaplanMeierStep | undefined {
  let lo = 0;
  let hi = curve.steps.length - 1;
  let found: KaplanMeierStep | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = curve.steps[mid]!;
    if (s.timeMs <= timeMs) {
      found = s;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** `S(t)`: the estimated chance of no code yet after waiting `timeMs`. */
export function survivalAt(curve: KaplanMeierCurve, timeMs: number): number {
  return stepAt(curve, timeMs)?.survival ?? 1;
}

/** The chance of a code within `timeMs` of issue (`1 − S(t)`), with its band. */
export function codeWithin(curve: KaplanMeierCurve, timeMs: number): CodeByEstimate {
  const s = stepAt(curve, timeMs);
  const open = curve.steps.find((x) => x.timeMs > timeMs)?.atRisk ?? 0;
  if (s === undefined) return { probability: 0, lower: 0, upper: 0, atRisk: curve.n };
  return { probability: 1 - s.survival, lower: 1 - s.upper, upper: 1 - s.lower, atRisk: open };
}

/**
 * The time by which a share `p` of activations got a code (`S(t) ≤ 1 − p`), or `null` where the curve never gets
 * there (a service below 50 % success has no median time to code: say so rather than invent one).
 */
export function codeQuantile(curve: KaplanMeierCurve, p: number): number | null {
  for (const s of curve.steps) if (s.codes > 0 && s.survival <= 1 - p + 1e-12) return s.timeMs;
  return null;
}

/**
 * The wait an activation record shows: from issue to its first code (a code), else to when it stopped waiting
 * (censored): a cancel or an expiry when it ended, a timeout at its deadline (nothing can come after it). Records
 * without a number, or still waiting, show none.
 */
export function waitObservation(a: ActivationRecord): WaitObservation | undefined {
  if (a.issuedAtMs === null) return undefined;
  if (a.state === "received" && a.firstCodeAtMs !== null)
    return { timeMs: Math.max(0, a.firstCodeAtMs - a.issuedAtMs), code: true };
  if (a.state !== "cancelled" && a.state !== "timeout" && a.state !== "expired") return undefined;
  if (a.endedAtMs === null) return undefined;
  const stoppedAtMs =
    a.state === "timeout" && a.deadlineAtMs !== null ? Math.min(a.endedAtMs, a.deadlineAtMs) : a.endedAtMs;
  return { timeMs: Math.max(0, stoppedAtMs - a.issuedAtMs), code: false };
}

/** What to group time-to-code curves by. */
export type TimeToCodeKey = "service" | "country" | "provider";

/** A curve for one group, with its headline numbers. */
export interface TimeToCodeGroup {
  readonly service: string | null;
  readonly country: string | null;
  readonly provider: string | null;
  readonly curve: KaplanMeierCurve;
  /** Median time to code (ms), `null` where fewer than half ever get one. */
  readonly medianMs: number | null;
  readonly p25Ms: number | null;
  readonly p75Ms: number | null;
  readonly p90Ms: number | null;
}

/** Options of {@link timeToCodeCurves}. */
export interface TimeToCodeOptions {
  /** Grouping; default service × country. Add `provider` to split by provider. */
  readonly by?: readonly TimeToCodeKey[];
  readonly confidence?: number;
}

/**
 * Kaplan–Meier time-to-code curves per group (default service × country; canonical ids, the raw codes where the
 * catalog did not resolve them), sorted by group.
 */
export function timeToCodeCurves(
  records: readonly ActivationRecord[],
  options: TimeToCodeOptions = {},
): readonly TimeToCodeGroup[] {
  const by = options.by ?? ["service", "country"];
  const groups = new Map<string, { key: Record<TimeToCodeKey, string | null>; obs: WaitObservation[] }>();
  for (const a of records) {
    const o = waitObservation(a);
    if (o === undefined) continue;
    const key: Record<TimeToCodeKey, string | null> = {
      service: by.includes("service") ? (a.service ?? a.serviceCode) : null,
      country: by.includes("country") ? (a.country ?? a.countryCode) : null,
      provider: by.includes("provider") ? a.provider : null,
    };
    const k = JSON.stringify([key.service, key.country, key.provider]);
    let g = groups.get(k);
    if (g === undefined) {
      g = { key, obs: [] };
      groups.set(k, g);
    }
    g.obs.push(o);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => {
      const curve = kaplanMeier(
        g.obs,
        options.confidence === undefined ? {} : { confidence: options.confidence },
      );
      return {
        ...g.key,
        curve,
        medianMs: codeQuantile(curve, 0.5),
        p25Ms: codeQuantile(curve, 0.25),
        p75Ms: codeQuantile(curve, 0.75),
        p90Ms: codeQuantile(curve, 0.9),
      };
    });
}
