import { type Clock, systemClock } from "../core/clock.js";
import { defaultPricing, type PricingFunction } from "../policy/pricing.js";
import { defaultRefundPolicy, type RefundPolicy } from "../policy/refund.js";
import type { WaitTimePolicy } from "../policy/wait-time.js";
import type { Provider } from "../provider/port.js";
import type { Storage } from "../storage/port.js";
import { activationOperations } from "./activation-ops.js";
import type { CodeResolver, CountryRouter, FesContext, ServiceGate } from "./context.js";
import { rentalOperations } from "./rental-ops.js";
import { sweeper } from "./sweep.js";
import { walletOperations } from "./wallet-ops.js";

/** Configuration of {@link createFes}. Only the ports are required. */
export interface FesConfig {
  readonly storage: Storage;
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
  /**
   * How long an activation waits for its first code, clamped to [early-cancel window, provider lifetime]. A shorter
   * wait ends with a cancel upstream first (`cancelled`, reason `wait_time`). Default: the provider's lifetime.
   */
  readonly waitTime?: WaitTimePolicy;
  /** After a timeout, buy once more on the next best country (needs `route`). Default false. */
  readonly retryOnTimeout?: boolean;
  /** Age after which a `pending` purchase is reconciled by the sweeper. Default 2 minutes. */
  readonly pendingGraceMs?: number;
  /** How many records of each kind one sweep handles. Default 500. */
  readonly sweepBatchSize?: number;
}

/**
 * The FES service: every operation of the library over the given ports. Every method returns a `ResultAsync`
 * with a typed error union; bad input is rejected with `invalid_input` and writes nothing.
 */
export function createFes(config: FesConfig) {
  const ctx: FesContext = {
    storage: config.storage,
    provider: config.provider,
    clock: config.clock ?? systemClock,
    pricing: config.pricing ?? defaultPricing,
    policy: config.policy ?? defaultRefundPolicy,
    gate: config.gate,
    route: config.route,
    resolveCodes: config.resolveCodes,
    waitTime: config.waitTime,
    pendingGraceMs: config.pendingGraceMs ?? 120_000,
    retryOnTimeout: config.retryOnTimeout ?? false,
    sweepBatchSize: config.sweepBatchSize ?? 500,
  };
  const wallets = walletOperations(ctx);
  const activations = activationOperations(ctx);
  const rentals = rentalOperations(ctx);
  const { step: _activationStep, load: getActivation, ...activationApi } = activations;
  const { step: _rentalStep, load: getRental, ...rentalApi } = rentals;
  return {
    ...wallets,
    ...activationApi,
    /** The activation, or `activation_not_found`. */
    getActivation,
    ...rentalApi,
    /** The rental, or `rental_not_found`. */
    getRental,
    ...sweeper(ctx, activations, rentals),
    /** The ports and settings in use (read-only). */
    context: ctx,
  };
}

/** The service object returned by {@link createFes}. */
export type Fes = ReturnType<typeof createFes>;
