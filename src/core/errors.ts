/**
 * Every expected failure of the library is a plain readonly object with a `type` discriminant, built by one
 * constructor each (so tests compare them with `toEqual`). Thrown exceptions are reserved for broken invariants.
 */

/** One problem found in an input, as reported by zod. */
export interface InputIssue {
  readonly path: string;
  readonly message: string;
}

/** The input failed validation; nothing was written. */
export type InvalidInput = { readonly type: "invalid_input"; readonly issues: readonly InputIssue[] };
/** No wallet has this id. */
export type WalletNotFound = { readonly type: "wallet_not_found"; readonly walletId: string };
/** `createWallet` for an id that exists with another currency. */
export type WalletExists = {
  readonly type: "wallet_exists";
  readonly walletId: string;
  readonly currency: string;
};
/** The call's currency is not the wallet's. */
export type CurrencyMismatch = {
  readonly type: "currency_mismatch";
  readonly expected: string;
  readonly actual: string;
};
/** A freeze or debit beyond `available` (existing holds counted). */
export type InsufficientFunds = {
  readonly type: "insufficient_funds";
  readonly walletId: string;
  readonly availableMinor: number;
  readonly requestedMinor: number;
};
/** The key was already used for another request. */
export type IdempotencyConflict = { readonly type: "idempotency_conflict"; readonly idempotencyKey: string };
/** No hold has this id. */
export type HoldNotFound = { readonly type: "hold_not_found"; readonly holdId: string };
/** A manual freeze for an operation that already has a hold. */
export type HoldExists = { readonly type: "hold_exists"; readonly holdId: string };
/** The hold was already settled or released. */
export type HoldNotOpen = { readonly type: "hold_not_open"; readonly holdId: string; readonly state: string };
/** Settling more than the hold holds. */
export type SettleExceedsHold = {
  readonly type: "settle_exceeds_hold";
  readonly holdId: string;
  readonly heldMinor: number;
  readonly requestedMinor: number;
};
/** Giving back more than was settled for the operation (earlier reversals counted). */
export type ReversalExceedsSettled = {
  readonly type: "reversal_exceeds_settled";
  readonly operationId: string;
  readonly settledMinor: number;
  readonly reversedMinor: number;
  readonly requestedMinor: number;
};
/** No activation has this id. */
export type ActivationNotFound = { readonly type: "activation_not_found"; readonly activationId: string };
/** No rental has this id. */
export type RentalNotFound = { readonly type: "rental_not_found"; readonly rentalId: string };
/** The event is not allowed in the current state. */
export type TransitionNotAllowed = {
  readonly type: "transition_not_allowed";
  readonly from: string;
  readonly event: string;
};
/** Inside the provider's early-cancel window; retry after `retryAfterMs`. */
export type TooEarlyToCancel = { readonly type: "too_early_to_cancel"; readonly retryAfterMs: number };
/** The health gate blocks this service × country. */
export type ServiceDisabled = {
  readonly type: "service_disabled";
  readonly service: string;
  readonly country: string;
  readonly reason: string;
};
/** The provider sold no number; the failed purchase is recorded for the statistics. */
export type PurchaseFailed = {
  readonly type: "purchase_failed";
  readonly id: string;
  readonly reason: string;
};
/** The provider failed and nothing changed; retry later. */
export type ProviderUnavailable = {
  readonly type: "provider_unavailable";
  readonly reason: string;
  readonly retryAfterMs?: number;
};
/** A provider-facing call on a record of another provider than the one this service serves. */
export type ProviderMismatch = {
  readonly type: "provider_mismatch";
  readonly id: string;
  readonly provider: string;
  readonly servedProvider: string;
};
/** The price the customer would pay is above the ceiling the caller set; nothing was frozen. */
export type PriceAboveMax = {
  readonly type: "price_above_max";
  readonly priceMinor: number;
  readonly maxPriceMinor: number;
};
/** The catalog knows the provider and the service code is none of its codes; nothing was frozen. */
export type UnknownServiceCode = {
  readonly type: "unknown_service_code";
  readonly service: string;
  readonly provider: string;
};
/** The storage failed (a persistent conflict or a database error; `code` is the SQLSTATE). */
export type StorageFailure = {
  readonly type: "storage_failure";
  readonly message: string;
  readonly code?: string;
};

