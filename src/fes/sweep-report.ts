/** One item the sweep could not handle: its id and what went wrong (an error's `type`, or a thrown message). */
export interface SweepFailure {
  readonly id: string;
  readonly error: string;
}

/** A number found open upstream that no record owned and no pending purchase could claim, and how it was closed. */
export interface ClosedOrphan {
  readonly providerRentalId: string;
  /** `cancelled`: refunded upstream; `finished`: past the refund window, ended without one; `ended`: it was gone. */
  readonly closedAs: "cancelled" | "finished" | "ended";
  /** The purchases released as lost it could have been rented for (the evidence it is nobody's). */
  readonly releasedIds: readonly string[];
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
  /** Rentals open upstream that belonged to nobody (a purchase released as lost had rented them), now closed. */
  readonly closedOrphans: readonly ClosedOrphan[];
}
