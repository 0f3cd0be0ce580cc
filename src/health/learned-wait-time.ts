/**
 * A wait-time policy learned from the activation records (see `docs/wait-times.md`): per service × country it picks,
 * from candidate waits, the one that does best on a configurable objective, judged on Kaplan–Meier time-to-code
 * curves. A small share of activations keeps waiting the whole window, so the curves stay known beyond the wait
 * chosen (waits are nested: a wait of T shows the outcome of every shorter wait).
 */
import { err, ok, type Result } from "neverthrow";
import * as z from "zod";
import { errors, type InvalidInput, issuesFromZod } from "../core/errors.js";
import type { ActivationRecord } from "../core/records.js";
import { assignmentPoint } from "../policy/experiment.js";
import type { WaitTimeDecision, WaitTimePolicy, WaitTimeQuery } from "../policy/wait-time.js";
import {
  type CodeByEstimate,
  codeWithin,
  type KaplanMeierCurve,
  survivalAt,
  timeToCodeCurves,
} from "./time-to-code.js";

const MINUTE = 60_000;

/**
 * What the learned policy optimises.
 * - `success_within_patience` (the default): the chance that the customer's purchase gets a code within their
 *   patience, waiting `w` here and, if none came, retrying once on the next country for what patience is left.
 * - `cost_per_success`: expected money per successful purchase, counting the price paid for a code and
 *   `minuteCostMinor` for every minute the customer's money is frozen waiting.
 */
export type WaitObjective =
  | { readonly type: "success_within_patience"; readonly patienceMs?: number }
  | { readonly type: "cost_per_success"; readonly minuteCostMinor: number };

/** Options of {@link createLearnedWaitTime}. */
export interface LearnedWaitTimeOptions {
  /** Candidate waits (ms). Default 2, 3, 4, 5, 6, 8, 10, 12, 15 and 20 minutes. */
  readonly candidatesMs?: readonly number[];
  /** Default `success_within_patience` with 20 minutes of patience (the platform's customers wait the limit). */
  readonly objective?: WaitObjective;
  /** The provider's lifetime the candidates are judged against (default 20 minutes; each decision clamps again). */
  readonly lifetimeMs?: number;
  /** The provider's early-cancel window (default 2 minutes): no candidate is shorter. */
  readonly earlyCancelWindowMs?: number;
  /**
   * Where a purchase that got no code is retried (the router's next country), `undefined` for none. Without it a
   * shorter wait can only lose chances, so the success objective keeps the lifetime.
   */
  readonly nextCountry?: (service: string, country: string) => string | undefined;
  /** An activation that will not be retried again (default: the query's `retryOf` is set; ids are opaque). */
  readonly isRetry?: (query: WaitTimeQuery) => boolean;
  /**
   * Codes or waits a pair needs before its own wait is shortened (default 50); fewer: the lifetime. The retry's
   * country needs no minimum: its chance is taken at the lower bound of its band, which a thin history keeps low.
   */
  readonly minObservations?: number;
  /** The share that waits the whole window (default 0.1) and the experiment id recorded (`wait-explore`). */
  readonly explore?: { readonly share: number; readonly id?: string };
}

/** How one candidate wait did for a pair. */
export interface CandidateWait {
  readonly waitMs: number;
  /** The chance of a code here within the wait. */
  readonly codeWithin: CodeByEstimate;
  /** The objective's value: a success chance (higher is better) or a cost per success (lower is better). */
  readonly value: number;
}

/** The wait chosen for one service × country, and why. */
export interface WaitChoice {
  readonly service: string;
  readonly country: string;
  readonly waitMs: number;
  /** `learned`: the best candidate; `too_few`: not enough evidence yet, the lifetime. */
  readonly reason: "learned" | "too_few";
  readonly observations: number;
  readonly candidates: readonly CandidateWait[];
}

/** A learned wait-time policy and the table it decides from. */
export interface LearnedWaitTime extends WaitTimePolicy {
  readonly choices: readonly WaitChoice[];
  readonly exploreId: string;
}

const optionsSchema = z.object({
  candidatesMs: z.array(z.number().int().positive()).min(1).optional(),
  objective: z
    .discriminatedUnion("type", [
      z.object({
        type: z.literal("success_within_patience"),
        patienceMs: z.number().int().positive().optional(),
      }),
      z.object({ type: z.literal("cost_per_success"), minuteCostMinor: z.number().nonnegative().finite() }),
    ])
    .optional(),
  lifetimeMs: z.number().int().positive().optional(),
  earlyCancelWindowMs: z.number().int().nonnegative().optional(),
  minObservations: z.number().int().nonnegative().optional(),
  explore: z.object({ share: z.number().min(0).max(1), id: z.string().min(1).optional() }).optional(),
});

/** Restricted mean of `S` up to `t`: the expected minutes an activation waits here when it waits at most `t`. */
function meanWaitMs(curve: KaplanMeierCurve, t: number): number {
  let area = 0;
  let last = 0;
  let s = 1;
  for (const step of curve.steps) {
    if (step.timeMs >= t) break;
    area += s * (step.timeMs - last);
    last = step.timeMs;
    s = step.survival;
  }
  return area + s * (t - last);
}

