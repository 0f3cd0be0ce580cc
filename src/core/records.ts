/**
 * The records the storage keeps and exposes. They are the documented export shape: any database can produce
 * them, and the analytics, the coherence report and the Postgres views are built on exactly these fields.
 * Times are epoch milliseconds; money is integer minor units of `currency`.
 */

/** Platform account kinds. Their balances are derived from transfers, never stored in a row every settle locks. */
export type PlatformAccountKind = "revenue" | "promotions" | "deposits" | "adjustments";

/** The id of a platform account for one currency, e.g. `@revenue:USD`. Customer wallet ids never start with `@`. */
export function platformAccountId(kind: PlatformAccountKind, currency: string): string {
  return `@${kind}:${currency}`;
}

/** True for the id of a platform account. */
export function isPlatformAccountId(id: string): boolean {
  return id.startsWith("@");
}

/** A customer wallet. `available = balanceMinor − frozenMinor`, never negative. */
export interface WalletRecord {
  readonly id: string;
  readonly currency: string;
  /** Posted money: equals the replay of the wallet's transfers. */
  readonly balanceMinor: number;
  /** Money held by open holds: equals the sum of the wallet's open holds. */
  readonly frozenMinor: number;
  /** Incremented by every write. */
  readonly version: number;
  readonly createdAtMs: number;
}

/** Why a posted transfer happened. */
export type TransferKind = "deposit" | "withdrawal" | "adjustment" | "settle" | "cashback" | "reversal";

/**
 * A posted, immutable, double-entry transfer. Exactly one side is a customer wallet (`walletId`); the other is a
 * platform account. The ledger is append-only: a correction is a new transfer.
 */
export interface TransferRecord {
  readonly id: string;
  /** Assigned by the storage on insert, strictly increasing; the statement cursor. 0 before insert. */
  readonly seq: number;
  readonly kind: TransferKind;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** The customer wallet on one side of the transfer. */
  readonly walletId: string;
  /** The wallet's posted balance right after this transfer (what a statement shows). */
  readonly walletBalanceAfterMinor: number;
  /** The hold this transfer settles, for kind `settle`. */
  readonly holdId: string | null;
  /** The operation (activation, rental or manual operation id) this transfer belongs to. */
  readonly operationId: string;
  readonly reason: string | null;
  readonly createdAtMs: number;
}

/** Who owns a hold. */
export type HoldOwnerType = "activation" | "rental" | "manual";

/** A pending transfer from a customer wallet to revenue. Resolves exactly once. */
export interface HoldRecord {
  readonly id: string;
  readonly walletId: string;
  readonly currency: string;
  readonly amountMinor: number;
  readonly state: "open" | "settled" | "released";
  /** The part posted to revenue; the rest was released. 0 while open or when released. */
  readonly settledMinor: number;
  readonly ownerType: HoldOwnerType;
  readonly ownerId: string;
  readonly createdAtMs: number;
  readonly resolvedAtMs: number | null;
}

/**
 * An end the service asked the provider for, recorded before the call: when the answer is lost, the end is decided
 * from what the provider says happened and from this decision, never recomputed from the clock.
 */
export interface EndRequest {
  /** What was asked: a cancel (a refunded cancel for a rental inside its window) or a finish. */
  readonly event: "cancel" | "finish";
  /** For a rental: whether the cancel was sent as a refunded cancel (inside the refund window when decided). */
  readonly refunded: boolean;
  /** When it was decided: a pro-rata finish is charged up to this moment. */
  readonly atMs: number;
  /** Who or what ended it, e.g. `customer`, `wait_time_policy`. */
  readonly reason: string;
}

/** Prefix of the `failureReason` of a purchase the provider refused without executing it (e.g. a rate limit). */
export const REFUSED_PREFIX = "refused:";

/**
 * True for a purchase the provider refused without executing it: nothing was bought, so it is no failure of the
 * service and stays out of the health statistics.
 */
export function isRefusedPurchase(record: {
  readonly state: string;
  readonly failureReason: string | null;
}): boolean {
  return record.state === "failed" && record.failureReason?.startsWith(REFUSED_PREFIX) === true;
}

/** States of a one-time activation. */
export type ActivationState =
  | "pending"
  | "waiting"
  | "received"
  | "cancelled"
  | "timeout"
  | "expired"
  | "failed";

/** Every {@link ActivationState}, in lifecycle order. */
export const ACTIVATION_STATES: readonly ActivationState[] = [
  "pending",
  "waiting",
  "received",
  "cancelled",
  "timeout",
  "expired",
  "failed",
];

