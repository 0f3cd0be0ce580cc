import type { Result } from "neverthrow";

/**
 * The provider port: what the core needs from an upstream seller of numbers. Prices are decimal strings in the
 * provider's currency (up to 4 decimals, e.g. `"0.025"`); the core converts them once with the pricing function.
 * Ids are strings. Methods resolve to a `Result`; a rejected promise is treated by the core as an `unknown`
 * failure (it may have happened).
 */
export interface Provider {
  /** What this provider can do and its timing rules. */
  readonly capabilities: ProviderCapabilities;

  /** Price and stock of an activation for a service×country (codes as the provider spells them). */
  quote(query: { service: string; country: string }): PromiseLike<ProviderResult<Quote>>;
  /**
   * Buys an activation. `orderId` is the platform's id for the purchase, sent upstream where supported so that a
   * lost answer can be matched in {@link Provider.listActiveActivations}. Never retried by the adapter: a lost
   * answer is an `unknown` failure.
   */
  buyActivation(order: {
    service: string;
    country: string;
    maxPrice?: string;
    orderId: string;
  }): PromiseLike<ProviderResult<IssuedActivation>>;
  /** The activation's status upstream. */
  getActivationStatus(providerActivationId: string): PromiseLike<ProviderResult<ActivationStatus>>;
  /** Asks for another code on the same number (free). */
  requestAnotherCode(providerActivationId: string): PromiseLike<ProviderResult<void>>;
  /**
   * Cancels an activation (refund upstream). Declines with `early_cancel` (and `retryAfterMs`) inside the
   * early-cancel window, and with `code_received` (and the codes) once a code arrived.
   */
  cancelActivation(providerActivationId: string): PromiseLike<ProviderResult<void>>;
  /** Finishes an activation after its code (the charge stands). */
  finishActivation(providerActivationId: string): PromiseLike<ProviderResult<void>>;
  /** Open activations upstream: how a purchase whose answer was lost is found. */
  listActiveActivations(): PromiseLike<ProviderResult<readonly ActiveActivation[]>>;

  /** Price and stock of a rental of `hours` hours. */
  quoteRental(query: { service: string; country: string; hours: number }): PromiseLike<ProviderResult<Quote>>;
  /** Rents a number for `hours` hours. Never retried by the adapter. */
  rent(order: {
    service: string;
    country: string;
    hours: number;
    orderId: string;
    webhookUrl?: string;
  }): PromiseLike<ProviderResult<IssuedRental>>;
  /** The rental's status and the messages received so far. */
  getRentalStatus(providerRentalId: string): PromiseLike<ProviderResult<RentalStatus>>;
  /**
   * Extends an active rental by `hours`. It spends money, so the adapter sends it exactly once: a lost answer is
   * an `unknown` failure (the extension may have been charged); `getRentalStatus` / `listActiveRentals` show the
   * provider's end afterwards.
   */
  extendRental(providerRentalId: string, hours: number): PromiseLike<ProviderResult<ExtendedRental>>;
  /** Cancels a rental with a refund upstream; declines with `refund_window_passed` after the window. */
  cancelRental(providerRentalId: string): PromiseLike<ProviderResult<void>>;
  /** Finishes a rental early (no refund). */
  finishRental(providerRentalId: string): PromiseLike<ProviderResult<void>>;
  /**
   * Open rentals upstream, for reconciliation. `endsAtMs` is the provider's own end (an extension made upstream
   * shows here), never a value an adapter remembered. `service` and `country` are `null` where the provider does
   * not list them (SMS-Activate's `getRentList` lists only id, phone and end): a reconciliation then matches on
   * the provider rental id when it knows it, else on the phone number together with an end no earlier than the
   * one it bought; it must not match on service or country, nor treat a rental missing from the list as ended
   * without asking `getRentalStatus`.
   */
  listActiveRentals(): PromiseLike<ProviderResult<readonly ActiveRental[]>>;
}

/** A provider call's outcome. */
export type ProviderResult<T> = Result<T, ProviderFailure>;

/** Timing rules and optional features of a provider. */
export interface ProviderCapabilities {
  /** Stable name recorded on every activation and rental, e.g. `hero-sms`. */
  readonly name: string;
  /** Cancelling is refused this long after a number is issued (2 minutes on the reference provider). */
  readonly earlyCancelWindowMs: number;
  /** Lifetime of an activation when the provider states no end time (20 minutes on the reference provider). */
  readonly activationLifetimeMs: number;
  /** A rental can be cancelled with a refund this long after it starts (20 minutes on the reference provider). */
  readonly rentRefundWindowMs: number;
  /** Whether `buyActivation` forwards `orderId` upstream (so reconciliation can match by it). */
  readonly supportsOrderId: boolean;
  readonly supportsAnotherCode: boolean;
  readonly supportsRent: boolean;
  /** Allowed rental durations in whole hours, inclusive (SMS-Activate and HeroSMS: 4–1344). */
  readonly rentHours: HoursRange;
  /** Allowed extension durations in whole hours, inclusive. */
  readonly extendHours: HoursRange;
}

/** An inclusive range of whole hours. */
export interface HoursRange {
  readonly min: number;
  readonly max: number;
}

