/**
 * The report of a wait-time experiment, per arm, from the activation records (see `docs/wait-times.md`). Its verdict
 * is a mixture sequential probability ratio test (mSPRT): an always-valid p-value, so checking the report after
 * every batch of activations does not inflate false positives the way repeated fixed-horizon tests do.
 */
import type { ActivationRecord } from "../core/records.js";
import { WAIT_TIME_POLICY_REASON } from "../policy/wait-time.js";
import { codeQuantile, kaplanMeier, waitObservation } from "./time-to-code.js";
import { inverseNormal, type WilsonInterval, wilson } from "./wilson.js";

/** A ratio (money per success) with a delta-method interval; `null` without a success. */
export interface RatioEstimate {
  readonly point: number;
  readonly lower: number;
  readonly upper: number;
}

/** One arm's numbers. */
export interface ArmReport {
  readonly arm: string;
  /** Activations of the arm that got a number and ended (the denominator of every rate). */
  readonly ended: number;
  readonly received: number;
  readonly success: WilsonInterval;
  readonly cancelled: WilsonInterval;
  /** The cancels among them that the wait-time policy made (reason `wait_time_policy`). */
  readonly waitEnded: WilsonInterval;
  readonly timeout: WilsonInterval;
  readonly expired: WilsonInterval;
  /** Kaplan–Meier median and 90th percentile of time to code (ms), `null` where not reached. */
  readonly medianTimeToCodeMs: number | null;
  readonly p90TimeToCodeMs: number | null;
  /** What the platform spends per code: upstream cost of the codes plus cashback paid, per success (minor units). */
  readonly costPerSuccessMinor: RatioEstimate | null;
}

/** The verdict on one arm against the control. */
export interface ArmComparison {
  readonly arm: string;
  /** Success difference (arm − control). */
  readonly difference: number;
  /** Always-valid p-value of the mSPRT (valid at whatever look the report is read). */
  readonly pValue: number;
  /** `better` / `worse`: significant at `alpha`; `continue`: not yet; `too_few`: under `minPerArm` per arm. */
  readonly verdict: "better" | "worse" | "continue" | "too_few";
  /** Per-arm sample a fixed-horizon test would need to detect the observed difference (`null` if it is 0). */
  readonly neededPerArm: number | null;
}

/** The whole report. */
export interface ExperimentReport {
  readonly experimentId: string;
  readonly control: string;
  readonly arms: readonly ArmReport[];
  readonly comparisons: readonly ArmComparison[];
}

/** Options of {@link experimentReport}. */
export interface ExperimentReportOptions {
  /** The arm the others are compared with (default: the first arm in name order). */
  readonly control?: string;
  /** Confidence of the intervals (default 0.95). */
  readonly confidence?: number;
  /** False-positive rate the verdict keeps under continuous monitoring (default 0.05). */
  readonly alpha?: number;
  /** Power for the needed sample size (default 0.8). */
  readonly power?: number;
  /** Standard deviation of the mSPRT's normal mixture over success differences (default 0.1: ten points). */
  readonly mixtureSd?: number;
  /** No verdict before this many ended activations per arm (default 30). */
  readonly minPerArm?: number;
}

/**
 * The always-valid p-value of a two-proportion mixture SPRT (Johari, Pekelis & Walsh): with `V` the variance of the
 * difference under the null (pooled) and `τ` the mixture sd, `Λ = √(V/(V+τ²)) · exp(τ² d² / (2V(V+τ²)))`; `p = 1/Λ`.
 * Rejecting whenever `p ≤ α`, at any number of looks, keeps the false-positive rate at most `α`.
 */
export function msprtPValue(
  a: { successes: number; n: number },
  b: { successes: number; n: number },
  mixtureSd = 0.1,
): number {
  if (a.n === 0 || b.n === 0) return 1;
  const pooled = (a.successes + b.successes) / (a.n + b.n);
  const v = pooled * (1 - pooled) * (1 / a.n + 1 / b.n);
  if (!(v > 0)) return 1;
  const d = b.successes / b.n - a.successes / a.n;
  const t2 = mixtureSd * mixtureSd;
  const logLambda = 0.5 * Math.log(v / (v + t2)) + (t2 * d * d) / (2 * v * (v + t2));
  return Math.min(1, Math.exp(-logLambda));
}

