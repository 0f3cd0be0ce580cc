/**
 * The test-control interface of a fake upstream. The in-process fake provider and the HTTP fake server both
 * implement it, so one provider conformance suite drives both. Methods may be synchronous or asynchronous;
 * callers always `await` them.
 */
export interface ProviderControl {
  /** The fake upstream's current time, epoch ms. */
  now(): number;
  /** Moves the fake upstream's clock forward; deadlines that pass end their activations and rentals upstream. */
  advance(ms: number): void | Promise<void>;
  /** Sets price (decimal string) and stock of activations for a service×country. */
  setStock(service: string, country: string, stock: { price: string; count: number }): void | Promise<void>;
  /** Sets price per hour (decimal string) and stock of rentals for a service×country. */
  setRentStock(
    service: string,
    country: string,
    stock: { pricePerHour: string; count: number },
  ): void | Promise<void>;
  /** Delivers a code to an issued activation (as the SMS arriving upstream). */
  deliverCode(providerActivationId: string, code: string, text?: string): void | Promise<void>;
  /** Delivers an SMS to a rented number. */
  deliverRentalSms(providerRentalId: string, sms: { from: string; text: string }): void | Promise<void>;
  /** Ends an activation upstream before its deadline without a code (number revoked, provider-side cancel). */
  endActivation(providerActivationId: string): void | Promise<void>;
  /** Takes a rented number back before its end (`STATUS_REVOKE`). */
  revokeRental(providerRentalId: string): void | Promise<void>;
  /** Queues a fault for the next matching call(s). */
  injectFault(fault: FaultSpec): void | Promise<void>;
  /** Removes all queued faults. */
  clearFaults(): void | Promise<void>;
  /** Activations the fake upstream has sold (for assertions): id, state and codes. */
  activations(): readonly FakeActivationView[] | Promise<readonly FakeActivationView[]>;
}

/** Operations a fault can target. */
export type FaultAction =
  | "quote"
  | "buyActivation"
  | "getActivationStatus"
  | "requestAnotherCode"
  | "cancelActivation"
  | "finishActivation"
  | "listActiveActivations"
  | "quoteRental"
  | "rent"
  | "getRentalStatus"
  | "extendRental"
  | "cancelRental"
  | "finishRental"
  | "listActiveRentals";

/**
 * A fault to inject:
 * - `no_numbers`, `banned`, `price_too_low`, `service_unavailable`: declined, nothing happens upstream;
 * - `retryable`: a transient error (rate limit, 503), nothing happens;
 * - `fatal`: bad key;
 * - `unknown_after_success`: the call really happens upstream, then its answer is lost (timeout / garbage);
 * - `unknown_before`: the answer is lost and nothing happened upstream;
 * - `code_during_cancel`: on `cancelActivation`, a code arrives just before the cancel is processed.
 */
export interface FaultSpec {
  readonly action: FaultAction;
  readonly kind:
    | "no_numbers"
    | "banned"
    | "price_too_low"
    | "service_unavailable"
    | "retryable"
    | "fatal"
    | "unknown_after_success"
    | "unknown_before"
    | "code_during_cancel";
  /** How many matching calls it affects (default 1). */
  readonly times?: number;
  /** For `code_during_cancel`: the code delivered. */
  readonly code?: string;
}

/** What the fake upstream knows about an activation. */
export interface FakeActivationView {
  readonly providerActivationId: string;
  readonly service: string;
  readonly country: string;
  readonly state: "waiting" | "code" | "cancelled" | "finished" | "expired";
  readonly codes: readonly string[];
  readonly orderId: string | null;
}
