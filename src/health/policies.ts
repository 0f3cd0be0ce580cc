/**
 * Service policies as pure functions: records and a clock reading in, decisions with their reasons out.
 * Every success-rate rule judges a chosen value of a Wilson interval (point, lower or upper bound) at a chosen
 * confidence, and only once a minimum sample of ended activations exists, so 0 out of 2 does not kill a service
 * while 0 out of 30 does.
 */
import { err, ok, type Result } from "neverthrow";
import * as z from "zod";
import { errors, type InvalidInput, issuesFromZod } from "../core/errors.js";
import type { ActivationRecord } from "../core/records.js";
import {
  computeHealthGroupings,
  type HealthGroupStats,
  type HealthSecondsBin,
  type HealthShare,
  type HealthStats,
} from "./stats.js";
import { judgedValue, type WilsonInterval, type WilsonJudge, wilson } from "./wilson.js";
import { HEALTH_DAY_MS, type HealthWindow, healthWindows } from "./window.js";

const judgeSchema = z.enum(["point", "lower", "upper"]);
const confidenceSchema = z.number().gt(0).lt(1);
const fractionSchema = z.number().min(0).max(1);
const sampleSchema = z.number().int().min(0);
const rateScopeSchema = z.enum(["service", "service_country"]);

function rateRuleSchema(floor: number, minSample: number, scopes: ("service" | "service_country")[]) {
  return z.object({
    /** The rule fires when the judged success value is strictly below this share. */
    floor: fractionSchema.default(floor),
    judge: judgeSchema.default("upper"),
    confidence: confidenceSchema.default(0.95),
    /** Ended activations (`decided`) needed before the rule judges at all. */
    minSample: sampleSchema.default(minSample),
    scopes: z.array(rateScopeSchema).default(scopes),
  });
}

/** Zod schema of the policy configuration: every field has a default, so `{}` is the default config. */
export const healthPolicyConfigSchema = z.object({
  /** The window (ending now) that disable, warn, pile-up and targets judge. Default 30 days. */
  historyWindowMs: z
    .number()
    .int()
    .positive()
    .default(30 * HEALTH_DAY_MS),
  /** Disable when success (default: Wilson upper bound at 95 %) is below 15 %, from 10 ended activations. */
  disable: rateRuleSchema(0.15, 10, ["service", "service_country"]).prefault({}),
  /** Warn when success (default: upper bound at 95 %) is below 40 %, from 10 ended activations. */
  warn: rateRuleSchema(0.4, 10, ["service", "service_country"]).prefault({}),
  /** Alert when a service's success over the last `windowMs` (24 h) is below 20 % (default: upper bound). */
  alert: rateRuleSchema(0.2, 10, ["service"])
    .extend({ windowMs: z.number().int().positive().default(HEALTH_DAY_MS) })
    .prefault({}),
  /** Flag cancels piling up at one age: at least `share` of them within ± `toleranceSeconds` of one second. */
  cancelPileUp: z
    .object({
      share: fractionSchema.default(0.5),
      toleranceSeconds: z.number().int().min(0).default(1),
      minSample: sampleSchema.default(20),
      scopes: z.array(z.enum(["all", "service", "service_country"])).default(["all", "service"]),
    })
    .prefault({}),
  /** Targets for the shares of outcomes, reported per service and overall. */
  targets: z
    .object({
      /** Success must be above this share. */
      successAbove: fractionSchema.default(0.6),
      /** Cancels must be below this share. */
      cancelBelow: fractionSchema.default(0.2),
      timeoutBelow: fractionSchema.default(0.1),
      expiredBelow: fractionSchema.default(0.15),
      /** `bounds`: met/missed only when the whole interval is on one side, else `uncertain`. */
      judge: z.enum(["point", "bounds"]).default("bounds"),
      confidence: confidenceSchema.default(0.95),
      minSample: sampleSchema.default(10),
    })
    .prefault({}),
});

/** A validated policy configuration (defaults applied). */
export type HealthPolicyConfig = z.output<typeof healthPolicyConfigSchema>;
/** A policy configuration as written by a caller: every field optional. */
export type HealthPolicyConfigInput = z.input<typeof healthPolicyConfigSchema>;

/** The default policy configuration. */
export const defaultHealthPolicyConfig: HealthPolicyConfig = healthPolicyConfigSchema.parse({});

