/**
 * How long an activation waits for its first code before the service ends it (cancelling upstream first, then
 * releasing the customer's money). The core clamps every answer to [the provider's early-cancel window, the
 * provider's activation lifetime]; a wait equal to the lifetime is today's behaviour (the provider's timeout).
 */
export interface WaitTimePolicy {
  decide(query: WaitTimeQuery): WaitTimeDecision;
}

/** What a {@link WaitTimePolicy} is asked when a number is issued. */
export interface WaitTimeQuery {
  /** The activation's id: experiments assign arms from it, so the answer is stable across processes. */
  readonly activationId: string;
  readonly service: string;
  readonly country: string;
  readonly provider: string;
  readonly issuedAtMs: number;
  /** The provider's lifetime for this activation (its stated end minus issue time, or the capability). */
  readonly lifetimeMs: number;
  readonly earlyCancelWindowMs: number;
  /** The activation this one retries after a timeout, `null` (or absent) for a customer's own purchase. */
  readonly retryOf?: string | null;
}

/** A {@link WaitTimePolicy}'s answer. */
export interface WaitTimeDecision {
  /** How long to wait for the first code, from issue. */
  readonly waitMs: number;
  /** The experiment arm that chose this wait, when an experiment did. */
  readonly experiment?: { readonly id: string; readonly arm: string };
}

/** The `failureReason` of an activation the wait-time policy ended (cancelled upstream before its lifetime). */
export const WAIT_TIME_POLICY_REASON = "wait_time_policy";

/** The default: wait the provider's whole lifetime. */
export const providerLifetimeWaitTime: WaitTimePolicy = {
  decide: (q) => ({ waitMs: q.lifetimeMs }),
};
