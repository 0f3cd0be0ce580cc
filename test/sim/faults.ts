import type { Rng } from "./rng.js";

/**
 * Every fault kind the engine can inject. Each has a switch ({@link FaultSwitches}); per seed, each switched-on
 * kind gets a probability drawn from a swarm (sometimes none at all, sometimes often), so one run explores
 * different mixes instead of one average.
 */
export const faultKinds = [
  /** A process dies before a provider request leaves it. */
  "crashBeforeProvider",
  /** A process dies after the provider acted on an activation call (or a read), before it read the answer. */
  "crashAfterProvider",
  /**
   * A process dies with a rental step in flight: after the provider acted on a rental call (rent, extend, cancel,
   * finish), or at any crash point of a process while one of its rental commands runs. Off: crashes spare such
   * processes.
   */
  "crashAfterRentalProvider",
  /** A process dies before its unit of work commits. */
  "crashBeforeCommit",
  /** A process dies after its unit of work committed, before it saw the acknowledgement. */
  "crashAfterCommit",
  /** The store commits but the acknowledgement is lost: the caller sees an error. */
  "ambiguousCommit",
  /** The three commit faults above, on units of work that write a rental. */
  "rentalCommitFaults",
  /** Two end commands on one rental at once (a finish racing a cancel). */
  "rentalEndRace",
  /** The provider sold an activation but the answer was lost. */
  "lostPurchaseAnswer",
  /** The provider rented a number but the answer was lost. */
  "lostRentAnswer",
  /** The provider acted on an activation's cancel or finish but the answer was lost. */
  "lostEndAnswer",
  /** The provider acted on a rental's cancel or finish but the answer was lost. */
  "lostRentalEndAnswer",
  /** The provider extended a rental but the answer was lost. */
  "lostExtensionAnswer",
  /** The provider refuses a request before acting: rate limit, ban. */
  "refusedRequest",
  /** A code reaches the provider while our cancel is on its way. */
  "codeDuringCancel",
  /** A webhook arrives late (after the deadline). */
  "lateWebhook",
  /** A webhook is delivered twice. */
  "duplicateWebhook",
  /**
   * Past its lifetime, an activation that got a code reports `ended` (completed upstream) with its code, not the
   * `code` state.
   */
  "upstreamEndsWithCode",
  /** The provider cancels an activation on its own (no code, refunded upstream). */
  "upstreamCancelsActivation",
  /** The provider revokes a rental on its own. */
  "upstreamRevokesRental",
  /** The provider finishes a rental on its own before its end (no refund). */
  "upstreamFinishesRental",
  /** The provider cancels a rental on its own with a refund. */
  "upstreamCancelsRental",
  /** Stock runs out for a while. */
  "stockOut",
  /** Prices change between the quote and the purchase. */
  "priceChange",
  /** The provider's clock is ahead of or behind ours. */
  "clockSkew",
  /** Two providers (two upstreams, each served by its own processes) share one storage. */
  "twoProviders",
  /** The provider's list of active rentals carries no service or country (as SMS-Activate's `getRentList`). */
  "rentListWithoutService",
] as const;

/** One fault kind. */
export type FaultKind = (typeof faultKinds)[number];

/** Which fault kinds are on. */
export type FaultSwitches = Readonly<Record<FaultKind, boolean>>;

/** Every fault kind on. */
export const allFaultsOn: FaultSwitches = Object.fromEntries(faultKinds.map((k) => [k, true])) as Record<
  FaultKind,
  boolean
>;

/** The probability of each kind for one seed, where it applies (a call, a purchase, a webhook). */
export type FaultRates = Readonly<Record<FaultKind, number>>;

const ceilings: Readonly<Record<FaultKind, number>> = {
  crashBeforeProvider: 0.01,
  crashAfterProvider: 0.01,
  crashAfterRentalProvider: 0.02,
  crashBeforeCommit: 0.004,
  crashAfterCommit: 0.004,
  ambiguousCommit: 0.01,
  rentalCommitFaults: 1,
  rentalEndRace: 1,
  lostPurchaseAnswer: 0.05,
  lostRentAnswer: 0.05,
  lostEndAnswer: 0.05,
  lostRentalEndAnswer: 0.05,
  upstreamEndsWithCode: 1,
  lostExtensionAnswer: 0.05,
  refusedRequest: 0.05,
  codeDuringCancel: 0.3,
  lateWebhook: 0.1,
  duplicateWebhook: 0.3,
  upstreamCancelsActivation: 0.05,
  upstreamRevokesRental: 0.1,
  upstreamFinishesRental: 0.05,
  upstreamCancelsRental: 0.05,
  stockOut: 0.02,
  priceChange: 0.2,
  clockSkew: 1,
  twoProviders: 1,
  rentListWithoutService: 1,
};

/**
 * Draws the rates of one seed: per switched-on kind, none (one in five), a tenth of its ceiling, or its ceiling.
 * Kinds with a ceiling of 1 (topology and scope switches) are
 * on or off for the whole seed.
 */
export function drawRates(rng: Rng, switches: FaultSwitches): FaultRates {
  const out = {} as Record<FaultKind, number>;
  for (const k of faultKinds) {
    const r = rng.float();
    const ceiling = ceilings[k];
    out[k] = !switches[k]
      ? 0
      : r < 0.2
        ? 0
        : ceiling === 1
          ? r < 0.6
            ? 1
            : 0
          : r < 0.6
            ? ceiling / 10
            : ceiling;
  }
  return out;
}

/** No faults at all: the liveness phase. */
export const noFaults: FaultRates = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<
  FaultKind,
  number
>;
