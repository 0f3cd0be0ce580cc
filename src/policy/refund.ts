import { err, ok, type Result } from "neverthrow";
import * as z from "zod";
import { errors, type InvalidInput, issuesFromZod } from "../core/errors.js";
import type { ActivationRecord, RentalRecord } from "../core/records.js";

/** How an activation ended, as far as money is concerned. */
export type ActivationOutcome = "received" | "cancelled" | "timeout" | "expired" | "failed";

/** How a rental ended, as far as money is concerned. */
export type RentalOutcome = "cancelled" | "finished" | "expired" | "revoked" | "failed";

/** A money decision: `settleMinor + releaseMinor` equals what is held; cashback is paid from promotions. */
export interface MoneyDecision {
  readonly settleMinor: number;
  readonly releaseMinor: number;
  readonly cashbackMinor: number;
}

/** The refund policy: pure functions from an entity, its outcome and the time to a money decision. */
export interface RefundPolicy {
  /** What an ended activation settles, releases and pays back. */
  activation(activation: ActivationRecord, outcome: ActivationOutcome, nowMs: number): MoneyDecision;
  /** `heldMinor` is the sum of the rental's paid periods that are still held. */
  rental(rental: RentalRecord, outcome: RentalOutcome, nowMs: number, heldMinor: number): MoneyDecision;
}

/** Options of {@link createRefundPolicy}. */
export const refundPolicyOptionsSchema = z.object({
  /** Cashback on an activation that timed out, in percent of its price (0 = off, the default). */
  timeoutCashbackPercent: z.number().min(0).max(100).default(0),
  /** A rental ended by the customer after the refund window: charged in full, or pro rata of the time used. */
  rentalEarlyEnd: z.enum(["full", "pro_rata"]).default("full"),
  /** A rental the provider revoked: the unused part released (pro rata), or everything released. */
  rentalRevoked: z.enum(["pro_rata", "release_all"]).default("pro_rata"),
});

/** Options of {@link createRefundPolicy}, as a caller writes them. */
export type RefundPolicyOptions = z.input<typeof refundPolicyOptionsSchema>;

/**
 * The default policy of docs/design.md §3: success settles the price; cancel, timeout, expiry and failure release
 * everything; an optional cashback on timeout. Rentals settle in full when they expire, are released when cancelled
 * within the window, and are settled in full or pro rata when ended early or revoked. Amounts paid out round down.
 */
export function createRefundPolicy(options: RefundPolicyOptions = {}): Result<RefundPolicy, InvalidInput> {
  const parsed = refundPolicyOptionsSchema.safeParse(options);
  return parsed.success
    ? ok(policyFrom(parsed.data))
    : err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
}

/** The refund policy of validated options. */
function policyFrom(o: z.output<typeof refundPolicyOptionsSchema>): RefundPolicy {
  return {
    activation(activation, outcome) {
      const held = activation.priceMinor;
      if (outcome === "received") return { settleMinor: held, releaseMinor: 0, cashbackMinor: 0 };
      const cashbackMinor = outcome === "timeout" ? Math.floor((held * o.timeoutCashbackPercent) / 100) : 0;
      return { settleMinor: 0, releaseMinor: held, cashbackMinor };
    },
    rental(rental, outcome, nowMs, heldMinor) {
      const all = { settleMinor: heldMinor, releaseMinor: 0, cashbackMinor: 0 };
      const none = { settleMinor: 0, releaseMinor: heldMinor, cashbackMinor: 0 };
      switch (outcome) {
        case "expired":
          return all;
        case "cancelled":
        case "failed":
          return none;
        case "finished":
          return o.rentalEarlyEnd === "full" ? all : proRata(rental, nowMs, heldMinor);
        case "revoked":
          return o.rentalRevoked === "release_all" ? none : proRata(rental, nowMs, heldMinor);
      }
    },
  };
}

/** Settles the used share of the held money; the refund of the unused share rounds down. */
function proRata(rental: RentalRecord, nowMs: number, heldMinor: number): MoneyDecision {
  const start = rental.startedAtMs ?? nowMs;
  const end = rental.endsAtMs ?? nowMs;
  const total = end - start;
  const unused = Math.max(0, Math.min(total, end - nowMs));
  const releaseMinor = total <= 0 ? 0 : Number((BigInt(heldMinor) * BigInt(unused)) / BigInt(total));
  return { settleMinor: heldMinor - releaseMinor, releaseMinor, cashbackMinor: 0 };
}

/** The default refund policy (no cashback, rentals ended early charged in full, revoked rentals pro rata). */
export const defaultRefundPolicy: RefundPolicy = policyFrom(refundPolicyOptionsSchema.parse({}));
