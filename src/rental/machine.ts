import { err, ok, type Result } from "neverthrow";
import { errors, type TransitionNotAllowed } from "../core/errors.js";
import { invariant } from "../core/invariant.js";
import { canTransition, diagramOf, isTerminalIn } from "../core/machine.js";
import type { RentalPeriod, RentalRecord, RentalState } from "../core/records.js";
import type { RefundPolicy, RentalOutcome } from "../policy/refund.js";

/**
 * The rental transition table. A rental's money stays frozen while it is active: one open hold per paid period
 * (the first period and each extension), all resolved when it ends.
 */
export const rentalTransitions = {
  pending: { issued: ["active"], purchase_failed: ["failed"] },
  active: {
    extend_requested: ["active"],
    extend_confirmed: ["active"],
    extend_failed: ["active"],
    sms: ["active"],
    cancel: ["cancelled", "finished"],
    finish: ["finished"],
    end: ["expired"],
    revoke: ["revoked"],
  },
  cancelled: {},
  finished: {},
  expired: {},
  revoked: {},
  failed: {},
} as const satisfies Record<RentalState, Record<string, readonly RentalState[]>>;

/** Events of the rental machine. */
export type RentalEvent =
  | {
      readonly type: "issued";
      readonly providerRentalId: string;
      readonly phone: string;
      readonly endsAtMs: number;
      readonly costMinor: number | null;
    }
  | { readonly type: "purchase_failed"; readonly reason: string }
  | {
      readonly type: "extend_requested";
      readonly holdId: string;
      readonly hours: number;
      readonly priceMinor: number;
    }
  | {
      readonly type: "extend_confirmed";
      readonly holdId: string;
      readonly endsAtMs: number;
      readonly costMinor: number | null;
    }
  | { readonly type: "extend_failed"; readonly holdId: string; readonly reason: string }
  | { readonly type: "sms"; readonly count: number }
  /**
   * The customer cancels: within the refund window a cancel, after it an early finish. `refunded` carries the
   * decision the provider call was made on (the window may close while that call is in flight); without it the
   * window is judged at the transition's time.
   */
  | { readonly type: "cancel"; readonly refunded?: boolean }
  | { readonly type: "finish" }
  /** The sweeper closes a rental whose end has passed. */
  | { readonly type: "end" }
  | { readonly type: "revoke" };

/** Money effects of a rental transition. */
export type RentalEffect = {
  readonly type: "hold.settle";
  readonly holdId: string;
  readonly amountMinor: number;
};

/** What the rental machine needs besides the record and the event. */
export interface RentalContext {
  readonly nowMs: number;
  readonly policy: RefundPolicy;
  /** The provider's refund window from the start of a rental. */
  readonly rentRefundWindowMs: number;
}

/** Whether the rental's state accepts the event. */
export function canRental(state: RentalState, event: RentalEvent["type"]): boolean {
  return canTransition(rentalTransitions, state, event);
}

/** Whether the rental state is terminal. */
export function isRentalTerminal(state: RentalState): boolean {
  return isTerminalIn(rentalTransitions, state);
}

/** A Mermaid diagram of the rental machine. */
export const rentalDiagram: string = diagramOf(rentalTransitions);

/** Whether a cancel now is a refunded cancel (inside the window) rather than an early finish. */
export function isWithinRefundWindow(r: RentalRecord, nowMs: number, rentRefundWindowMs: number): boolean {
  return r.startedAtMs !== null && nowMs < r.startedAtMs + rentRefundWindowMs;
}