/** Validates a policy configuration and applies the defaults. */
export function parseHealthPolicyConfig(input: unknown): Result<HealthPolicyConfig, InvalidInput> {
  const parsed = healthPolicyConfigSchema.safeParse(input ?? {});
  return parsed.success ? ok(parsed.data) : err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
}

/** How a success-rate rule judged a group. */
export interface HealthRateJudgement {
  /** Received activations. */
  readonly successes: number;
  /** Ended activations (`decided`). */
  readonly n: number;
  readonly interval: WilsonInterval;
  readonly judge: WilsonJudge;
  readonly confidence: number;
  /** The judged value of the interval. */
  readonly value: number;
  readonly floor: number;
}

/** Where a rule applies: one service everywhere, or one service in one country. */
export type HealthRateScope = "service" | "service_country";

/** A decision of the policies, with its reason in words. */
export type HealthDecision =
  | {
      readonly type: "disable" | "warn";
      readonly scope: HealthRateScope;
      readonly service: string;
      /** `null` for a service-wide decision. */
      readonly country: string | null;
      readonly reason: string;
      readonly judgement: HealthRateJudgement;
    }
  | {
      readonly type: "alert";
      readonly scope: HealthRateScope;
      readonly service: string;
      readonly country: string | null;
      readonly window: HealthWindow;
      readonly reason: string;
      readonly judgement: HealthRateJudgement;
    }
  | {
      readonly type: "cancel_pile_up";
      readonly scope: "all" | HealthRateScope;
      readonly service: string | null;
      readonly country: string | null;
      /** The cancel ages (whole seconds since the number was issued) the pile covers. */
      readonly fromSeconds: number;
      readonly toSeconds: number;
      /** The single second with the most cancels inside the pile. */
      readonly modeSeconds: number;
      /** Cancels in the pile over all cancels of the group. */
      readonly share: HealthShare;
      readonly reason: string;
    };

/** The result of one target check. */
export type HealthTargetStatus = "met" | "missed" | "uncertain" | "insufficient_sample";

/** One outcome share checked against its target. */
export interface HealthTargetCheck {
  readonly metric: "success" | "cancel" | "timeout" | "expired";
  /** `above`: the share must exceed the target; `below`: it must stay under it. */
  readonly direction: "above" | "below";
  readonly target: number;
  readonly share: HealthShare;
  readonly interval: WilsonInterval;
  readonly status: HealthTargetStatus;
}

/** The target checks of one service, or of every activation (`service: null`). */
export interface HealthTargetRow {
  readonly service: string | null;
  readonly decided: number;
  readonly checks: readonly HealthTargetCheck[];
}

/** Everything the policies decided at one instant. */
export interface HealthPolicyReport {
  readonly nowMs: number;
  readonly historyWindow: HealthWindow;
  readonly alertWindow: HealthWindow;
  /** Disable, then warn, then alert, then pile-up decisions; each ordered by service and country. */
  readonly decisions: readonly HealthDecision[];
  /** The overall row first, then one per service. */
  readonly targets: readonly HealthTargetRow[];
}

/** Options of {@link evaluateHealthPolicies}. */
export interface HealthPolicyOptions {
  readonly nowMs: number;
  /** A validated config (see {@link parseHealthPolicyConfig}); default {@link defaultHealthPolicyConfig}. */
  readonly config?: HealthPolicyConfig;
}

/**
 * Runs every policy over the records: disable and warn (service and service × country), the success alert over
 * the alert window, the cancel pile-up detector and the targets report. Two passes over the records: the history
 * window and the alert window.
 */
export function evaluateHealthPolicies(
  records: Iterable<ActivationRecord>,
  options: HealthPolicyOptions,
): HealthPolicyReport {
  const config = options.config ?? defaultHealthPolicyConfig;
  const historyWindow = healthWindows.last(options.nowMs, config.historyWindowMs);
  const alertWindow = healthWindows.last(options.nowMs, config.alert.windowMs);
  const list = Array.isArray(records) ? (records as readonly ActivationRecord[]) : [...records];
  const [byService, byPair] = computeHealthGroupings(list, historyWindow, [
    ["service"],
    ["service", "country"],
  ]) as [HealthStats, HealthStats];
  const [alertByService, alertByPair] = computeHealthGroupings(list, alertWindow, [
    ["service"],
    ["service", "country"],
  ]) as [HealthStats, HealthStats];
  return evaluateHealthPoliciesOnStats({
    nowMs: options.nowMs,
    config,
    history: { byService, byServiceCountry: byPair },
    alert: { byService: alertByService, byServiceCountry: alertByPair },
  });
}

