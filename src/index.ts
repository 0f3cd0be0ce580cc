/**
 * sms-fes: freeze → execute → settle for platforms reselling SMS-activation numbers.
 * The core entry: the money model, state machines, ports, policies and the orchestration service (`createFes`). No
 * I/O, no drivers. Health analytics and routing are in `sms-fes/health`, the service and country catalog in
 * `sms-fes/mapping`; adapters, fakes and suites have their own entries (see the README).
 *
 * An explicit list, one module per line pair, so what is public is decided here and not by `export *`.
 */

export type {
  ActivationContext,
  ActivationEffect,
  ActivationEvent,
  ActivationTransitionError,
} from "./activation/machine.js";
export {
  activationDiagram,
  activationTransitions,
  canActivation,
  isActivationTerminal,
  transitionActivation,
} from "./activation/machine.js";
export {
  coherenceAlertConditions,
  healthAlertConditions,
  stuckPurchaseConditions,
} from "./alerts/conditions.js";
export type { DeliveryRound, Notifier, NotifierOptions, NotifierProblem } from "./alerts/notifier.js";
export { createNotifier } from "./alerts/notifier.js";
export type {
  AlertDeliveryMeta,
  AlertFetch,
  AlertSink,
  AlertSinkOutcome,
  SlackAlertSinkOptions,
  WebhookAlertSinkOptions,
} from "./alerts/sinks.js";
export {
  alertHeaders,
  alertWebhookBody,
  callbackAlertSink,
  signAlertPayload,
  slackAlertMessage,
  slackAlertSink,
  verifyAlertSignature,
  webhookAlertSink,
} from "./alerts/sinks.js";
export type {
  AlertChange,
  AlertCondition,
  AlertDelivery,
  AlertKind,
  AlertState,
  AlertStore,
} from "./alerts/store.js";
export { createMemoryAlertStore } from "./alerts/store.js";
export type { Clock } from "./core/clock.js";
export { systemClock } from "./core/clock.js";
export type {
  ActivationNotFound,
  CurrencyMismatch,
  FesError,
  HoldExists,
  HoldNotFound,
  HoldNotOpen,
  IdempotencyConflict,
  InputIssue,
  InsufficientFunds,
  InvalidInput,
  PriceAboveMax,
  ProviderMismatch,
  ProviderUnavailable,
  PurchaseFailed,
  RentalNotFound,
  ReversalExceedsSettled,
  ServiceDisabled,
  SettleExceedsHold,
  StorageFailure,
  TooEarlyToCancel,
  TransitionNotAllowed,
  UnknownServiceCode,
  WalletExists,
  WalletNotFound,
} from "./core/errors.js";
export { errors, formatFesError } from "./core/errors.js";
export { activationHoldId, compareBytes, manualHoldId, rentalHoldId } from "./core/ids.js";
export { InvariantViolation, isInvariantViolation } from "./core/invariant.js";
export {
  amountMinorSchema,
  currencySchema,
  positiveAmountMinorSchema,
  signedAmountMinorSchema,
} from "./core/money.js";
export type {
  ActivationRecord,
  ActivationState,
  AuditRecord,
  HoldOwnerType,
  HoldRecord,
  IdempotencyRecord,
  PlatformAccountKind,
  RentalPeriod,
  RentalRecord,
  RentalState,
  TransferKind,
  TransferRecord,
  WalletRecord,
} from "./core/records.js";
export { isPlatformAccountId, platformAccountId } from "./core/records.js";
export { isStorableText, storableText } from "./core/storable-text.js";
export type { ActivationStepError, BuyActivationError, BuyActivationInput } from "./fes/activation-ops.js";
export type { CodeResolver, CountryRouter, ServiceGate } from "./fes/context.js";
export type { FesEvent, FesObserver } from "./fes/observer.js";
export type { BuyRentalInput, RentalPurchaseError, RentalStepError } from "./fes/rental-ops.js";
export {
  actorSchema,
  codeSchema,
  entityIdSchema,
  hoursSchema,
  idempotencyKeySchema,
  walletIdSchema,
} from "./fes/schemas.js";
export type { Fes, FesConfig } from "./fes/service.js";
export { createFes } from "./fes/service.js";
export type { ClosedOrphan, SweepFailure, SweepReport } from "./fes/sweep.js";
export { runUnit } from "./fes/unit-of-work.js";
export type {
  HoldResolutionResult,
  MoneyMoved,
  Statement,
  StatementEntry,
  WalletBalance,
} from "./fes/wallet-ops.js";
export type { LoggerLike, LoggerObserverOptions, LogLevel } from "./observe/logger.js";
export { createLoggerObserver, fesEventFields, fesEventLevel } from "./observe/logger.js";
export type { Experiment, ExperimentArm, ExperimentOptions } from "./policy/experiment.js";
export { assignmentHash, assignmentPoint, createExperiment } from "./policy/experiment.js";
export type {
  PriceList,
  PriceListEntry,
  PriceListOptions,
  PriceQuote,
  PriceQuoteError,
} from "./policy/price-list.js";
export { createPriceList } from "./policy/price-list.js";
export type { Price, PriceRequest, PricingError, PricingFunction, PricingOptions } from "./policy/pricing.js";
export { createPricing, defaultPricing, pricingOptionsSchema } from "./policy/pricing.js";
export type {
  ActivationOutcome,
  MoneyDecision,
  RefundPolicy,
  RefundPolicyOptions,
  RentalOutcome,
} from "./policy/refund.js";
export { createRefundPolicy, defaultRefundPolicy, refundPolicyOptionsSchema } from "./policy/refund.js";
export type { WaitTimeDecision, WaitTimePolicy, WaitTimeQuery } from "./policy/wait-time.js";
export { providerLifetimeWaitTime, WAIT_TIME_POLICY_REASON } from "./policy/wait-time.js";
export type {
  ActivationStatus,
  ActiveActivation,
  ActiveRental,
  DeclineReason,
  ExtendedRental,
  HoursRange,
  IssuedActivation,
  IssuedRental,
  Provider,
  ProviderCapabilities,
  ProviderFailure,
  ProviderResult,
  Quote,
  RentalMessage,
  RentalStatus,
} from "./provider/port.js";
export type { RentalContext, RentalEffect, RentalEvent } from "./rental/machine.js";
export {
  canRental,
  isRentalTerminal,
  isWithinRefundWindow,
  rentalDiagram,
  rentalTransitions,
  transitionRental,
} from "./rental/machine.js";
export { iterateList } from "./storage/paging.js";
export type {
  CommitPlan,
  CreatedWindow,
  DueQuery,
  DueWork,
  HealthStatsQuery,
  HoldResolution,
  IdempotencyPruneQuery,
  Loaded,
  LoadRequest,
  PageQuery,
  Storage,
  StorageReader,
  StorageTx,
  VersionedWrite,
  WalletDelta,
} from "./storage/port.js";
export { isStorageConflictError, StorageConflictError, selectDueWork } from "./storage/port.js";
export type { LedgerViolation } from "./wallet/invariants.js";
export { checkLedgerInvariants } from "./wallet/invariants.js";
export type { HealthSnapshot, HealthSnapshotOptions, HealthWindowQuery } from "./worker/health-window.js";
export { readHealthSnapshot, readHealthWindow } from "./worker/health-window.js";
export type { Worker, WorkerOptions, WorkerProblem, WorkerSummary, WorkerTimer } from "./worker/worker.js";
export { startWorker, workerBackoffMs } from "./worker/worker.js";