/** The union of every error the library returns. Each operation documents the subset it can return. */
export type FesError =
  | InvalidInput
  | WalletNotFound
  | WalletExists
  | CurrencyMismatch
  | InsufficientFunds
  | IdempotencyConflict
  | HoldNotFound
  | HoldExists
  | HoldNotOpen
  | SettleExceedsHold
  | ReversalExceedsSettled
  | ActivationNotFound
  | RentalNotFound
  | TransitionNotAllowed
  | TooEarlyToCancel
  | ServiceDisabled
  | PurchaseFailed
  | ProviderUnavailable
  | ProviderMismatch
  | PriceAboveMax
  | UnknownServiceCode
  | StorageFailure;

/** Constructors, one per error type. */
export const errors = {
  invalidInput: (issues: readonly InputIssue[]): InvalidInput => ({ type: "invalid_input", issues }),
  walletNotFound: (walletId: string): WalletNotFound => ({ type: "wallet_not_found", walletId }),
  walletExists: (walletId: string, currency: string): WalletExists => ({
    type: "wallet_exists",
    walletId,
    currency,
  }),
  currencyMismatch: (expected: string, actual: string): CurrencyMismatch => ({
    type: "currency_mismatch",
    expected,
    actual,
  }),
  insufficientFunds: (
    walletId: string,
    availableMinor: number,
    requestedMinor: number,
  ): InsufficientFunds => ({
    type: "insufficient_funds",
    walletId,
    availableMinor,
    requestedMinor,
  }),
  idempotencyConflict: (idempotencyKey: string): IdempotencyConflict => ({
    type: "idempotency_conflict",
    idempotencyKey,
  }),
  holdNotFound: (holdId: string): HoldNotFound => ({ type: "hold_not_found", holdId }),
  holdExists: (holdId: string): HoldExists => ({ type: "hold_exists", holdId }),
  holdNotOpen: (holdId: string, state: string): HoldNotOpen => ({ type: "hold_not_open", holdId, state }),
  settleExceedsHold: (holdId: string, heldMinor: number, requestedMinor: number): SettleExceedsHold => ({
    type: "settle_exceeds_hold",
    holdId,
    heldMinor,
    requestedMinor,
  }),
  reversalExceedsSettled: (
    operationId: string,
    settledMinor: number,
    reversedMinor: number,
    requestedMinor: number,
  ): ReversalExceedsSettled => ({
    type: "reversal_exceeds_settled",
    operationId,
    settledMinor,
    reversedMinor,
    requestedMinor,
  }),
  activationNotFound: (activationId: string): ActivationNotFound => ({
    type: "activation_not_found",
    activationId,
  }),
  rentalNotFound: (rentalId: string): RentalNotFound => ({ type: "rental_not_found", rentalId }),
  transitionNotAllowed: (from: string, event: string): TransitionNotAllowed => ({
    type: "transition_not_allowed",
    from,
    event,
  }),
  tooEarlyToCancel: (retryAfterMs: number): TooEarlyToCancel => ({
    type: "too_early_to_cancel",
    retryAfterMs,
  }),
  serviceDisabled: (service: string, country: string, reason: string): ServiceDisabled => ({
    type: "service_disabled",
    service,
    country,
    reason,
  }),
  purchaseFailed: (id: string, reason: string): PurchaseFailed => ({ type: "purchase_failed", id, reason }),
  providerUnavailable: (reason: string, retryAfterMs?: number): ProviderUnavailable =>
    retryAfterMs === undefined
      ? { type: "provider_unavailable", reason }
      : { type: "provider_unavailable", reason, retryAfterMs },
  providerMismatch: (id: string, provider: string, servedProvider: string): ProviderMismatch => ({
    type: "provider_mismatch",
    id,
    provider,
    servedProvider,
  }),
  priceAboveMax: (priceMinor: number, maxPriceMinor: number): PriceAboveMax => ({
    type: "price_above_max",
    priceMinor,
    maxPriceMinor,
  }),
  unknownServiceCode: (service: string, provider: string): UnknownServiceCode => ({
    type: "unknown_service_code",
    service,
    provider,
  }),
  storageFailure: (message: string, code?: string): StorageFailure =>
    code === undefined ? { type: "storage_failure", message } : { type: "storage_failure", message, code },
} as const;

/** Converts zod issues into the library's input issues. */
export function issuesFromZod(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): readonly InputIssue[] {
  return issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}
