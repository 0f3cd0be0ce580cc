import { errAsync, type Result, ResultAsync } from "neverthrow";
import { type Clock, systemClock } from "../core/clock.js";
import {
  type ActivationNotFound,
  errors,
  type InvalidInput,
  type ProviderUnavailable,
  type RentalNotFound,
  type StorageFailure,
} from "../core/errors.js";
import type { ActivationRecord, RentalRecord } from "../core/records.js";
import {
  createPriceList,
  type PriceList,
  type PriceListEntry,
  type PriceListOptions,
  type PriceQuote,
  type PriceQuoteError,
} from "../policy/price-list.js";
import { defaultPricing, type PricingFunction } from "../policy/pricing.js";
import { defaultRefundPolicy, type RefundPolicy } from "../policy/refund.js";
import { providerLifetimeWaitTime, type WaitTimePolicy } from "../policy/wait-time.js";
import type { Provider } from "../provider/port.js";
import type { Storage } from "../storage/port.js";
import type { ActivationStepError, BuyActivationError, BuyActivationInput } from "./activation-ops.js";
import * as activations from "./activation-ops.js";
import type { CodeResolver, CountryRouter, FesContext, ServiceGate } from "./context.js";
import type { FesObserver } from "./observer.js";
import type { BuyRentalInput, RentalPurchaseError, RentalStepError } from "./rental-ops.js";
import * as rentals from "./rental-ops.js";
import { SweepBackoff, type SweepReport, sweep } from "./sweep.js";
import { walletOperations } from "./wallet-ops.js";

/** Configuration of {@link createFes}. Only the ports are required. */
export interface FesConfig {
  readonly storage: Storage;
  /** The one provider this service serves: its sweeper and every provider-facing step touch only its records. */
  readonly provider: Provider;
  /** Defaults to the system clock; tests pass a manual clock. */
  readonly clock?: Clock;
  /** Turns a provider quote into the customer price. Defaults to {@link defaultPricing} (no markup, 1:1). */
  readonly pricing?: PricingFunction;
  /** Decides settle/release/cashback when an activation or rental ends. */
  readonly policy?: RefundPolicy;
  /** Blocks purchases of disabled service×country pairs (`service_disabled`). */
  readonly gate?: ServiceGate;
  /** Orders the countries to try for `country: "auto"` and for the retry after a timeout. */
  readonly route?: CountryRouter;
  /** Resolves provider codes to canonical ids, recorded on every activation and rental. */
  readonly resolveCodes?: CodeResolver;
  /** How long an activation waits for its first code. Default: the provider's whole lifetime. */
  readonly waitTime?: WaitTimePolicy;
  /** Receives an event for every unit of work, provider call and sweep. */
  readonly observer?: FesObserver;
  /** The monotonic timer the observer's durations come from. Default `performance.now`. */
  readonly monotonicNow?: () => number;
  /** After a timeout, buy once more on the next best country (needs `route`). Default false. */
  readonly retryOnTimeout?: boolean;
  /** Age after which a `pending` purchase (or an end step whose answer was lost) is reconciled. Default 2 minutes. */
  readonly pendingGraceMs?: number;
  /** How long a decision that needs the provider waits while it cannot be read. Default 10 minutes. */
  readonly providerGraceMs?: number;
  /** How many records of each kind one sweep handles. Default 500. */
  readonly sweepBatchSize?: number;
  /**
   * The storefront's prices (`quote`, `priceList`): the customers' currency, how long a provider quote is reused and
   * the pairs listed. Without it `quote` and `priceList` answer `invalid_input`.
   */
  readonly prices?: Omit<PriceListOptions, "provider" | "pricing" | "clock">;
}

/** The wallet operations of the service (deposits, withdrawals, adjustments, manual holds, statements). */
export type WalletOperations = ReturnType<typeof walletOperations>;

/** Input of a call on one activation. */
export interface ActivationActionInput {
  readonly activationId: string;
  readonly idempotencyKey?: string;
  readonly actor?: string;
}

/** Input of a call on one rental. */
export interface RentalActionInput {
  readonly rentalId: string;
  readonly idempotencyKey?: string;
  readonly actor?: string;
}

/**
 * The FES service: every operation of the library over the given ports. Every method returns a `ResultAsync` with
 * the typed error union it declares; bad input is `invalid_input` and writes nothing. A provider-facing call on a
 * record of another provider is `provider_mismatch`; reads work for every record.
 */
