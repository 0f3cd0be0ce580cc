import { err, ok, type Result } from "neverthrow";
import { errors, type TooEarlyToCancel, type TransitionNotAllowed } from "../core/errors.js";
import { canTransition, diagramOf, isTerminalIn } from "../core/machine.js";
import type { ActivationRecord, ActivationState } from "../core/records.js";
import type { ActivationOutcome, RefundPolicy } from "../policy/refund.js";

/**
 * The activation transition table. Codes in a released state are accepted and lead back to the same state: a late
 * code is recorded, never charged.
 */
export const activationTransitions = {
  pending: { issued: ["waiting"], purchase_failed: ["failed"] },
  waiting: {
    // A code settles; one that reached the provider at or after our deadline is late: a timeout.
    code: ["received", "timeout"],
    cancel: ["cancelled"],
    deadline: ["timeout"],
    provider_ended: ["expired", "timeout"],
  },
  received: { code: ["received"], finish: ["received"], deadline: ["received"] },
  cancelled: { code: ["cancelled"] },
  timeout: { code: ["timeout"] },
  expired: { code: ["expired"] },
  failed: {},
} as const satisfies Record<ActivationState, Record<string, readonly ActivationState[]>>;

/** Events of the activation machine. */
export type ActivationEvent =
  | {
      readonly type: "issued";
      readonly providerActivationId: string;
      readonly phone: string;
      readonly costMinor: number | null;
      readonly deadlineAtMs: number;
      /** The experiment arm that chose the wait behind `deadlineAtMs`, recorded on the activation. */
      readonly experiment?: { readonly id: string; readonly arm: string };
    }
  | { readonly type: "purchase_failed"; readonly reason: string }
  /**
   * A code. `receivedAtMs` is when it reached the provider, when known: a code received at or after our deadline
   * is late (the activation times out and the code is recorded, never charged). Without it the code is taken as in
   * time — a code the provider still reports when polled arrived before it ended the activation.
   */
  | { readonly type: "code"; readonly code: string; readonly receivedAtMs?: number }
  /** A cancel; `reason` is recorded as the failure reason (`wait_time` when the wait-time policy ended it). */
  | { readonly type: "cancel"; readonly reason?: string }
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

/** Whether the activation's state accepts the event. */
export function canActivation(state: ActivationState, event: ActivationEvent["type"]): boolean {
  return canTransition(activationTransitions, state, event);
}

/** Whether the state is terminal for money (nothing more can move). */
export function isActivationTerminal(state: ActivationState): boolean {
  return isTerminalIn(activationTransitions, state);
}

/** A Mermaid diagram of the activation machine. */
export const activationDiagram: string = diagramOf(activationTransitions);

/**
 * The pure transition function. Returns the next record (version unchanged: the storage bumps it) and the money
 * effects, or a typed error. Money is decided by the refund policy when the activation ends.
 */
export function transitionActivation(
  a: ActivationRecord,
  event: ActivationEvent,
  ctx: ActivationContext,
): Result<{ next: ActivationRecord; effects: readonly ActivationEffect[] }, ActivationTransitionError> {
  if (!canActivation(a.state, event.type)) return err(errors.transitionNotAllowed(a.state, event.type));
  const now = ctx.nowMs;
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
      if (a.codes.includes(event.code) || a.lateCodes.includes(event.code))
        return ok({ next: a, effects: [] });
      if (a.state === "waiting") {
        const late =
          event.receivedAtMs !== undefined && a.deadlineAtMs !== null && event.receivedAtMs >= a.deadlineAtMs;
        if (late) {
          return end("timeout", { lateCodes: [event.code] }).map(({ next, effects }) => ({
            next,
            effects: [...effects, { type: "late_code" as const, code: event.code }],
          }));
        }
        return end("received", { codes: [event.code], firstCodeAtMs: event.receivedAtMs ?? now });
      }
      if (a.state === "received") return ok({ next: { ...a, codes: [...a.codes, event.code] }, effects: [] });
      return ok({
        next: { ...a, lateCodes: [...a.lateCodes, event.code] },
        effects: [{ type: "late_code", code: event.code }],
      });
    }
    case "cancel": {
      const allowedAt = (a.issuedAtMs ?? now) + ctx.earlyCancelWindowMs;
      if (now < allowedAt) return err(errors.tooEarlyToCancel(allowedAt - now));
      return end("cancelled", event.reason === undefined ? {} : { failureReason: event.reason });
    }
    case "finish":
      return ok({ next: { ...a, closedAtMs: a.closedAtMs ?? now }, effects: [] });
    case "deadline":
      if (a.deadlineAtMs === null || now < a.deadlineAtMs)
        return err(errors.transitionNotAllowed(a.state, "deadline"));
      if (a.state === "received") return ok({ next: { ...a, closedAtMs: a.closedAtMs ?? now }, effects: [] });
      return end("timeout");
    case "provider_ended":
      // Whoever closed it at or after our deadline, it is a timeout; before it, the provider expired it.
      return a.deadlineAtMs !== null && now >= a.deadlineAtMs
        ? end("timeout")
        : end("expired", { failureReason: event.reason });
  }
}
