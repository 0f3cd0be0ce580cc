/**
 * sms-fes: freeze → execute → settle for platforms reselling SMS-activation numbers.
 * The core entry: pure money model, state machines, ports and the orchestration service. No I/O, no drivers.
 */

export * from "./activation/machine.js";
export * from "./core/clock.js";
export * from "./core/decimal.js";
export * from "./core/errors.js";
export * from "./core/ids.js";
export * from "./core/invariant.js";
export * from "./core/machine.js";
export * from "./core/money.js";
export * from "./core/records.js";
export { isStorableText, storableText } from "./core/storable-text.js";
export { runUnit } from "./core/unit-of-work.js";
export type { ActivationStepError, BuyActivationError } from "./fes/activation-ops.js";
export type { CodeResolver, CountryRouter, ServiceGate } from "./fes/context.js";
export type { RentalPurchaseError, RentalStepError } from "./fes/rental-ops.js";
export * from "./fes/schemas.js";
export * from "./fes/service.js";
export type { SweepReport } from "./fes/sweep.js";
export type {
  HoldResolutionResult,
  MoneyMoved,
  Statement,
  StatementEntry,
  WalletBalance,
} from "./fes/wallet-ops.js";
export * from "./health/index.js";
export * from "./mapping/index.js";
export * from "./policy/pricing.js";
export * from "./policy/refund.js";
export * from "./provider/control.js";
export * from "./provider/port.js";
export * from "./rental/machine.js";
export { iterateList } from "./storage/paging.js";
export * from "./storage/port.js";
export * from "./wallet/invariants.js";
