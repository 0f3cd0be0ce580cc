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
export type InvalidInput = {
  readonly type: "invalid_input";
  readonly message: string;
  readonly issues: readonly InputIssue[];
};
/** No wallet has this id. */
export type WalletNotFound = {
  readonly type: "wallet_not_found";
  readonly message: string;
  readonly walletId: string;
};
/** `createWallet` for an id that exists with another currency. */
export type WalletExists = {
  readonly type: "wallet_exists";
  readonly message: string;
  readonly walletId: string;
  readonly currency: string;
};
/** The call's currency is not the wallet's. */
export type CurrencyMismatch = {
  readonly type: "currency_mismatch";
  readonly message: string;
  readonly expected: string;
  readonly actual: string;
};
/** A freeze or debit beyond `available` (existing holds counted). */
export type InsufficientFunds = {
  readonly type: "insufficient_funds";
  readonly message: string;
  readonly walletId: string;
  readonly availableMinor: number;
  readonly requestedMinor: number;
};
/** The key was already used for another request. */
export type IdempotencyConflict = {
  readonly type: "idempotency_conflict";
  readonly message: string;
  readonly idempotencyKey: string;
};
/** No hold has this id. */
export type HoldNotFound = {
  readonly type: "hold_not_found";
  readonly message: string;
  readonly holdId: string;
};
/** A manual freeze for an operation that already has a hold. */
export type HoldExists = { readonly type: "hold_exists"; readonly message: string; readonly holdId: string };
/** The hold was already settled or released. */
export type HoldNotOpen = {
  readonly type: "hold_not_open";
  readonly message: string;
  readonly holdId: string;
  readonly state: string;
};
/** Settling more than the hold holds. */
export type SettleExceedsHold = {
  readonly type: "settle_exceeds_hold";
  readonly message: string;
  readonly holdId: string;
  readonly heldMinor: number;
  readonly requestedMinor: number;
};
/** Giving back more than was settled for the operation (earlier reversals counted). */
export type ReversalExceedsSettled = {
  readonly type: "reversal_exceeds_settled";
  readonly message: string;
  readonly operationId: string;
  readonly settledMinor: number;
  readonly reversedMinor: number;
  readonly requestedMinor: number;
};
/** No activation has this id. */
export type ActivationNotFound = {
  readonly type: "activation_not_found";
  readonly message: string;
  readonly activationId: string;
};
/** No rental has this id. */
export type RentalNotFound = {
  readonly type: "rental_not_found";
  readonly message: string;
  readonly rentalId: string;
};
/** The event is not allowed in the current state. */
export type TransitionNotAllowed = {
  readonly type: "transition_not_allowed";
  readonly message: string;
  readonly from: string;
  readonly event: string;
};
/** Inside the provider's early-cancel window; retry after `retryAfterMs`. */
export type TooEarlyToCancel = {
  readonly type: "too_early_to_cancel";
  readonly message: string;
  readonly retryAfterMs: number;
};
/** The health gate blocks this service × country. */
export type ServiceDisabled = {
  readonly type: "service_disabled";
  readonly message: string;
  readonly service: string;
  readonly country: string;
  readonly reason: string;
};
/** The provider sold no number; the failed purchase is recorded for the statistics. */
export type PurchaseFailed = {
  readonly type: "purchase_failed";
  readonly message: string;
  readonly id: string;
  readonly reason: string;
};
/** The provider failed and nothing changed; retry later. */
export type ProviderUnavailable = {
  readonly type: "provider_unavailable";
  readonly message: string;
  readonly reason: string;
  readonly retryAfterMs?: number;
  /** What failed underneath, short and without secrets (`network: connect ECONNREFUSED 127.0.0.1:8080`). */
  readonly cause?: string;
};
/** A provider-facing call on a record of another provider than the one this service serves. */
export type ProviderMismatch = {
  readonly type: "provider_mismatch";
  readonly message: string;
  readonly id: string;
  readonly provider: string;
  readonly servedProvider: string;
};
/** The price the customer would pay is above the ceiling the caller set; nothing was frozen. */
export type PriceAboveMax = {
  readonly type: "price_above_max";
  readonly message: string;
  readonly priceMinor: number;
  readonly maxPriceMinor: number;
};
/** The catalog knows the provider and the service code is none of its codes; nothing was frozen. */
export type UnknownServiceCode = {
  readonly type: "unknown_service_code";
  readonly message: string;
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

/** Constructors, one per error type. Each sets a one-line `message`: what happened and what to do. */
export const errors = {
  /** Builds `InvalidInput`: the input failed validation; nothing was written. */
  invalidInput: (issues: readonly InputIssue[]): InvalidInput => ({
    type: "invalid_input",
    message: `invalid input: ${issues
      .slice(0, 3)
      .map((i) => `${i.path === "" ? "(input)" : i.path}: ${i.message}`)
      .join("; ")}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ""}; nothing was written`,
    issues,
  }),
  /** Builds `WalletNotFound`: no wallet has this id. */
  walletNotFound: (walletId: string): WalletNotFound => ({
    type: "wallet_not_found",
    message: `no wallet ${JSON.stringify(walletId)}: create it with createWallet first`,
    walletId,
  }),
  /** Builds `WalletExists`: `createWallet` for an id that exists with another currency. */
  walletExists: (walletId: string, currency: string): WalletExists => ({
    type: "wallet_exists",
    message: `wallet ${JSON.stringify(walletId)} already exists in ${currency}`,
    walletId,
    currency,
  }),
  /** Builds `CurrencyMismatch`: the call's currency is not the wallet's. */
  currencyMismatch: (expected: string, actual: string): CurrencyMismatch => ({
    type: "currency_mismatch",
    message: `the call is in ${actual} but the wallet is in ${expected}`,
    expected,
    actual,
  }),
  /** Builds `InsufficientFunds`: a freeze or debit beyond `available` (existing holds counted). */
  insufficientFunds: (
    walletId: string,
    availableMinor: number,
    requestedMinor: number,
  ): InsufficientFunds => ({
    type: "insufficient_funds",
    message: `wallet ${JSON.stringify(walletId)} has ${availableMinor} available (minor units), ${requestedMinor} requested; nothing moved`,
    walletId,
    availableMinor,
    requestedMinor,
  }),
  /** Builds `IdempotencyConflict`: the key was already used for another request. */
  idempotencyConflict: (idempotencyKey: string): IdempotencyConflict => ({
    type: "idempotency_conflict",
    message: `idempotency key ${JSON.stringify(idempotencyKey)} was already used for another request; use a new key`,
    idempotencyKey,
  }),
  /** Builds `HoldNotFound`: no hold has this id. */
  holdNotFound: (holdId: string): HoldNotFound => ({
    type: "hold_not_found",
    message: `no hold ${JSON.stringify(holdId)}`,
    holdId,
  }),
  /** Builds `HoldExists`: a manual freeze for an operation that already has a hold. */
  holdExists: (holdId: string): HoldExists => ({
    type: "hold_exists",
    message: `the operation already has hold ${JSON.stringify(holdId)}`,
    holdId,
  }),
  /** Builds `HoldNotOpen`: the hold was already settled or released. */
  holdNotOpen: (holdId: string, state: string): HoldNotOpen => ({
    type: "hold_not_open",
    message: `hold ${JSON.stringify(holdId)} is already ${state}`,
    holdId,
    state,
  }),
  /** Builds `SettleExceedsHold`: settling more than the hold holds. */
  settleExceedsHold: (holdId: string, heldMinor: number, requestedMinor: number): SettleExceedsHold => ({
    type: "settle_exceeds_hold",
    message: `cannot settle ${requestedMinor} of hold ${JSON.stringify(holdId)}, which holds ${heldMinor}`,
    holdId,
    heldMinor,
    requestedMinor,
  }),
  /** Builds `ReversalExceedsSettled`: giving back more than was settled for the operation (earlier reversals counted). */
  reversalExceedsSettled: (
    operationId: string,
    settledMinor: number,
    reversedMinor: number,
    requestedMinor: number,
  ): ReversalExceedsSettled => ({
    type: "reversal_exceeds_settled",
    message: `cannot reverse ${requestedMinor} of operation ${JSON.stringify(operationId)}: ${settledMinor} settled, ${reversedMinor} already reversed`,
    operationId,
    settledMinor,
    reversedMinor,
    requestedMinor,
  }),
  /** Builds `ActivationNotFound`: no activation has this id. */
  activationNotFound: (activationId: string): ActivationNotFound => ({
    type: "activation_not_found",
    message: `no activation ${JSON.stringify(activationId)}`,
    activationId,
  }),
  /** Builds `RentalNotFound`: no rental has this id. */
  rentalNotFound: (rentalId: string): RentalNotFound => ({
    type: "rental_not_found",
    message: `no rental ${JSON.stringify(rentalId)}`,
    rentalId,
  }),
  /** Builds `TransitionNotAllowed`: the event is not allowed in the current state. */
  transitionNotAllowed: (from: string, event: string): TransitionNotAllowed => ({
    type: "transition_not_allowed",
    message: `${event} is not allowed in state ${from}`,
    from,
    event,
  }),
  /** Builds `TooEarlyToCancel`: inside the provider's early-cancel window; retry after `retryAfterMs`. */
  tooEarlyToCancel: (retryAfterMs: number): TooEarlyToCancel => ({
    type: "too_early_to_cancel",
    message: `too early to cancel (the provider's early-cancel window): retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    retryAfterMs,
  }),
  /** Builds `ServiceDisabled`: the health gate blocks this service × country. */
  serviceDisabled: (service: string, country: string, reason: string): ServiceDisabled => ({
    type: "service_disabled",
    message: `${service} in ${country} is disabled by the health gate: ${reason}`,
    service,
    country,
    reason,
  }),
  /** Builds `PurchaseFailed`: the provider sold no number; the failed purchase is recorded for the statistics. */
  purchaseFailed: (id: string, reason: string): PurchaseFailed => ({
    type: "purchase_failed",
    message: `purchase ${JSON.stringify(id)} got no number from the provider (${reason}); the hold was released`,
    id,
    reason,
  }),
  /** Builds `ProviderUnavailable`: the provider failed and nothing changed; retry later. */
  providerUnavailable: (reason: string, retryAfterMs?: number, cause?: string): ProviderUnavailable => ({
    type: "provider_unavailable",
    message: `the provider failed (${cause ?? reason}); nothing changed, retry ${
      retryAfterMs === undefined ? "later" : `in ${Math.ceil(retryAfterMs / 1000)} s`
    }`,
    reason,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(cause === undefined ? {} : { cause }),
  }),
  /** Builds `ProviderMismatch`: a provider-facing call on a record of another provider than this service's. */
  providerMismatch: (id: string, provider: string, servedProvider: string): ProviderMismatch => ({
    type: "provider_mismatch",
    message: `${JSON.stringify(id)} belongs to provider ${JSON.stringify(provider)}; this service serves ${JSON.stringify(servedProvider)}: call the service of that provider`,
    id,
    provider,
    servedProvider,
  }),
  /** Builds `PriceAboveMax`: the customer price is above the caller's ceiling; nothing was frozen. */
  priceAboveMax: (priceMinor: number, maxPriceMinor: number): PriceAboveMax => ({
    type: "price_above_max",
    message: `the price is ${priceMinor}, above the ceiling of ${maxPriceMinor} (minor units); nothing was frozen: quote again`,
    priceMinor,
    maxPriceMinor,
  }),
  /** Builds `UnknownServiceCode`: the catalog knows the provider and not this service code; nothing was frozen. */
  unknownServiceCode: (service: string, provider: string): UnknownServiceCode => ({
    type: "unknown_service_code",
    message: `${JSON.stringify(service)} is not a service code of ${JSON.stringify(provider)}; nothing was frozen`,
    service,
    provider,
  }),
  /** Builds `StorageFailure`: the storage failed (a persistent conflict or a database error; `code` is the SQLSTATE). */
  storageFailure: (message: string, code?: string): StorageFailure =>
    code === undefined ? { type: "storage_failure", message } : { type: "storage_failure", message, code },
} as const;

/**
 * One log line for an error of the library: `type: message`. Accepts any error object with a `type` (a mapping or
 * pricing error, a provider failure); without a `message` the object's fields are shown instead.
 */
export function formatFesError(error: { readonly type: string; readonly message?: string }): string {
  if (typeof error.message === "string" && error.message !== "") return `${error.type}: ${error.message}`;
  const { type, ...rest } = error;
  return Object.keys(rest).length === 0 ? type : `${type}: ${JSON.stringify(rest)}`;
}

/** Converts zod issues into the library's input issues. */
export function issuesFromZod(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): readonly InputIssue[] {
  return issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}