/** The policies over statistics already computed (history and alert windows, by service and service × country). */
export function evaluateHealthPoliciesOnStats(input: {
  readonly nowMs: number;
  readonly config: HealthPolicyConfig;
  readonly history: { readonly byService: HealthStats; readonly byServiceCountry: HealthStats };
  readonly alert: { readonly byService: HealthStats; readonly byServiceCountry: HealthStats };
}): HealthPolicyReport {
  const { config, history, alert } = input;
  const tables = (scope: HealthRateScope, h: typeof history) =>
    scope === "service" ? h.byService : h.byServiceCountry;

  const disables: HealthDecision[] = [];
  const disabledKeys = new Set<string>();
  for (const scope of unique(config.disable.scopes)) {
    for (const g of tables(scope, history).groups) {
      const j = judgeSuccessRule(g, config.disable);
      if (j === null) continue;
      disabledKeys.add(scopeKey(scope, g));
      disables.push({
        type: "disable",
        scope,
        service: g.key.service as string,
        country: scope === "service" ? null : (g.key.country as string),
        reason: `${describe(scope, g)}: ${describeJudgement(j, "disable")}`,
        judgement: j,
      });
    }
  }

  // A disabled service or pair is not also warned about: the stronger decision says it all.
  const warns: HealthDecision[] = [];
  for (const scope of unique(config.warn.scopes)) {
    for (const g of tables(scope, history).groups) {
      if (disabledKeys.has(scopeKey(scope, g))) continue;
      const j = judgeSuccessRule(g, config.warn);
      if (j === null) continue;
      warns.push({
        type: "warn",
        scope,
        service: g.key.service as string,
        country: scope === "service" ? null : (g.key.country as string),
        reason: `${describe(scope, g)}: ${describeJudgement(j, "warning")}`,
        judgement: j,
      });
    }
  }

  const alertWindow = alert.byService.window;
  const alerts: HealthDecision[] = [];
  for (const scope of unique(config.alert.scopes)) {
    for (const g of tables(scope, alert).groups) {
      const j = judgeSuccessRule(g, config.alert);
      if (j === null) continue;
      alerts.push({
        type: "alert",
        scope,
        service: g.key.service as string,
        country: scope === "service" ? null : (g.key.country as string),
        window: alertWindow,
        reason: `${describe(scope, g)} over the last ${hoursLabel(config.alert.windowMs)}: ${describeJudgement(j, "alert")}`,
        judgement: j,
      });
    }
  }

  const piles: HealthDecision[] = [];
  for (const scope of unique(config.cancelPileUp.scopes)) {
    const groups = scope === "all" ? [history.byService.total] : tables(scope, history).groups;
    for (const g of groups) {
      const pile = findCancelPileUp(g.cancelAgeSeconds, config.cancelPileUp);
      if (pile === null) continue;
      const where = scope === "all" ? "all services" : describe(scope, g);
      const range =
        pile.fromSeconds === pile.toSeconds
          ? `${pile.fromSeconds} s`
          : `${pile.fromSeconds}–${pile.toSeconds} s`;
      piles.push({
        type: "cancel_pile_up",
        scope,
        service: scope === "all" ? null : (g.key.service as string),
        country: scope === "service_country" ? (g.key.country as string) : null,
        ...pile,
        reason:
          `cancels pile up for ${where}: ${pile.share.numerator} of ${pile.share.denominator} ` +
          `(${formatHealthPercent(pile.share.numerator / pile.share.denominator)}) at ${range} after the number was issued`,
      });
    }
  }

  const targets = [history.byService.total, ...history.byService.groups].map((g, i) =>
    checkHealthTargets(g, i === 0 ? null : (g.key.service as string), config.targets),
  );

  return {
    nowMs: input.nowMs,
    historyWindow: history.byService.window,
    alertWindow,
    decisions: [...disables, ...warns, ...alerts, ...piles],
    targets,
  };
}

/** The judgement of one success-rate rule over one group, or `null` when it does not fire (or the sample is small). */
export function judgeSuccessRule(
  group: HealthGroupStats,
  rule: {
    readonly floor: number;
    readonly judge: WilsonJudge;
    readonly confidence: number;
    readonly minSample: number;
  },
): HealthRateJudgement | null {
  const n = group.decided;
  if (n === 0 || n < rule.minSample) return null;
  const interval = wilson(group.received, n, rule.confidence);
  const value = judgedValue(interval, rule.judge);
  if (!(value < rule.floor)) return null;
  return {
    successes: group.received,
    n,
    interval,
    judge: rule.judge,
    confidence: rule.confidence,
    value,
    floor: rule.floor,
  };
}

