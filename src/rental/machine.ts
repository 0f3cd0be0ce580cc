import { err, ok, type Result } from "neverthrow";
import { errors, type TransitionNotAllowed } from "../core/errors.js";
import { invariant } from "../core/invariant.js";
import { canTransition, diagramOf, isTerminalIn, selectTransition } from "../core/machine.js";
import type { EndRequest, RentalPeriod, RentalRecord, RentalState } from "../core/records.js";
import type { RefundPolicy, RentalOutcome } from "../policy/refund.js";

/**
 * The rental transition table, guards included (tried in order; an unguarded transition is the default). A
 * rental's money stays frozen while it is active: one open hold per paid period (the first period and each
 * extension), all resolved when it ends.
 */
export const rentalTransitions = {
  pending: { issued: [{ target: "active" }], purchase_failed: [{ target: "failed" }] },
  active: {
    extend_requested: [{ target: "active" }],
    extend_confirmed: [{ target: "active", guard: "periodPending" }],
    extend_failed: [{ target: "active", guard: "periodPending" }],
    periods_reconciled: [{ target: "active" }],
    observed: [{ target: "active" }],
    end_requested: [{ target: "active" }],
    cancel: [{ target: "cancelled", guard: "refunded" }, { target: "finished" }],
    finish: [{ target: "finished" }],
    end: [{ target: "expired", guard: "pastEnd" }],
    revoke: [{ target: "revoked" }],
  },
  cancelled: {},
  finished: {},
  expired: {},
  revoked: {},
  failed: {},
} as const satisfies Record<
  RentalState,
  Record<string, readonly { readonly target: RentalState; readonly guard?: RentalGuard }[]>
>;

/** The guards the rental table names. */
export type RentalGuard = "periodPending" | "refunded" | "pastEnd";

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
  /**
   * Extensions whose answers were lost, decided from the provider's own end: the `confirmed` periods happened
   * (their holds stay, settled when the rental ends), the `released` ones did not (their holds are released).
   */
  | {
      readonly type: "periods_reconciled";
      readonly confirmed: readonly string[];
      readonly released: readonly string[];
      readonly endsAtMs: number | null;
    }
  /** A poll saw the rental active upstream at `atMs`, with `messageCount` messages in all. */
  | { readonly type: "observed"; readonly messageCount: number; readonly atMs: number }
  /** A cancel or finish is about to be asked of the provider: recorded first (the first request wins). */
  | { readonly type: "end_requested"; readonly request: EndRequest }
  /**
   * Ended at the customer's request: refunded (the provider refunded the platform) is a cancel, otherwise an early
   * finish. `refunded` defaults to the recorded request's decision, else to the refund window at the
   * transition's time.
   */
  | { readonly type: "cancel"; readonly refunded?: boolean }
  /** Ended early; charged (by policy) up to `usedUntilMs`, by default the recorded request's time, else now. */
  | { readonly type: "finish"; readonly usedUntilMs?: number }
  /** The sweeper closes a rental whose end has passed. */
  | { readonly type: "end" }
  /** The provider took the number back; charged (by policy) up to `usedUntilMs`, by default the last moment known active. */
  | { readonly type: "revoke"; readonly usedUntilMs?: number };

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

/**
 * The last moment the rental is known to have been active: its start, the last poll or extension that saw it
 * active, never after now nor after its end. A revocation noticed late is charged up to this moment.
 */
export function lastKnownActiveMs(r: RentalRecord, nowMs: number): number {
  const seen = Math.max(r.startedAtMs ?? nowMs, r.lastActiveAtMs ?? 0);
  return Math.min(seen, nowMs, r.endsAtMs ?? nowMs);
}

const guards: Record<RentalGuard, (r: RentalRecord, event: RentalEvent, ctx: RentalContext) => boolean> = {
  periodPending: (r, e) =>
    (e.type === "extend_confirmed" || e.type === "extend_failed") &&
    r.periods.find((p) => p.holdId === e.holdId)?.state === "pending",
  refunded: (r, e, ctx) =>
    e.type === "cancel" &&
    (e.refunded ?? r.endRequest?.refunded ?? isWithinRefundWindow(r, ctx.nowMs, ctx.rentRefundWindowMs)),
  pastEnd: (r, _e, ctx) => r.endsAtMs !== null && ctx.nowMs >= r.endsAtMs,
};