export interface Fes extends WalletOperations {
  /** Buys an activation: freeze, buy upstream once, record the number (or the failure). */
  buyActivation(input: BuyActivationInput): ResultAsync<ActivationRecord, BuyActivationError>;
  /** The activation, or `activation_not_found`. */
  getActivation(activationId: string): ResultAsync<ActivationRecord, ActivationNotFound | StorageFailure>;
  /** Records a code from a poll or a webhook (duplicates ignored; a late code is recorded, never charged). */
  onCode(input: {
    activationId?: string;
    providerActivationId?: string;
    code: string;
    receivedAtMs?: number;
    actor?: string;
  }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>;
  /** Polls the provider for a code or an end. */
  pollActivation(
    activationId: string,
  ): ResultAsync<ActivationRecord, ActivationStepError | ProviderUnavailable>;
  /** Asks for another code on the same number (free). */
  requestAnotherCode(input: {
    activationId: string;
    actor?: string;
  }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>;
  /** Cancels an activation without a code (a code in flight wins). */
  cancelActivation(
    input: ActivationActionInput,
  ): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>;
  /** Finishes a received activation. */
  finishActivation(input: {
    activationId: string;
    actor?: string;
  }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError>;
  /** Rents a number for `hours` (within the provider's `rentHours`); the price stays frozen until it ends. */
  buyRental(input: BuyRentalInput): ResultAsync<RentalRecord, RentalPurchaseError>;
  /** The rental, or `rental_not_found`. */
  getRental(rentalId: string): ResultAsync<RentalRecord, RentalNotFound | StorageFailure>;
  /** Extends an active rental by `hours` (within the provider's `extendHours`), as a purchase. */
  extendRental(input: {
    rentalId: string;
    hours: number;
    idempotencyKey: string;
    actor?: string;
  }): ResultAsync<RentalRecord, RentalPurchaseError>;
  /** Cancels a rental: released inside the refund window, else an early finish. */
  cancelRental(
    input: RentalActionInput,
  ): ResultAsync<RentalRecord, InvalidInput | RentalStepError | ProviderUnavailable>;
  /** Ends a rental early (settled in full or pro rata by policy). */
  finishRental(
    input: RentalActionInput,
  ): ResultAsync<RentalRecord, InvalidInput | RentalStepError | ProviderUnavailable>;
  /** Polls the provider: messages seen, and an end the provider made on its own. */
  syncRental(rentalId: string): ResultAsync<RentalRecord, RentalStepError | ProviderUnavailable>;
  /** One sweep over this provider's due records; every item isolated, failures listed in the report. */
  sweep(): ResultAsync<SweepReport, StorageFailure>;
  /** The customer price of one activation before purchase (the platform's pricing over a cached provider quote). */
  quote(query: { service: string; country: string }): ResultAsync<PriceQuote, PriceQuoteError>;
  /** The customer prices of `pairs` (default: `prices.pairs`); a pair the provider cannot price carries its error. */
  priceList(
    pairs?: readonly { service: string; country: string }[],
  ): ResultAsync<readonly PriceListEntry[], InvalidInput>;
}

/** The default monotonic timer: `performance.now` where the platform has it. */
const defaultMonotonicNow = (): number => globalThis.performance?.now() ?? Date.now();

/** Wraps a promised `Result` into the `ResultAsync` the public methods return. */
const async = <T, E>(p: Promise<Result<T, E>>): ResultAsync<T, E> => new ResultAsync(p);

/**
 * The FES service over the given ports. Every method returns a `ResultAsync` with a typed error union; bad input is
 * rejected with `invalid_input` and writes nothing.
 */
export function createFes(config: FesConfig): Fes {
  const ctx: FesContext = {
    storage: config.storage,
    provider: config.provider,
    providerName: config.provider.capabilities.name,
    clock: config.clock ?? systemClock,
    pricing: config.pricing ?? defaultPricing,
    policy: config.policy ?? defaultRefundPolicy,
    gate: config.gate,
    route: config.route,
    resolveCodes: config.resolveCodes,
    waitTime: config.waitTime ?? providerLifetimeWaitTime,
    observer: config.observer,
    monotonicNow: config.monotonicNow ?? defaultMonotonicNow,
    pendingGraceMs: config.pendingGraceMs ?? 120_000,
    providerGraceMs: config.providerGraceMs ?? 600_000,
    retryOnTimeout: config.retryOnTimeout ?? false,
    sweepBatchSize: config.sweepBatchSize ?? 500,
  };
  const backoff = new SweepBackoff();
  const prices: PriceList =
    config.prices === undefined
      ? unpricedList
      : createPriceList({ ...config.prices, provider: ctx.provider, pricing: ctx.pricing, clock: ctx.clock });
  return {
    ...walletOperations(ctx),
    buyActivation: (input) => async(activations.buyActivation(ctx, input)),
    getActivation: (id) => async(activations.getActivation(ctx, id)),
    onCode: (input) => async(activations.onCode(ctx, input)),
    pollActivation: (id) => async(activations.pollActivation(ctx, id)),
    requestAnotherCode: (input) => async(activations.requestAnotherCode(ctx, input)),
    cancelActivation: (input) => async(activations.cancelActivation(ctx, input)),
    finishActivation: (input) => async(activations.finishActivation(ctx, input)),
    buyRental: (input) => async(rentals.buyRental(ctx, input)),
    getRental: (id) => async(rentals.getRental(ctx, id)),
    extendRental: (input) => async(rentals.extendRental(ctx, input)),
    cancelRental: (input) => async(rentals.cancelRental(ctx, input)),
    finishRental: (input) => async(rentals.finishRental(ctx, input)),
    syncRental: (id) => async(rentals.syncRental(ctx, id)),
    sweep: () => async(sweep(ctx, backoff)),
    quote: (query) => prices.quote(query),
    priceList: (pairs) => prices.priceList(pairs),
  };
}

/** The price list of a service configured without `prices`. */
const unpricedList: PriceList = {
  quote: () => errAsync(noPrices()),
  priceList: () => errAsync(noPrices()),
};

function noPrices(): InvalidInput {
  return errors.invalidInput([
    { path: "", message: "prices are not configured: pass `prices: { currency }` to createFes" },
  ]);
}