/**
 * The densest pile of cancel ages: the window of `2 × toleranceSeconds + 1` whole seconds holding the most
 * cancels. Returned when it holds at least `share` of them and there are at least `minSample` cancels.
 */
export function findCancelPileUp(
  bins: readonly HealthSecondsBin[],
  rule: { readonly share: number; readonly toleranceSeconds: number; readonly minSample: number },
): { fromSeconds: number; toSeconds: number; modeSeconds: number; share: HealthShare } | null {
  let total = 0;
  for (const b of bins) total += b.count;
  if (total === 0 || total < rule.minSample) return null;
  const width = 2 * rule.toleranceSeconds;
  let best = -1;
  let bestFrom = 0;
  let bestTo = 0;
  let inWindow = 0;
  let j = 0;
  for (let i = 0; i < bins.length; i++) {
    const start = (bins[i] as HealthSecondsBin).seconds;
    while (j < bins.length && (bins[j] as HealthSecondsBin).seconds <= start + width) {
      inWindow += (bins[j] as HealthSecondsBin).count;
      j++;
    }
    if (inWindow > best) {
      best = inWindow;
      bestFrom = i;
      bestTo = j - 1;
    }
    inWindow -= (bins[i] as HealthSecondsBin).count;
  }
  if (best / total < rule.share) return null;
  let mode = bins[bestFrom] as HealthSecondsBin;
  for (let k = bestFrom + 1; k <= bestTo; k++) {
    const b = bins[k] as HealthSecondsBin;
    if (b.count > mode.count) mode = b;
  }
  return {
    fromSeconds: (bins[bestFrom] as HealthSecondsBin).seconds,
    toSeconds: (bins[bestTo] as HealthSecondsBin).seconds,
    modeSeconds: mode.seconds,
    share: { numerator: best, denominator: total },
  };
}

/** Checks a group's outcome shares against the targets. */
export function checkHealthTargets(
  group: HealthGroupStats,
  service: string | null,
  targets: HealthPolicyConfig["targets"],
): HealthTargetRow {
  const specs = [
    ["success", "above", targets.successAbove, group.shares.received],
    ["cancel", "below", targets.cancelBelow, group.shares.cancelled],
    ["timeout", "below", targets.timeoutBelow, group.shares.timeout],
    ["expired", "below", targets.expiredBelow, group.shares.expired],
  ] as const;
  const checks = specs.map(([metric, direction, target, share]): HealthTargetCheck => {
    const interval = wilson(share.numerator, share.denominator, targets.confidence);
    let status: HealthTargetStatus;
    if (share.denominator === 0 || share.denominator < targets.minSample) status = "insufficient_sample";
    else if (targets.judge === "point") {
      const met = direction === "above" ? interval.point > target : interval.point < target;
      status = met ? "met" : "missed";
    } else if (direction === "above") {
      status = interval.lower > target ? "met" : interval.upper <= target ? "missed" : "uncertain";
    } else {
      status = interval.upper < target ? "met" : interval.lower >= target ? "missed" : "uncertain";
    }
    return { metric, direction, target, share, interval, status };
  });
  return { service, decided: group.decided, checks };
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function scopeKey(scope: HealthRateScope, g: HealthGroupStats): string {
  return scope === "service" ? `s\u0000${g.key.service}` : `p\u0000${g.key.service}\u0000${g.key.country}`;
}

function describe(scope: HealthRateScope, g: HealthGroupStats): string {
  return scope === "service" ? `service ${g.key.service}` : `service ${g.key.service} in ${g.key.country}`;
}

function describeJudgement(j: HealthRateJudgement, rule: string): string {
  const what = j.judge === "point" ? "success" : `success ${j.judge} bound`;
  return (
    `${what} ${formatHealthPercent(j.value)} (${j.successes}/${j.n} at ${formatHealthPercent(j.confidence)}) ` +
    `is below the ${rule} floor ${formatHealthPercent(j.floor)}`
  );
}

function hoursLabel(ms: number): string {
  const hours = ms / 3_600_000;
  return Number.isInteger(hours) ? `${hours} h` : `${ms} ms`;
}

/** Formats a fraction as a percentage with one decimal (for reasons and reports). */
export function formatHealthPercent(fraction: number): string {
  return `${(Math.round(fraction * 1000) / 10).toFixed(1)} %`;
}