/** The pure transition function of a rental. The target is the table's: the first transition whose guard holds. */
export function transitionRental(
  r: RentalRecord,
  event: RentalEvent,
  ctx: RentalContext,
): Result<{ next: RentalRecord; effects: readonly RentalEffect[] }, TransitionNotAllowed> {
  const chosen = selectTransition(rentalTransitions, r.state, event.type, (g) =>
    guards[g as RentalGuard](r, event, ctx),
  );
  if (chosen === undefined) return err(errors.transitionNotAllowed(r.state, event.type));
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
          lastActiveAtMs: now,
          periods: r.periods.map((p) => ({ ...p, state: "paid" as const })),
        },
        effects: [],
      });
    case "purchase_failed":
      return end(r, "failed", now, ctx, { failureReason: event.reason });
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
      const period = r.periods.find((p) => p.holdId === event.holdId)!;
      return ok({
        next: {
          ...r,
          // The end the paid periods account for: the provider's answer to this extension may already cover an
          // earlier one whose answer was lost, which is decided apart from the provider's own end.
          endsAtMs: r.endsAtMs === null ? event.endsAtMs : r.endsAtMs + period.hours * 3_600_000,
          lastActiveAtMs: Math.max(now, r.lastActiveAtMs ?? 0),
          priceMinor: r.priceMinor + period.priceMinor,
          costMinor:
            r.costMinor === null || event.costMinor === null ? r.costMinor : r.costMinor + event.costMinor,
          periods: r.periods.map((p) => (p.holdId === event.holdId ? { ...p, state: "paid" as const } : p)),
        },
        effects: [],
      });
    }
    case "extend_failed":
      return ok({
        next: {
          ...r,
          periods: r.periods.map((p) =>
            p.holdId === event.holdId ? { ...p, state: "failed" as const, failureReason: event.reason } : p,
          ),
        },
        effects: [{ type: "hold.settle", holdId: event.holdId, amountMinor: 0 }],
      });
    case "periods_reconciled": {
      const pending = (id: string) => r.periods.find((p) => p.holdId === id)?.state === "pending";
      if (![...event.confirmed, ...event.released].every(pending))
        return err(errors.transitionNotAllowed(r.state, event.type));
      const added = r.periods
        .filter((p) => event.confirmed.includes(p.holdId))
        .reduce((sum, p) => sum + p.priceMinor, 0);
      return ok({
        next: {
          ...r,
          endsAtMs: event.endsAtMs ?? r.endsAtMs,
          priceMinor: r.priceMinor + added,
          periods: r.periods.map((p) =>
            event.confirmed.includes(p.holdId)
              ? { ...p, state: "paid" as const }
              : event.released.includes(p.holdId)
                ? { ...p, state: "failed" as const, failureReason: "not_extended_upstream" }
                : p,
          ),
        },
        effects: event.released.map((holdId) => ({ type: "hold.settle" as const, holdId, amountMinor: 0 })),
      });
    }
    case "observed":
      return ok({
        next: {
          ...r,
          messageCount: Math.max(r.messageCount, event.messageCount),
          lastActiveAtMs: Math.max(event.atMs, r.lastActiveAtMs ?? 0),
        },
        effects: [],
      });
    case "end_requested":
      return ok({ next: r.endRequest == null ? { ...r, endRequest: event.request } : r, effects: [] });
    case "cancel":
      return chosen.target === "cancelled"
        ? end(r, "cancelled", now, ctx)
        : end(r, "finished", r.endRequest?.atMs ?? now, ctx);
    case "finish":
      return end(r, "finished", event.usedUntilMs ?? r.endRequest?.atMs ?? now, ctx);
    case "end":
      return end(r, "expired", now, ctx);
    case "revoke":
      return end(r, "revoked", event.usedUntilMs ?? lastKnownActiveMs(r, now), ctx);
  }
}

/**
 * Ends a rental: the policy decides how much of the held money settles, judged at `usedUntilMs` (the moment the
 * rental stopped being used: now, the recorded request's time, or the last moment it was known active); it is taken
 * from the paid periods in order (the first period first), the rest of each hold is released, and periods still
 * pending are released.
 */
function end(
  r: RentalRecord,
  outcome: RentalOutcome,
  usedUntilMs: number,
  ctx: RentalContext,
  patch: Partial<RentalRecord> = {},
): Result<{ next: RentalRecord; effects: readonly RentalEffect[] }, TransitionNotAllowed> {
  const paid = outcome === "failed" ? [] : r.periods.filter((p) => p.state === "paid");
  const heldMinor = paid.reduce((sum, p) => sum + p.priceMinor, 0);
  const next: RentalRecord = { ...r, ...patch, state: outcome, endedAtMs: ctx.nowMs };
  const decision = ctx.policy.rental(next, outcome, Math.min(usedUntilMs, ctx.nowMs), heldMinor);
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
