import { err, ok, type Result } from "neverthrow";
import { errors, type TooEarlyToCancel, type TransitionNotAllowed } from "../core/errors.js";
import { canTransition, diagramOf, isTerminalIn, selectTransition } from "../core/machine.js";
import type { ActivationRecord, ActivationState, EndRequest } from "../core/records.js";
import type { ActivationOutcome, RefundPolicy } from "../policy/refund.js";

/**
 * The activation transition table, guards included (tried in order; an unguarded transition is the default).
 * `closed` is a received activation whose number stopped being usable (finished by the customer, or its deadline
 * passed): its money was decided when the code arrived, and it is stored as `received` with `closedAtMs` set.
 * Codes in a released state are accepted and lead back to the same state: a late code is recorded, never charged.
 */
export const activationTransitions = {
  pending: { issued: [{ target: "waiting" }], purchase_failed: [{ target: "failed" }] },
  waiting: {
    // A code settles; one that reached the provider at or after our deadline is late: a timeout.
    code: [{ target: "timeout", guard: "lateCode" }, { target: "received" }],
    cancel_requested: [{ target: "waiting" }],
    cancel: [{ target: "cancelled" }],
    // A cancel recorded before its answer was lost wins over the deadline and over the provider's own end.
    deadline: [
      { target: "cancelled", guard: "cancelRequested" },
      { target: "timeout", guard: "pastDeadline" },
    ],
    provider_ended: [
      { target: "cancelled", guard: "cancelRequested" },
      { target: "timeout", guard: "pastDeadline" },
      { target: "expired" },
    ],
  },
  received: {
    code: [{ target: "received" }],
    another_code: [{ target: "received" }],
    finish: [{ target: "closed" }],
    deadline: [{ target: "closed", guard: "pastDeadline" }],
  },
  closed: { code: [{ target: "closed" }] },
  cancelled: { code: [{ target: "cancelled" }] },
  timeout: { code: [{ target: "timeout" }] },
  expired: { code: [{ target: "expired" }] },
  failed: {},
} as const satisfies Record<
  ActivationMachineState,
  Record<string, readonly { readonly target: ActivationMachineState; readonly guard?: ActivationGuard }[]>
>;

/** The states of the activation machine: the stored states plus `closed` (see {@link activationTransitions}). */
export type ActivationMachineState = ActivationState | "closed";

/** The guards the activation table names. */
export type ActivationGuard = "lateCode" | "pastDeadline" | "cancelRequested";

/** Events of the activation machine. */
export type ActivationEvent =
  | {
      readonly type: "issued";
      readonly providerActivationId: string;
      readonly phone: string;
      readonly costMinor: number | null;
      readonly deadlineAtMs: number;
      /** The wait-time experiment arm that chose the deadline, when one did. */
      readonly experiment?: { readonly id: string; readonly arm: string };
    }
  | { readonly type: "purchase_failed"; readonly reason: string }
  /**
   * A code. `receivedAtMs` is when it reached the provider, when known: a code received at or after our deadline
   * is late (the activation times out and the code is recorded, never charged). Without it the code is taken as in
   * time — a code the provider still reports when polled arrived before it ended the activation.
   */
  | { readonly type: "code"; readonly code: string; readonly receivedAtMs?: number }
  /** A cancel is about to be asked of the provider: recorded first, so that a lost answer is decided from it. */
  | { readonly type: "cancel_requested"; readonly request: EndRequest }
  /** The provider cancelled it at our request; `reason` is recorded (e.g. `wait_time_policy`). */
  | { readonly type: "cancel"; readonly reason?: string }
  | { readonly type: "another_code" }
  | { readonly type: "finish" }
  | { readonly type: "deadline" }
  | { readonly type: "provider_ended"; readonly reason: string };

/** Money effects, run by the orchestration layer. */
export type ActivationEffect =
  | { readonly type: "hold.settle"; readonly holdId: string; readonly amountMinor: number }
  | { readonly type: "wallet.cashback"; readonly amountMinor: number }
  | { readonly type: "late_code"; readonly code: string };

/** What the machine needs besides the record and the event. */
export interface ActivationContext {
  readonly nowMs: number;
  readonly policy: RefundPolicy;
  /** The provider's early-cancel window. */
  readonly earlyCancelWindowMs: number;
}

/** Errors of {@link transitionActivation}. */
export type ActivationTransitionError = TransitionNotAllowed | TooEarlyToCancel;

/** The machine state of a stored activation: `closed` for a received one whose number stopped being usable. */
export function activationMachineState(
  a: Pick<ActivationRecord, "state" | "closedAtMs">,
): ActivationMachineState {
  return a.state === "received" && a.closedAtMs !== null ? "closed" : a.state;
}

/** Whether the activation's machine state accepts the event. */
export function canActivation(state: ActivationMachineState, event: ActivationEvent["type"]): boolean {
  return canTransition(activationTransitions, state, event);
}

/** Whether the state is terminal for money (nothing more can move). */
export function isActivationTerminal(state: ActivationMachineState): boolean {
  return isTerminalIn(activationTransitions, state, { closed: "received" });
}

