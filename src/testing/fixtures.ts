import type {
  ActivationRecord,
  HoldRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";

/**
 * Complete records for storage tests, every field set and every field overridable: what adapter authors write into
 * a storage by hand (through `apply`) to test reads, guards and views.
 */
export const recordFixtures = {
  /** A USD wallet. */
  wallet: (id: string, over: Partial<WalletRecord> = {}): WalletRecord => ({
    id,
    currency: "USD",
    balanceMinor: 0,
    frozenMinor: 0,
    version: 1,
    createdAtMs: 0,
    ...over,
  }),

  /** A deposit from `@deposits:USD` into the wallet. */
  deposit: (
    id: string,
    walletId: string,
    amountMinor: number,
    over: Partial<TransferRecord> = {},
  ): TransferRecord => ({
    id,
    seq: 0,
    kind: "deposit",
    debitAccountId: "@deposits:USD",
    creditAccountId: walletId,
    amountMinor,
    currency: "USD",
    walletId,
    walletBalanceAfterMinor: amountMinor,
    holdId: null,
    operationId: `op:${id}`,
    reason: null,
    createdAtMs: 0,
    ...over,
  }),

  /** An open manual hold. */
  hold: (id: string, walletId: string, amountMinor: number, over: Partial<HoldRecord> = {}): HoldRecord => ({
    id,
    walletId,
    currency: "USD",
    amountMinor,
    state: "open",
    settledMinor: 0,
    ownerType: "manual",
    ownerId: id,
    createdAtMs: 0,
    resolvedAtMs: null,
    ...over,
  }),

  /** A pending activation of `tg` in `6` on wallet `w1`, its hold `hold:<id>`. */
  activation: (id: string, over: Partial<ActivationRecord> = {}): ActivationRecord => ({
    id,
    walletId: "w1",
    provider: "fake",
    providerActivationId: null,
    serviceCode: "tg",
    countryCode: "6",
    service: null,
    country: null,
    state: "pending",
    phone: null,
    priceMinor: 50,
    costMinor: null,
    currency: "USD",
    codes: [],
    lateCodes: [],
    holdId: `hold:${id}`,
    retryOf: null,
    failureReason: null,
    createdAtMs: 0,
    issuedAtMs: null,
    firstCodeAtMs: null,
    endedAtMs: null,
    closedAtMs: null,
    deadlineAtMs: null,
    cashbackMinor: 0,
    endRequest: null,
    version: 1,
    experimentId: null,
    experimentArm: null,
    ...over,
  }),

  /** A pending 4-hour rental of `tg` in `6` on wallet `w1`, its first period's hold `hold:<id>:0`. */
  rental: (id: string, over: Partial<RentalRecord> = {}): RentalRecord => ({
    id,
    walletId: "w1",
    provider: "fake",
    providerRentalId: null,
    serviceCode: "tg",
    countryCode: "6",
    service: null,
    country: null,
    state: "pending",
    phone: null,
    currency: "USD",
    periods: [{ holdId: `hold:${id}:0`, hours: 4, priceMinor: 300, state: "pending" }],
    priceMinor: 300,
    costMinor: null,
    messageCount: 0,
    failureReason: null,
    createdAtMs: 0,
    startedAtMs: null,
    endsAtMs: null,
    endedAtMs: null,
    endRequest: null,
    lastActiveAtMs: null,
    version: 1,
    ...over,
  }),
};