/** A one-time activation: one number, one or more codes. The export shape of docs/design.md §4. */
export interface ActivationRecord {
  readonly id: string;
  readonly walletId: string;
  /** The provider's name, e.g. `hero-sms`. */
  readonly provider: string;
  /** The provider's activation id, once issued (kept as a string: ids may have 16 digits). */
  readonly providerActivationId: string | null;
  /** The service code exactly as sent to the provider. */
  readonly serviceCode: string;
  /** The country code exactly as sent to the provider. */
  readonly countryCode: string;
  /** The canonical service id, when the catalog resolved it. */
  readonly service: string | null;
  /** The canonical country id, when the catalog resolved it. */
  readonly country: string | null;
  readonly state: ActivationState;
  readonly phone: string | null;
  /** What the customer pays (the hold), fixed at purchase. */
  readonly priceMinor: number;
  /** What the provider charged the platform, converted to `currency`, when known (margin reports). */
  readonly costMinor: number | null;
  readonly currency: string;
  /** Codes received, in order of arrival. */
  readonly codes: readonly string[];
  /** Codes that arrived after the activation ended without a charge: recorded, never charged. */
  readonly lateCodes: readonly string[];
  readonly holdId: string;
  /** The activation this one retries (another country after a timeout), if any. */
  readonly retryOf: string | null;
  /** A short machine-readable reason for `failed`/`expired`, e.g. `no_numbers`; `wait_time_policy` for a cancel the wait-time policy made. */
  readonly failureReason: string | null;
  readonly createdAtMs: number;
  readonly issuedAtMs: number | null;
  readonly firstCodeAtMs: number | null;
  /** When money was decided (settle or release). */
  readonly endedAtMs: number | null;
  /** When the number stops being usable: the customer finished it, or the deadline closed it. */
  readonly closedAtMs: number | null;
  readonly deadlineAtMs: number | null;
  /** Cashback paid for this activation (at most once). */
  readonly cashbackMinor: number;
  /** The cancel asked of the provider, recorded before the call (`null` or absent when none). */
  readonly endRequest?: EndRequest | null;
  readonly version: number;
  /** The experiment that chose this activation's wait, when one did (absent or `null` otherwise). */
  readonly experimentId?: string | null;
  /** The arm of {@link ActivationRecord.experimentId} this activation was assigned to. */
  readonly experimentArm?: string | null;
}

/** States of a rental. */
export type RentalState = "pending" | "active" | "cancelled" | "finished" | "expired" | "revoked" | "failed";

/** Every {@link RentalState}, in lifecycle order. */
export const RENTAL_STATES: readonly RentalState[] = [
  "pending",
  "active",
  "cancelled",
  "finished",
  "expired",
  "revoked",
  "failed",
];

/** One paid period of a rental: the first period or an extension, each with its own hold. */
export interface RentalPeriod {
  readonly holdId: string;
  readonly hours: number;
  readonly priceMinor: number;
  /** `pending` while the provider call that pays for it is in flight. */
  readonly state: "pending" | "paid" | "failed";
  /** Why the provider refused the period, for `failed` (e.g. `rent_expired`). */
  readonly failureReason?: string;
}

/** A rental: a number for hours or days, its money frozen until it ends. */
export interface RentalRecord {
  readonly id: string;
  readonly walletId: string;
  readonly provider: string;
  readonly providerRentalId: string | null;
  readonly serviceCode: string;
  readonly countryCode: string;
  readonly service: string | null;
  readonly country: string | null;
  readonly state: RentalState;
  readonly phone: string | null;
  readonly currency: string;
  readonly periods: readonly RentalPeriod[];
  /** Sum of the paid periods' prices. */
  readonly priceMinor: number;
  readonly costMinor: number | null;
  readonly messageCount: number;
  readonly failureReason: string | null;
  readonly createdAtMs: number;
  readonly startedAtMs: number | null;
  readonly endsAtMs: number | null;
  readonly endedAtMs: number | null;
  /** The cancel or finish asked of the provider, recorded before the call (`null` or absent when none). */
  readonly endRequest?: EndRequest | null;
  /** The last moment the rental was known active upstream (a poll, an SMS, an extension); a revocation is charged up to it. */
  readonly lastActiveAtMs?: number | null;
  readonly version: number;
}

/** A stored idempotency key: the fingerprint of the request and the result it produced. */
export interface IdempotencyRecord {
  readonly key: string;
  readonly operation: string;
  readonly fingerprint: string;
  /** JSON-serialisable result replayed to a repeated request. */
  readonly result: unknown;
  readonly createdAtMs: number;
}

/** One row of the audit trail: every state change, who made it and why. */
export interface AuditRecord {
  readonly id: string;
  readonly atMs: number;
  /** Who made the change: `customer:<id>`, `system:sweep`, `provider:webhook`, `admin:<id>`… */
  readonly actor: string;
  /** What happened, e.g. `wallet.deposit`, `activation.code`, `rental.extend`. */
  readonly action: string;
  readonly subjectType: "wallet" | "hold" | "activation" | "rental";
  readonly subjectId: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly idempotencyKey: string | null;
}