/**
 * Learns a wait per service × country from the records (pure: build it again as records accumulate, as the gate
 * is). Each pair's candidates are judged on its Kaplan–Meier curve; pairs with fewer than `minObservations` waits
 * keep the lifetime. A share `explore.share` of activations (by a hash of their id) always waits the lifetime and is
 * recorded as arm `full` of experiment `explore.id`, the rest as arm `learned`: the full waits keep every candidate
 * evaluated, and the two arms are an A/B test of the policy itself.
 */
export function createLearnedWaitTime(
  records: readonly ActivationRecord[],
  options: LearnedWaitTimeOptions = {},
): Result<LearnedWaitTime, InvalidInput> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) return err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
  const lifetimeMs = options.lifetimeMs ?? 20 * MINUTE;
  const earlyMs = options.earlyCancelWindowMs ?? 2 * MINUTE;
  const objective: WaitObjective = options.objective ?? { type: "success_within_patience" };
  const minObservations = options.minObservations ?? 50;
  const exploreShare = options.explore?.share ?? 0.1;
  const exploreId = options.explore?.id ?? "wait-explore";
  const candidates = [
    ...new Set(
      (options.candidatesMs ?? [2, 3, 4, 5, 6, 8, 10, 12, 15, 20].map((m) => m * MINUTE)).map((c) =>
        Math.min(lifetimeMs, Math.max(earlyMs, c)),
      ),
    ),
  ].sort((a, b) => a - b);
  if (!candidates.includes(lifetimeMs)) candidates.push(lifetimeMs);

  const groups = timeToCodeCurves(records);
  const curveOf = new Map(groups.map((g) => [`${g.service}\u0000${g.country}`, g.curve]));
  const priceOf = new Map<string, number>();
  {
    const sums = new Map<string, { s: number; n: number }>();
    for (const a of records) {
      const k = `${a.service ?? a.serviceCode}\u0000${a.country ?? a.countryCode}`;
      const acc = sums.get(k) ?? { s: 0, n: 0 };
      acc.s += a.priceMinor;
      acc.n += 1;
      sums.set(k, acc);
    }
    for (const [k, v] of sums) priceOf.set(k, v.s / v.n);
  }

  const choices: WaitChoice[] = [];
  for (const g of groups) {
    const service = g.service ?? "";
    const country = g.country ?? "";
    const here = g.curve;
    const next = options.nextCountry?.(service, country);
    const nextCurve = next === undefined ? undefined : curveOf.get(`${service}\u0000${next}`);
    const usableNext = nextCurve !== undefined && nextCurve.n > 0 ? nextCurve : undefined;
    const priceHere = priceOf.get(`${service}\u0000${country}`) ?? 0;
    const priceNext = next === undefined ? 0 : (priceOf.get(`${service}\u0000${next}`) ?? 0);
    const judged: CandidateWait[] = candidates.map((w) => {
      const pHere = 1 - survivalAt(here, w);
      const patience =
        objective.type === "success_within_patience" ? (objective.patienceMs ?? lifetimeMs) : lifetimeMs;
      const left = Math.min(lifetimeMs, patience - w);
      // The retry is judged at its lower confidence bound: a country with little history promises little.
      const pNext = usableNext !== undefined && left >= earlyMs ? codeWithin(usableNext, left).lower : 0;
      const success = pHere + (1 - pHere) * pNext;
      let value = success;
      if (objective.type === "cost_per_success") {
        const minutes =
          (meanWaitMs(here, w) +
            (usableNext !== undefined && left >= earlyMs ? (1 - pHere) * meanWaitMs(usableNext, left) : 0)) /
          MINUTE;
        const paid = pHere * priceHere + (1 - pHere) * pNext * priceNext;
        value =
          success > 0 ? (paid + objective.minuteCostMinor * minutes) / success : Number.POSITIVE_INFINITY;
      }
      return { waitMs: w, codeWithin: codeWithin(here, w), value };
    });
    const enough = here.n >= minObservations;
    let best = lifetimeMs;
    if (enough) {
      // A shorter wait must do strictly better than the lifetime (today's behaviour); among equally good waits the
      // shortest wins, as it gives the customer a code (or the retry) sooner and frees their money earlier.
      const sign = objective.type === "cost_per_success" ? -1 : 1;
      const lifetimeValue = sign * judged.find((c) => c.waitMs === lifetimeMs)!.value;
      const top = Math.max(...judged.map((c) => sign * c.value));
      if (top > lifetimeValue + 1e-12) best = judged.find((c) => sign * c.value >= top - 1e-12)!.waitMs;
    }
    choices.push({
      service,
      country,
      waitMs: best,
      reason: enough ? "learned" : "too_few",
      observations: here.n,
      candidates: judged,
    });
  }
  const table = new Map(choices.map((c) => [`${c.service}\u0000${c.country}`, c]));
  const isRetry = options.isRetry ?? ((q: WaitTimeQuery) => q.retryOf != null);
  return ok({
    choices,
    exploreId,
    decide(q: WaitTimeQuery): WaitTimeDecision {
      // A retry is the last chance of its purchase: nothing comes after it, so it waits the whole window.
      if (isRetry(q)) return { waitMs: q.lifetimeMs };
      if (assignmentPoint(exploreId, q.activationId) < exploreShare)
        return { waitMs: q.lifetimeMs, experiment: { id: exploreId, arm: "full" } };
      const choice = table.get(`${q.service}\u0000${q.country}`);
      return {
        waitMs: Math.min(q.lifetimeMs, choice?.waitMs ?? q.lifetimeMs),
        experiment: { id: exploreId, arm: "learned" },
      };
    },
  });
}