/** A Mermaid diagram of the activation machine. */
export const activationDiagram: string = diagramOf(activationTransitions);

/** The guards of the table, judged on the record before the event. */
const guards: Record<
  ActivationGuard,
  (a: ActivationRecord, event: ActivationEvent, ctx: ActivationContext) => boolean
> = {
  lateCode: (a, e) =>
    e.type === "code" &&
    e.receivedAtMs !== undefined &&
    a.deadlineAtMs !== null &&
    e.receivedAtMs >= a.deadlineAtMs,
  pastDeadline: (a, _e, ctx) => a.deadlineAtMs !== null && ctx.nowMs >= a.deadlineAtMs,
  cancelRequested: (a) => a.endRequest != null,
};

/**
 * The pure transition function. Returns the next record (version unchanged: the storage bumps it) and the money
 * effects, or a typed error. The target is the table's: the first transition whose guard holds. Money is decided by
 * the refund policy when the activation ends.
 */
export function transitionActivation(
  a: ActivationRecord,
  event: ActivationEvent,
  ctx: ActivationContext,
): Result<{ next: ActivationRecord; effects: readonly ActivationEffect[] }, ActivationTransitionError> {
  const from = activationMachineState(a);
  const chosen = selectTransition(activationTransitions, from, event.type, (g) =>
    guards[g as ActivationGuard](a, event, ctx),
  );
  if (chosen === undefined) return err(errors.transitionNotAllowed(from, event.type));
  const target = chosen.target as ActivationMachineState;
  const now = ctx.nowMs;
  const same = ok({ next: a, effects: [] as readonly ActivationEffect[] });
  const end = (state: ActivationOutcome, patch: Partial<ActivationRecord> = {}) => {
    const ended = { ...a, ...patch, state, endedAtMs: now } satisfies ActivationRecord;
    const decision = ctx.policy.activation(ended, state, now);
    const effects: ActivationEffect[] = [
      { type: "hold.settle", holdId: a.holdId, amountMinor: decision.settleMinor },
    ];
    if (decision.cashbackMinor > 0 && a.cashbackMinor === 0) {
      effects.push({ type: "wallet.cashback", amountMinor: decision.cashbackMinor });
      return ok({ next: { ...ended, cashbackMinor: decision.cashbackMinor }, effects });
    }
    return ok({ next: ended, effects });
  };
  const close = () => ok({ next: { ...a, closedAtMs: a.closedAtMs ?? now }, effects: [] });
  const cancelled = (reason: string | undefined) =>
    end("cancelled", reason === undefined || reason === "customer" ? {} : { failureReason: reason });

  switch (event.type) {
    case "issued":
      return ok({
        next: {
          ...a,
          state: "waiting",
          providerActivationId: event.providerActivationId,
          phone: event.phone,
          costMinor: event.costMinor,
          issuedAtMs: now,
          deadlineAtMs: event.deadlineAtMs,
          ...(event.experiment === undefined
            ? {}
            : { experimentId: event.experiment.id, experimentArm: event.experiment.arm }),
        },
        effects: [],
      });
    case "purchase_failed":
      return end("failed", { failureReason: event.reason });
    case "code": {
      if (a.codes.includes(event.code) || a.lateCodes.includes(event.code)) return same;
      if (from === "waiting" && target === "timeout") {
        return end("timeout", { lateCodes: [event.code] }).map(({ next, effects }) => ({
          next,
          effects: [...effects, { type: "late_code" as const, code: event.code }],
        }));
      }
      if (from === "waiting") {
        return end("received", { codes: [event.code], firstCodeAtMs: event.receivedAtMs ?? now });
      }
      if (from === "received" || from === "closed")
        return ok({ next: { ...a, codes: [...a.codes, event.code] }, effects: [] });
      return ok({
        next: { ...a, lateCodes: [...a.lateCodes, event.code] },
        effects: [{ type: "late_code", code: event.code }],
      });
    }
    case "cancel_requested": {
      if (a.endRequest != null) return same;
      const allowedAt = (a.issuedAtMs ?? now) + ctx.earlyCancelWindowMs;
      if (now < allowedAt) return err(errors.tooEarlyToCancel(allowedAt - now));
      return ok({ next: { ...a, endRequest: event.request }, effects: [] });
    }
    case "cancel": {
      const allowedAt = (a.issuedAtMs ?? now) + ctx.earlyCancelWindowMs;
      if (a.endRequest == null && now < allowedAt) return err(errors.tooEarlyToCancel(allowedAt - now));
      return cancelled(event.reason ?? a.endRequest?.reason);
    }
    case "another_code":
      return same;
    case "finish":
      return close();
    case "deadline":
    case "provider_ended":
      if (target === "closed") return close();
      if (target === "cancelled") return cancelled(a.endRequest?.reason);
      if (target === "timeout") return end("timeout");
      return end("expired", { failureReason: event.type === "provider_ended" ? event.reason : "expired" });
  }
}
