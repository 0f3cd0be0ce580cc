/** One item the sweep could not handle: its id and what went wrong (an error's `type`, or a thrown message). */
export interface SweepFailure {
  readonly id: string;
  readonly error: string;
}

/**
 * What one sweep did. Steps that lost a race to another worker are counted as `skipped`, not as errors. An item
 * that fails is reported in `failures` (id and error) and backed off; the others go on.
 */
export interface SweepReport {
  readonly timedOut: number;
  /** Activations past their deadline that turned out to have a code. */
  readonly receivedLate: number;
  /** Activations ended by a recorded cancel (a lost cancel step, or the wait-time policy). */
  readonly cancelled: number;
  readonly rentalsExpired: number;
  /** Pending purchases found upstream and moved on, and pending extensions decided from the provider's end. */
  readonly reconciled: number;
  /** Pending purchases not found upstream (or without enough evidence): released. */
  readonly releasedPending: number;
  readonly retried: number;
  /** Decisions that wait because the provider could not be read (bounded by `providerGraceMs`). */
  readonly deferred: number;
  /** Items skipped because an earlier failure backed them off. */
  readonly backedOff: number;
  readonly skipped: number;
  readonly errors: number;
  readonly failures: readonly SweepFailure[];
}