/** Per-arm sample to detect `p1` vs `p2` with a two-sided fixed-horizon test at `alpha` and `power`. */
export function neededSamplePerArm(p1: number, p2: number, alpha = 0.05, power = 0.8): number | null {
  const d = Math.abs(p1 - p2);
  if (d === 0) return null;
  const z = inverseNormal(1 - alpha / 2) + inverseNormal(power);
  return Math.ceil((z * z * (p1 * (1 - p1) + p2 * (1 - p2))) / (d * d));
}

/** Σy / Σx with a delta-method interval over per-unit pairs. */
function ratio(ys: readonly number[], xs: readonly number[], z: number): RatioEstimate | null {
  const n = ys.length;
  const sx = xs.reduce((s, v) => s + v, 0);
  if (n === 0 || sx === 0) return null;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  const mx = sx / n;
  const r = my / mx;
  let acc = 0;
  for (let i = 0; i < n; i++) acc += (ys[i]! - r * xs[i]!) ** 2;
  const se = n > 1 ? Math.sqrt(acc / (n - 1) / n) / mx : 0;
  return { point: r, lower: Math.max(0, r - z * se), upper: r + z * se };
}

const ENDED = new Set(["received", "cancelled", "timeout", "expired"]);

/**
 * The report of experiment `experimentId` over the records that carry it: per arm success, cancels, timeouts and
 * expiries (Wilson intervals), time to code (Kaplan–Meier), cost per success (delta-method interval), and each arm
 * against the control with an mSPRT verdict and the fixed-horizon sample the observed difference would need.
 */
export function experimentReport(
  records: readonly ActivationRecord[],
  experimentId: string,
  options: ExperimentReportOptions = {},
): ExperimentReport {
  const confidence = options.confidence ?? 0.95;
  const alpha = options.alpha ?? 0.05;
  const minPerArm = options.minPerArm ?? 30;
  const z = inverseNormal(1 - (1 - confidence) / 2);
  const byArm = new Map<string, ActivationRecord[]>();
  for (const a of records) {
    if (a.experimentId !== experimentId || a.experimentArm == null || !ENDED.has(a.state)) continue;
    const list = byArm.get(a.experimentArm) ?? [];
    list.push(a);
    byArm.set(a.experimentArm, list);
  }
  const names = [...byArm.keys()].sort();
  const arms: ArmReport[] = names.map((arm) => {
    const list = byArm.get(arm)!;
    const n = list.length;
    const count = (s: string) => list.filter((a) => a.state === s).length;
    const received = count("received");
    const curve = kaplanMeier(list.flatMap((a) => waitObservation(a) ?? []));
    return {
      arm,
      ended: n,
      received,
      success: wilson(received, n, confidence),
      cancelled: wilson(count("cancelled"), n, confidence),
      waitEnded: wilson(
        list.filter((a) => a.state === "cancelled" && a.failureReason === WAIT_TIME_POLICY_REASON).length,
        n,
        confidence,
      ),
      timeout: wilson(count("timeout"), n, confidence),
      expired: wilson(count("expired"), n, confidence),
      medianTimeToCodeMs: codeQuantile(curve, 0.5),
      p90TimeToCodeMs: codeQuantile(curve, 0.9),
      costPerSuccessMinor: ratio(
        list.map((a) => (a.state === "received" ? (a.costMinor ?? 0) : 0) + a.cashbackMinor),
        list.map((a) => (a.state === "received" ? 1 : 0)),
        z,
      ),
    };
  });
  const control = options.control ?? names[0] ?? "";
  const base = arms.find((a) => a.arm === control);
  const comparisons: ArmComparison[] =
    base === undefined
      ? []
      : arms
          .filter((a) => a.arm !== control)
          .map((a) => {
            const difference = a.success.point - base.success.point;
            const pValue = msprtPValue(
              { successes: base.received, n: base.ended },
              { successes: a.received, n: a.ended },
              options.mixtureSd,
            );
            const verdict =
              a.ended < minPerArm || base.ended < minPerArm
                ? "too_few"
                : pValue > alpha
                  ? "continue"
                  : difference > 0
                    ? "better"
                    : "worse";
            return {
              arm: a.arm,
              difference,
              pValue,
              verdict,
              neededPerArm: neededSamplePerArm(base.success.point, a.success.point, alpha, options.power),
            };
          });
  return { experimentId, control, arms, comparisons };
}