/** The pure transition function of a rental. */
export function transitionRental(
  r: RentalRecord,
  event: RentalEvent,
  ctx: RentalContext,
): Result<{ next: RentalRecord; effects: readonly RentalEffect[] }, TransitionNotAllowed> {
  if (!canRental(r.state, event.type)) return err(errors.transitionNotAllowed(r.state, event.type));
  const now = ctx.nowMs;
  switch (event.type) {
    case "issued":
      return ok({
        next: {
          ...r,
          state: "active",
          providerRentalId: event.providerRentalId,
          phone: event.phone,
          costMinor: event.costMinor,
          startedAtMs: now,
          endsAtMs: event.endsAtMs,
          periods: r.periods.map((p) => ({ ...p, state: "paid" as const })),
        },
        effects: [],
      });
    case "purchase_failed":
      return end(r, "failed", ctx, { failureReason: event.reason });
    case "extend_requested": {
      const period: RentalPeriod = {
        holdId: event.holdId,
        hours: event.hours,
        priceMinor: event.priceMinor,
        state: "pending",
      };
      return ok({ next: { ...r, periods: [...r.periods, period] }, effects: [] });
    }
    case "extend_confirmed": {
      const period = r.periods.find((p) => p.holdId === event.holdId);
      if (period?.state !== "pending") return err(errors.transitionNotAllowed(r.state, event.type));
      return ok({
        next: {
          ...r,
          endsAtMs: Math.max(event.endsAtMs, r.endsAtMs ?? 0),
          priceMinor: r.priceMinor + period.priceMinor,
          costMinor:
            r.costMinor === null || event.costMinor === null ? r.costMinor : r.costMinor + event.costMinor,
          periods: r.periods.map((p) => (p.holdId === event.holdId ? { ...p, state: "paid" as const } : p)),
        },
        effects: [],
      });
    }
    case "extend_failed": {
      const period = r.periods.find((p) => p.holdId === event.holdId);
      if (period?.state !== "pending") return err(errors.transitionNotAllowed(r.state, event.type));
      return ok({
        next: {
          ...r,
          periods: r.periods.map((p) =>
            p.holdId === event.holdId ? { ...p, state: "failed" as const, failureReason: event.reason } : p,
          ),
        },
        effects: [{ type: "hold.settle", holdId: event.holdId, amountMinor: 0 }],
      });
    }
    case "sms":
      return ok({ next: { ...r, messageCount: r.messageCount + event.count }, effects: [] });
    case "cancel":
      return (event.refunded ?? isWithinRefundWindow(r, now, ctx.rentRefundWindowMs))
        ? end(r, "cancelled", ctx)
        : end(r, "finished", ctx);
    case "finish":
      return end(r, "finished", ctx);
    case "end":
      if (r.endsAtMs === null || now < r.endsAtMs) return err(errors.transitionNotAllowed(r.state, "end"));
      return end(r, "expired", ctx);
    case "revoke":
      return end(r, "revoked", ctx);
  }
}

/**
 * Ends a rental: the policy decides how much of the held money settles; it is taken from the paid periods in
 * order (the first period first), the rest of each hold is released, and periods still pending are released.
 */
function end(
  r: RentalRecord,
  outcome: RentalOutcome,
  ctx: RentalContext,
  patch: Partial<RentalRecord> = {},
): Result<{ next: RentalRecord; effects: readonly RentalEffect[] }, TransitionNotAllowed> {
  const paid = outcome === "failed" ? [] : r.periods.filter((p) => p.state === "paid");
  const heldMinor = paid.reduce((sum, p) => sum + p.priceMinor, 0);
  const next: RentalRecord = { ...r, ...patch, state: outcome, endedAtMs: ctx.nowMs };
  const decision = ctx.policy.rental(next, outcome, ctx.nowMs, heldMinor);
  invariant(
    decision.settleMinor >= 0 &&
      decision.settleMinor <= heldMinor &&
      decision.settleMinor + decision.releaseMinor === heldMinor,
    `refund policy decided ${decision.settleMinor} + ${decision.releaseMinor} of ${heldMinor}`,
  );
  let toSettle = decision.settleMinor;
  const effects: RentalEffect[] = [];
  for (const p of r.periods) {
    if (p.state === "failed") continue;
    const amountMinor = p.state === "paid" && outcome !== "failed" ? Math.min(p.priceMinor, toSettle) : 0;
    toSettle -= amountMinor;
    effects.push({ type: "hold.settle", holdId: p.holdId, amountMinor });
  }
  return ok({
    next: {
      ...next,
      periods: r.periods.map((p) => (p.state === "pending" ? { ...p, state: "failed" as const } : p)),
    },
    effects,
  });
}