/** A price quote: decimal price in the provider's currency and the stock available. */
export interface Quote {
  readonly price: string;
  readonly currency: string;
  readonly stock: number;
}

/** A number issued for an activation. */
export interface IssuedActivation {
  readonly providerActivationId: string;
  readonly phone: string;
  /** What the provider charged, decimal in its currency, when it says. */
  readonly cost: string | null;
  readonly currency: string | null;
  /** The provider's stated end time, epoch ms, when it gives one (authoritative deadline). */
  readonly endsAtMs: number | null;
  readonly canGetAnotherSms: boolean;
}

/**
 * The status of an activation upstream:
 * - `waiting`: no code yet;
 * - `waiting_retry`: another code was requested; `previousCode` is the last one seen, not a new code;
 * - `code`: a code arrived (`code` is the newest; kept as a string, may contain colons or leading zeros);
 * - `ended`: cancelled **or** completed upstream — it never by itself proves a refund. `code` is the newest code
 *   of an activation the provider completed, where the provider still shows it (a completed activation settles on
 *   it); absent when the provider shows none, or cannot tell a completed activation from a cancelled one.
 */
export type ActivationStatus =
  | { readonly state: "waiting" }
  | { readonly state: "waiting_retry"; readonly previousCode: string }
  | { readonly state: "code"; readonly code: string; readonly text: string | null }
  | { readonly state: "ended"; readonly code?: string };

/** An open activation as listed upstream. */
export interface ActiveActivation {
  readonly providerActivationId: string;
  readonly service: string;
  readonly country: string;
  readonly phone: string;
  readonly orderId: string | null;
  readonly codes: readonly string[];
  readonly cost: string | null;
  /** Epoch ms when the provider says it was bought, if it says so in a usable form. */
  readonly createdAtMs: number | null;
  readonly endsAtMs: number | null;
}

/** A number issued for a rental. */
export interface IssuedRental {
  readonly providerRentalId: string;
  readonly phone: string;
  readonly endsAtMs: number;
  readonly cost: string | null;
  readonly currency: string | null;
}

/** A rental's status upstream and the messages it received (oldest first). */
export interface RentalStatus {
  /**
   * - `active`: still running;
   * - `finished`: ended without a refund (finished early or expired);
   * - `cancelled`: cancelled with a refund upstream (inside the refund window);
   * - `revoked`: taken back by the provider.
   */
  readonly state: "active" | "finished" | "cancelled" | "revoked";
  /** The rental's end as the provider states it (epoch ms), when it says: moves with every extension upstream. */
  readonly endsAtMs: number | null;
  readonly messages: readonly RentalMessage[];
}

/** One SMS received on a rented number. */
export interface RentalMessage {
  readonly from: string;
  readonly text: string;
  readonly service: string | null;
  /** Epoch ms, when parseable. */
  readonly atMs: number | null;
}

/** The result of extending a rental. */
export interface ExtendedRental {
  readonly endsAtMs: number;
  readonly cost: string | null;
  /** Some providers re-order an ended rental under a new id. */
  readonly providerRentalId: string;
}

/** An open rental as listed upstream. */
export interface ActiveRental {
  readonly providerRentalId: string;
  readonly phone: string;
  readonly service: string | null;
  readonly country: string | null;
  readonly endsAtMs: number | null;
}

/** Why a provider declined: nothing happened upstream, so routing may try elsewhere or later. */
export type DeclineReason =
  | "no_numbers"
  | "price_too_low"
  | "service_unavailable"
  | "banned"
  | "too_many_numbers"
  | "no_balance"
  | "early_cancel"
  | "code_received"
  | "refund_window_passed"
  | "not_active"
  | "not_found"
  | "rent_expired"
  | "max_hours_exceeded"
  | "order_exists"
  | "unknown_service"
  | "invalid_duration";

/**
 * A classified failure:
 * - `declined`: definitely nothing happened upstream; `reason` says why, with the data it carries;
 * - `retryable`: transient and nothing was executed upstream (a rate limit, a block page, a refusal before
 *   acting): nothing was bought, so a purchase is not a failure; retry after `retryAfterMs`;
 * - `fatal`: a configuration or mapping bug (bad key, unknown service);
 * - `unknown`: it may have happened (timeout, 5xx, garbled answer after a buy): never blindly retried.
 */
export type ProviderFailure =
  | {
      readonly class: "declined";
      readonly reason: DeclineReason;
      /** `price_too_low`: the provider's minimum price (decimal string). */
      readonly minPrice?: string;
      /** `banned`: epoch ms until which the ban holds, when parseable. */
      readonly untilMs?: number;
      /** `early_cancel`: how long to wait. */
      readonly retryAfterMs?: number;
      /** `code_received`: the codes the provider reports. */
      readonly codes?: readonly string[];
      readonly detail?: string;
    }
  | {
      readonly class: "retryable";
      readonly reason: string;
      readonly retryAfterMs: number;
      /** What failed underneath, short and without secrets (`connect ECONNREFUSED 127.0.0.1:443`). */
      readonly detail?: string;
    }
  | { readonly class: "fatal"; readonly reason: string; readonly detail?: string }
  | { readonly class: "unknown"; readonly reason: string; readonly detail?: string };
