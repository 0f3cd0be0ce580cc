import { err, ok, type Result } from "neverthrow";
import {
  type CurrencyMismatch,
  errors,
  type IdempotencyConflict,
  type InsufficientFunds,
  type InvalidInput,
  type PriceAboveMax,
  type ProviderMismatch,
  type ProviderUnavailable,
  type PurchaseFailed,
  type RentalNotFound,
  type ServiceDisabled,
  type StorageFailure,
  type TransitionNotAllowed,
  type UnknownServiceCode,
  type WalletNotFound,
} from "../core/errors.js";
import { rentalHoldId } from "../core/ids.js";
import { type EndRequest, isRefusedPurchase, REFUSED_PREFIX, type RentalRecord } from "../core/records.js";
import type {
  ActiveRental,
  ExtendedRental,
  HoursRange,
  IssuedRental,
  ProviderFailure,
  ProviderResult,
  RentalStatus,
} from "../provider/port.js";
import { isWithinRefundWindow, type RentalEvent, transitionRental } from "../rental/machine.js";
import { callProvider, type FesContext, parseInput, providerError } from "./context.js";
import { rentalIdFor } from "./keys.js";
import {
  applyEvent,
  type EndDecision,
  type EndSpec,
  type EntityKind,
  loadOwned,
  loadRecord,
  runEnd,
  runPurchase,
  type StepKey,
  step,
} from "./saga.js";
import { buyRentalInput, extendRentalInput, rentalActionInput } from "./schemas.js";
import type { ClosedOrphan, SweepFailure } from "./sweep-report.js";
import { readStorage } from "./unit-of-work.js";

const HOUR_MS = 3_600_000;

/** Errors of a step on an existing rental. */
export type RentalStepError =
  | RentalNotFound
  | TransitionNotAllowed
  | IdempotencyConflict
  | ProviderMismatch
  | StorageFailure;

/** Errors of buying or extending a rental. */
export type RentalPurchaseError =
  | RentalStepError
  | InvalidInput
  | WalletNotFound
  | CurrencyMismatch
  | InsufficientFunds
  | ServiceDisabled
  | UnknownServiceCode
  | PriceAboveMax
  | PurchaseFailed
  | ProviderUnavailable;

/** Input of `buyRental`. */
export interface BuyRentalInput {
  readonly walletId: string;
  readonly service: string;
  readonly country: string;
  /** Whole hours within the provider's `capabilities.rentHours`. */
  readonly hours: number;
  readonly idempotencyKey: string;
  /** The most the customer pays, in minor units: a higher price is refused before anything is frozen. */
  readonly maxPriceMinor?: number;
  readonly actor?: string;
}

/** The rental as the step runner sees it. */
export const rentalKind: EntityKind<RentalRecord, RentalEvent, TransitionNotAllowed, RentalNotFound> = {
  kind: "rental",
  loadOf: (id) => ({ rentalId: id }),
  fromLoaded: (loaded) => loaded.rental,
  read: (ctx, id) => ctx.storage.read.getRental(id),
  notFound: errors.rentalNotFound,
  transition: (ctx, r, event, nowMs) =>
    transitionRental(r, event, {
      nowMs,
      policy: ctx.policy,
      rentRefundWindowMs: ctx.provider.capabilities.rentRefundWindowMs,
    }),
  save: (plan, next, expectedVersion) => plan.saveRental(next, expectedVersion),
  audited: (r) => ({ state: r.state, endsAtMs: r.endsAtMs }),
};

/** The rental, or `rental_not_found`. */
export function getRental(ctx: FesContext, rentalId: string) {
  return loadRecord(ctx, rentalKind, rentalId);
}

/** One event on a rental by the system. */
export function rentalStep(
  ctx: FesContext,
  r: Pick<RentalRecord, "id" | "walletId">,
  event: RentalEvent,
  actor: string,
) {
  return step(ctx, rentalKind, r, event, actor).map((s) => s.record);
}

/** Durations outside the provider's range are bad input, refused before anything is frozen. */
function checkHours(hours: number, range: HoursRange, path: string): Result<number, InvalidInput> {
  return hours >= range.min && hours <= range.max
    ? ok(hours)
    : err(
        errors.invalidInput([
          { path, message: `hours must be between ${range.min} and ${range.max} for this provider` },
        ]),
      );
}

function asPurchaseResult(r: RentalRecord): Result<RentalRecord, PurchaseFailed> {
  return r.state === "failed" ? err(errors.purchaseFailed(r.id, r.failureReason ?? "failed")) : ok(r);
}

/** The customer price of `hours` of a rental. */
async function price(
  ctx: FesContext,
  service: string,
  country: string,
  hours: number,
  walletCurrency: string,
  id: string,
): Promise<Result<{ priceMinor: number; costMinor: number }, PurchaseFailed | ProviderUnavailable>> {
  const quote = await callProvider(ctx, "quoteRental", {}, () =>
    ctx.provider.quoteRental({ service, country, hours }),
  );
  if (quote.isErr()) {
    const f = quote.error;
    return err(f.class === "declined" ? errors.purchaseFailed(id, f.reason) : providerError(f));
  }
  if (quote.value.stock <= 0) return err(errors.purchaseFailed(id, "no_numbers"));
  const p = ctx.pricing({
    kind: "rental",
    service,
    country,
    hours,
    providerPrice: quote.value.price,
    providerCurrency: quote.value.currency,
    walletCurrency,
  });
  return p.isErr() ? err(errors.purchaseFailed(id, p.error.type)) : ok(p.value);
}

/** What can refuse a rental purchase before anything is frozen. */
type PrepareError = StorageFailure | WalletNotFound | PurchaseFailed | ProviderUnavailable | PriceAboveMax;

/** Rents a number for `hours`: the price stays frozen until the rental ends. */
export async function buyRental(
  ctx: FesContext,
  input: BuyRentalInput,
): Promise<Result<RentalRecord, RentalPurchaseError>> {
  const parsed = parseInput(buyRentalInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const hours = checkHours(req.hours, ctx.provider.capabilities.rentHours, "hours");
  if (hours.isErr()) return err(hours.error);
  const actor = req.actor ?? `customer:${req.walletId}`;
  // The gate judges the ids the statistics are kept under: canonical where the catalog resolves them.
  const names = ctx.resolveCodes?.({
    provider: ctx.providerName,
    service: req.service,
    country: req.country,
  });
  if (names?.unknownService === true) return err(errors.unknownServiceCode(req.service, ctx.providerName));
  const gate = ctx.gate?.({
    service: names?.service ?? req.service,
    country: names?.country ?? req.country,
  }) ?? {
    enabled: true as const,
  };
  if (!gate.enabled) return err(errors.serviceDisabled(req.service, req.country, gate.reason));
  const bought = await runPurchase<
    RentalRecord,
    RentalEvent,
    TransitionNotAllowed,
    RentalNotFound,
    WalletNotFound | InsufficientFunds | ProviderUnavailable,
    IssuedRental,
    { priceMinor: number; costMinor: number; currency: string },
    PrepareError
  >(ctx, {
    kind: rentalKind,
    operation: "rental.buy",
    providerCall: "rent",
    request: {
      walletId: req.walletId,
      service: req.service,
      country: req.country,
      hours: req.hours,
      maxPriceMinor: req.maxPriceMinor,
    },
    walletId: req.walletId,
    key: req.idempotencyKey,
    actor,
    loadFor: () => ({}),
    prepare: async () => {
      const w = await readStorage(() => ctx.storage.read.getWallet(req.walletId));
      if (w.isErr()) return err(w.error);
      if (w.value === undefined) return err(errors.walletNotFound(req.walletId));
      const id = rentalIdFor(req.walletId, req.idempotencyKey, 0);
      const p = await price(ctx, req.service, req.country, req.hours, w.value.currency, id);
      if (p.isErr()) return err(p.error);
      if (req.maxPriceMinor !== undefined && p.value.priceMinor > req.maxPriceMinor)
        return err(errors.priceAboveMax(p.value.priceMinor, req.maxPriceMinor));
      return ok({ ...p.value, currency: w.value.currency });
    },
    reserve: (plan, loaded, attempt, p) => {
      const w = loaded.wallets.find((x) => x.id === req.walletId);
      if (w === undefined) return err(errors.walletNotFound(req.walletId));
      if (p === undefined) return err(errors.providerUnavailable("purchase state lost: retry"));
      const id = rentalIdFor(req.walletId, req.idempotencyKey, attempt);
      const holdId = rentalHoldId(id, 0);
      const frozen = plan.freeze(req.walletId, {
        id: holdId,
        amountMinor: p.priceMinor,
        ownerType: "rental",
        ownerId: id,
      });
      if (frozen.isErr()) return err(frozen.error);
      plan.saveRental(
        {
          id,
          walletId: req.walletId,
          provider: ctx.providerName,
          providerRentalId: null,
          serviceCode: req.service,
          countryCode: req.country,
          service: names?.service ?? null,
          country: names?.country ?? null,
          state: "pending",
          phone: null,
          currency: w.currency,
          periods: [{ holdId, hours: req.hours, priceMinor: p.priceMinor, state: "pending" }],
          priceMinor: p.priceMinor,
          costMinor: p.costMinor,
          messageCount: 0,
          failureReason: null,
          createdAtMs: plan.nowMs,
          startedAtMs: null,
          endsAtMs: null,
          endedAtMs: null,
          endRequest: null,
          lastActiveAtMs: null,
          version: 1,
        },
        null,
      );
      plan.audit("rental.buy", "rental", id, null, { state: "pending", priceMinor: p.priceMinor });
      return ok({ id, holdId });
    },
    refused: (r) => isRefusedPurchase(r),
    call: (_handle, r) =>
      ctx.provider.rent({ service: r.serviceCode, country: r.countryCode, hours: req.hours, orderId: r.id }),
    issued: (_handle, issued, _nowMs, _r, p) => ({
      type: "issued",
      providerRentalId: issued.providerRentalId,
      phone: issued.phone,
      endsAtMs: issued.endsAtMs,
      costMinor: p.costMinor,
    }),
    failed: (_handle, reason) => ({ type: "purchase_failed", reason }),
    lateAnswer: async (current, issued) => {
      // Answered after the sweeper decided: a number nobody owns is given back upstream (if this fails, the
      // sweeper closes it as an orphan).
      if (current.providerRentalId === issued.providerRentalId) return;
      await closeUpstream(ctx, issued.providerRentalId, { rentalId: current.id });
    },
  });
  if (bought.isErr()) return err(bought.error);
  if (bought.value.kind === "refused") return err(bought.value.error);
  return asPurchaseResult(bought.value.record);
}

/** Loads a rental this service may act on upstream. */
function ownRental(ctx: FesContext, rentalId: string) {
  return loadOwned(ctx, rentalKind, rentalId);
}

/**
 * Extends an active rental, as a purchase: the extra price is frozen as a new hold (its period `pending`), the
 * provider is asked exactly once, and the answer confirms or releases the period. A lost answer leaves the period
 * pending: it is decided later from the provider's own end time, never sent again.
 */
export async function extendRental(
  ctx: FesContext,
  input: { rentalId: string; hours: number; idempotencyKey: string; actor?: string },
): Promise<Result<RentalRecord, RentalPurchaseError>> {
  const parsed = parseInput(extendRentalInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const hours = checkHours(req.hours, ctx.provider.capabilities.extendHours, "hours");
  if (hours.isErr()) return err(hours.error);
  const own = await ownRental(ctx, req.rentalId);
  if (own.isErr()) return err(own.error);
  const r = own.value;
  const actor = req.actor ?? `customer:${r.walletId}`;
  const extended = await runPurchase<
    RentalRecord,
    RentalEvent,
    TransitionNotAllowed,
    RentalNotFound,
    RentalNotFound | TransitionNotAllowed | InsufficientFunds | ProviderUnavailable,
    ExtendedRental,
    { priceMinor: number; costMinor: number },
    PurchaseFailed | ProviderUnavailable | TransitionNotAllowed
  >(ctx, {
    kind: rentalKind,
    operation: "rental.extend",
    providerCall: "extendRental",
    request: { rentalId: r.id, hours: req.hours },
    walletId: r.walletId,
    key: req.idempotencyKey,
    actor,
    loadFor: () => ({ rentalId: r.id }),
    prepare: async () => {
      if (r.state !== "active" || r.providerRentalId === null)
        return err(errors.transitionNotAllowed(r.state, "extend_requested"));
      return price(ctx, r.serviceCode, r.countryCode, req.hours, r.currency, r.id);
    },
    reserve: (plan, loaded, _attempt, p) => {
      if (p === undefined) return err(errors.providerUnavailable("extension state lost: retry"));
      // The period's hold id is decided under the lock: two extensions racing get :1 and :2.
      const holdId = rentalHoldId(r.id, loaded.rental?.periods.length ?? r.periods.length);
      return applyEvent(
        ctx,
        rentalKind,
        plan,
        loaded,
        r.id,
        { type: "extend_requested", holdId, hours: req.hours, priceMinor: p.priceMinor },
        { holdId, amountMinor: p.priceMinor },
      ).map(() => ({ id: r.id, holdId }));
    },
    refused: (current, handle) => {
      const period = current.periods.find((p) => p.holdId === handle.holdId);
      return period?.state === "failed" && period.failureReason?.startsWith(REFUSED_PREFIX) === true;
    },
    call: () => ctx.provider.extendRental(r.providerRentalId ?? "", req.hours),
    issued: (handle, ext, _nowMs, _r, p) => ({
      type: "extend_confirmed",
      holdId: handle.holdId,
      endsAtMs: ext.endsAtMs,
      costMinor: p.costMinor,
    }),
    failed: (handle, reason) => ({ type: "extend_failed", holdId: handle.holdId, reason }),
    // The sweeper decided the period from the provider's end already: that decision stands.
    lateAnswer: async () => {},
  });
  if (extended.isErr()) return err(extended.error);
  if (extended.value.kind === "refused") return err(extended.value.error);
  const { record, handle } = extended.value;
  // A replayed extension: the rental, or the same refusal when the provider declined that period.
  const period = record.periods.find((p) => p.holdId === handle.holdId);
  return period?.state === "failed"
    ? err(errors.purchaseFailed(record.id, period.failureReason ?? "declined"))
    : ok(record);
}

/** Who is ending a rental, which decides what a still-active rental upstream means. */
type EndMode = "customer" | "sweep" | "sync";

/**
 * Decides which pending periods happened upstream from the provider's own end: those whose hours add up to how far
 * the provider's end lies past ours (an exact combination when there is one, else in order while they fit) are
 * confirmed, the others released.
 */
export function matchPendingPeriods(
  r: RentalRecord,
  providerEndMs: number,
): { confirmed: string[]; released: string[] } {
  const pending = r.periods.filter((p) => p.state === "pending");
  // Our end is the one the paid periods account for (see the machine's `extend_confirmed`).
  const extraMs = providerEndMs - (r.endsAtMs ?? providerEndMs);
  const toleranceMs = 60_000;
  const n = pending.length;
  let chosen: number | null = null;
  if (n <= 12) {
    for (let mask = 0; mask < 1 << n && chosen === null; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) if (mask & (1 << i)) sum += pending[i]!.hours * HOUR_MS;
      if (Math.abs(sum - extraMs) <= toleranceMs) chosen = mask;
    }
  }
  if (chosen === null) {
    chosen = 0;
    let left = extraMs + toleranceMs;
    pending.forEach((p, i) => {
      if (p.hours * HOUR_MS <= left) {
        chosen! |= 1 << i;
        left -= p.hours * HOUR_MS;
      }
    });
  }
  const mask = chosen;
  return {
    confirmed: pending.filter((_, i) => mask & (1 << i)).map((p) => p.holdId),
    released: pending.filter((_, i) => !(mask & (1 << i))).map((p) => p.holdId),
  };
}

/**
 * The end of a rental decided from its status upstream (see `docs/rental-ends.md`): cancelled upstream with a
 * refund → released; finished → charged (in full, or pro rata up to the recorded request's time); revoked → charged
 * up to the last moment it was known active; still active → nothing ended (a poll records what it saw; the sweeper
 * expires one past its end). Pending extensions are first confirmed or released from the provider's own end (a poll
 * only confirms: an extension may still be in flight); when the provider does not state it, the decision waits.
 */
function decideRental(
  ctx: FesContext,
  r: RentalRecord,
  status: ProviderResult<RentalStatus>,
  mode: EndMode,
): EndDecision<RentalEvent, ProviderUnavailable> {
  if (status.isErr()) return { kind: "defer", error: providerError(status.error) };
  const s = status.value;
  const nowMs = ctx.clock.now();
  const events: RentalEvent[] = [];
  let endsAtMs = r.endsAtMs;
  if (r.periods.some((p) => p.state === "pending") && s.state !== "cancelled") {
    if (s.endsAtMs === null)
      return { kind: "defer", error: errors.providerUnavailable("provider_end_unknown") };
    const matched = matchPendingPeriods(r, s.endsAtMs);
    // A poll can read the provider before an extension still in flight reached it: it confirms what the provider's
    // end shows and releases nothing (the extension's answer, or the end of the rental, decides the rest).
    const released = mode === "sync" ? [] : matched.released;
    events.push({ type: "periods_reconciled", confirmed: matched.confirmed, released, endsAtMs: s.endsAtMs });
    endsAtMs = s.endsAtMs;
  }
  const request = r.endRequest;
  switch (s.state) {
    case "cancelled":
      events.push({ type: "cancel", refunded: true });
      break;
    case "finished":
      if (request != null)
        events.push(request.event === "cancel" ? { type: "cancel", refunded: false } : { type: "finish" });
      else if (endsAtMs !== null && nowMs >= endsAtMs) events.push({ type: "end" });
      else events.push({ type: "finish" });
      break;
    case "revoked":
      events.push({ type: "revoke" });
      break;
    case "active":
      if (mode === "sync") events.push({ type: "observed", messageCount: s.messages.length, atMs: nowMs });
      else if (request != null)
        return { kind: "defer", error: errors.providerUnavailable("end_not_confirmed") };
      else if (mode === "sweep" && endsAtMs !== null && nowMs >= endsAtMs) events.push({ type: "end" });
      break;
  }
  return { kind: "record", events };
}

/**
 * The end of a rental as a spec of the end runner: the recorded request (the customer's cancel or finish) is sent
 * upstream; the answer, or else the provider's status, decides the money.
 */
function rentalEndSpec(
  ctx: FesContext,
  request: EndRequest | null,
  mode: EndMode,
): EndSpec<RentalRecord, RentalEvent, void, RentalStatus, ProviderUnavailable> {
  return {
    name: "rental.end",
    request: request === null ? null : { type: "end_requested", request },
    send: (r) => {
      const req = r.endRequest;
      if (req == null || r.providerRentalId === null) return null;
      const id = r.providerRentalId;
      const refunded = req.event === "cancel" && req.refunded;
      return {
        name: refunded ? "cancelRental" : "finishRental",
        call: () => (refunded ? ctx.provider.cancelRental(id) : ctx.provider.finishRental(id)),
      };
    },
    onAnswer: async (r, answer): Promise<EndDecision<RentalEvent, ProviderUnavailable>> => {
      const req = r.endRequest!;
      // A charged end with an extension still pending is decided from the provider's end, as the sweeper does.
      const charged = (event: RentalEvent): EndDecision<RentalEvent, ProviderUnavailable> =>
        r.periods.some((p) => p.state === "pending")
          ? { kind: "ask_status" }
          : { kind: "record", events: [event] };
      if (answer.isOk()) {
        if (req.event === "cancel" && req.refunded)
          return { kind: "record", events: [{ type: "cancel", refunded: true }] };
        return charged(req.event === "cancel" ? { type: "cancel", refunded: false } : { type: "finish" });
      }
      const f = answer.error;
      if (f.class === "declined" && f.reason === "refund_window_passed") {
        // The provider's window closed first: no refund upstream, so none here; finish it instead.
        const finished = await callProvider(ctx, "finishRental", { rentalId: r.id }, () =>
          ctx.provider.finishRental(r.providerRentalId ?? ""),
        );
        if (finished.isOk()) return charged({ type: "cancel", refunded: false });
      }
      return { kind: "ask_status" };
    },
    readStatus: (r) => ctx.provider.getRentalStatus(r.providerRentalId ?? ""),
    fromStatus: (r, status) => decideRental(ctx, r, status, mode),
  };
}

/** Ends a rental at the customer's request: the request is recorded first, then sent upstream once. */
async function endByCustomer(
  ctx: FesContext,
  event: "cancel" | "finish",
  input: { rentalId: string; idempotencyKey?: string; actor?: string },
): Promise<Result<RentalRecord, InvalidInput | RentalStepError | ProviderUnavailable>> {
  const parsed = parseInput(rentalActionInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const own = await ownRental(ctx, req.rentalId);
  if (own.isErr()) return err(own.error);
  const r = own.value;
  const nowMs = ctx.clock.now();
  const key: StepKey | null =
    req.idempotencyKey === undefined
      ? null
      : { key: req.idempotencyKey, operation: `rental.${event}`, request: { rentalId: r.id } };
  // The refund is decided once, here, and recorded: a retry never recomputes it from the clock.
  const request: EndRequest = {
    event,
    refunded:
      event === "cancel" && isWithinRefundWindow(r, nowMs, ctx.provider.capabilities.rentRefundWindowMs),
    atMs: nowMs,
    reason: "customer",
  };
  if (r.state === "active" && r.providerRentalId === null)
    return err(errors.transitionNotAllowed(r.state, event));
  const ended = await runEnd(
    ctx,
    rentalKind,
    r,
    rentalEndSpec(ctx, request, "customer"),
    req.actor ?? `customer:${r.walletId}`,
    key,
    (x) => x.state === "active",
  );
  // The caller asked to cancel or finish: a refusal names that call, not the step that records it.
  return ended.mapErr((e) =>
    e.type === "transition_not_allowed" && e.event === "end_requested" ? { ...e, event } : e,
  );
}

/**
 * Cancels a rental: inside the provider's refund window the money is released; after it this is an early finish,
 * settled in full or pro rata by the refund policy.
 */
export function cancelRental(
  ctx: FesContext,
  input: { rentalId: string; idempotencyKey?: string; actor?: string },
) {
  return endByCustomer(ctx, "cancel", input);
}

/** Ends a rental early: settled in full or pro rata (up to now) by the refund policy. */
export function finishRental(
  ctx: FesContext,
  input: { rentalId: string; idempotencyKey?: string; actor?: string },
) {
  return endByCustomer(ctx, "finish", input);
}

/**
 * Polls the provider: records how many messages arrived and that the rental was seen active, or ends it as the
 * provider says it ended (revoked, cancelled, finished).
 */
export async function syncRental(
  ctx: FesContext,
  rentalId: string,
): Promise<Result<RentalRecord, RentalStepError | ProviderUnavailable>> {
  const own = await ownRental(ctx, rentalId);
  if (own.isErr()) return err(own.error);
  const r = own.value;
  if (r.state !== "active" || r.providerRentalId === null) return ok(r);
  return runEnd(ctx, rentalKind, r, rentalEndSpec(ctx, null, "sync"), "system:poll", null, () => true);
}

/** What the sweeper did with one rental past its end (or with a lost end step). */
export type RentalSweepOutcome = "ended" | "extended" | "deferred" | "unchanged";

/**
 * The sweeper's end of a rental past its end, or whose recorded end request lost its answer: the request is sent
 * again (ending calls are safe to repeat), else the provider's status decides. A provider that cannot be read
 * defers the decision for at most `providerGraceMs`; then the recorded request, or the expiry, is applied and
 * pending extensions are released.
 */
export async function sweepRental(
  ctx: FesContext,
  r: RentalRecord,
): Promise<
  Result<{ record: RentalRecord; outcome: RentalSweepOutcome }, RentalStepError | ProviderUnavailable>
> {
  const nowMs = ctx.clock.now();
  const ended = await runEnd(
    ctx,
    rentalKind,
    r,
    rentalEndSpec(ctx, null, "sweep"),
    "system:sweep",
    null,
    () => true,
  );
  const outcome = (x: RentalRecord): RentalSweepOutcome =>
    x.state !== "active" ? "ended" : x.endsAtMs !== r.endsAtMs ? "extended" : "unchanged";
  if (ended.isOk()) return ok({ record: ended.value, outcome: outcome(ended.value) });
  if (ended.error.type !== "provider_unavailable") return err(ended.error);
  const since = r.endRequest != null ? r.endRequest.atMs + ctx.pendingGraceMs : (r.endsAtMs ?? nowMs);
  if (nowMs < since + ctx.providerGraceMs) return ok({ record: r, outcome: "deferred" });
  const request = r.endRequest;
  const event: RentalEvent =
    request != null
      ? request.event === "cancel"
        ? { type: "cancel", refunded: request.refunded }
        : { type: "finish" }
      : { type: "end" };
  const stepped = await rentalStep(ctx, r, event, "system:sweep");
  return stepped.map((record) => ({ record, outcome: outcome(record) }));
}

/** The failure reason of a purchase the sweeper released because nothing upstream could be matched to it. */
export const LOST_PURCHASE = "lost_purchase";

/** The end a purchase's first period would have upstream had the provider rented it when it was reserved. */
function expectedEnd(x: RentalRecord): number {
  return x.createdAtMs + (x.periods[0]?.hours ?? 0) * HOUR_MS;
}

/** How far a listed end may lie from {@link expectedEnd}: the answer's grace plus a minute of clock and latency. */
function endTolerance(ctx: FesContext): number {
  return ctx.pendingGraceMs + 60_000;
}

/**
 * Whether the listed rental may be the one this purchase rented: nothing listed contradicts it. A service, country
 * or end the provider does not list is unknown, so it contradicts nothing (and proves nothing: see {@link fits}).
 */
function couldBe(ctx: FesContext, l: ActiveRental, x: RentalRecord): boolean {
  return (
    (l.service === null || l.service === x.serviceCode) &&
    (l.country === null || l.country === x.countryCode) &&
    (l.endsAtMs === null || Math.abs(l.endsAtMs - expectedEnd(x)) <= endTolerance(ctx))
  );
}

/** Whether the listed rental is evidence enough for this purchase: the same service and country, listed, and its end. */
function fits(ctx: FesContext, l: ActiveRental, x: RentalRecord): boolean {
  return l.service !== null && l.country !== null && l.endsAtMs !== null && couldBe(ctx, l, x);
}

/**
 * Reconciles a pending rental purchase against the provider's open rentals. Rentals carry no order id upstream, so
 * a match needs evidence: the same service and country (listed, not assumed), an end where this purchase would end,
 * no record owning it, and no other pending purchase it could be (an answer still in flight: a sibling is never
 * adopted). Without that, the purchase is released; a number it rented is then owned by nobody and is closed by
 * {@link closeOrphanRentals} once no pending purchase can claim it.
 */
export async function reconcileRental(
  ctx: FesContext,
  r: RentalRecord,
  listed: readonly ActiveRental[],
  pendingSiblings: readonly RentalRecord[],
): Promise<Result<{ record: RentalRecord; adopted: boolean }, RentalStepError>> {
  const candidates: ActiveRental[] = [];
  for (const l of listed) {
    if (!fits(ctx, l, r)) continue;
    const taken = await readStorage(() =>
      ctx.storage.read.findRentalByProviderId(ctx.providerName, l.providerRentalId),
    );
    if (taken.isErr()) return err(taken.error);
    if (taken.value === undefined) candidates.push(l);
  }
  const claimed = candidates.some((l) => pendingSiblings.some((s) => s.id !== r.id && couldBe(ctx, l, s)));
  const match = candidates.length === 1 && !claimed ? candidates[0] : undefined;
  if (match === undefined || match.endsAtMs === null) {
    const released = await rentalStep(
      ctx,
      r,
      { type: "purchase_failed", reason: LOST_PURCHASE },
      "system:sweep",
    );
    return released.map((record) => ({ record, adopted: false }));
  }
  const adopted = await rentalStep(
    ctx,
    r,
    {
      type: "issued",
      providerRentalId: match.providerRentalId,
      phone: match.phone,
      endsAtMs: match.endsAtMs,
      costMinor: r.costMinor,
    },
    "system:sweep",
  );
  return adopted.map((record) => ({ record, adopted: true }));
}

/** How long after a purchase was reserved its number, if released as lost, is looked for upstream. */
export function orphanWatchMs(ctx: FesContext): number {
  return ctx.provider.capabilities.rentRefundWindowMs + 2 * ctx.pendingGraceMs;
}

/**
 * Closes the rentals open upstream that belong to nobody: a number listed that could be one of the purchases
 * released as lost, that no record owns and that no pending purchase (an answer in flight, or one the sweeper has
 * yet to reconcile) could be. It is cancelled (inside the provider's refund window the platform is refunded), or
 * finished when the window has passed. `listed` must have been read before `pending`, and ownership is read after
 * both: a purchase that takes a listed number is pending at the first read or owns it at the second.
 */
export async function closeOrphanRentals(
  ctx: FesContext,
  listed: readonly ActiveRental[],
  pending: readonly RentalRecord[],
  released: readonly RentalRecord[],
): Promise<Result<{ closed: ClosedOrphan[]; failures: SweepFailure[] }, StorageFailure>> {
  const closed: ClosedOrphan[] = [];
  const failures: SweepFailure[] = [];
  for (const l of listed) {
    const releasedIds = released.filter((x) => couldBe(ctx, l, x)).map((x) => x.id);
    if (releasedIds.length === 0 || pending.some((x) => couldBe(ctx, l, x))) continue;
    const owner = await readStorage(() =>
      ctx.storage.read.findRentalByProviderId(ctx.providerName, l.providerRentalId),
    );
    if (owner.isErr()) return err(owner.error);
    if (owner.value !== undefined) continue;
    const closing = await closeUpstream(ctx, l.providerRentalId, { rentalId: releasedIds[0] ?? "" });
    if (closing.isOk())
      closed.push({ providerRentalId: l.providerRentalId, closedAs: closing.value, releasedIds });
    else failures.push({ id: l.providerRentalId, error: closing.error });
  }
  return ok({ closed, failures });
}

/**
 * Ends a rental nobody owns upstream: cancelled (refunded inside the provider's window), else finished; `ended`
 * when the provider says it is no longer active. The error is the provider's `class:reason`.
 */
async function closeUpstream(
  ctx: FesContext,
  providerRentalId: string,
  ids: Readonly<Record<string, string>>,
): Promise<Result<ClosedOrphan["closedAs"], string>> {
  const gone = (f: ProviderFailure) => f.class === "declined" && f.reason === "not_active";
  const cancelled = await callProvider(ctx, "cancelRental", ids, () =>
    ctx.provider.cancelRental(providerRentalId),
  );
  if (cancelled.isOk()) return ok("cancelled");
  if (gone(cancelled.error)) return ok("ended");
  if (cancelled.error.class !== "declined" || cancelled.error.reason !== "refund_window_passed")
    return err(`${cancelled.error.class}:${cancelled.error.reason}`);
  const finished = await callProvider(ctx, "finishRental", ids, () =>
    ctx.provider.finishRental(providerRentalId),
  );
  if (finished.isOk()) return ok("finished");
  return gone(finished.error) ? ok("ended") : err(`${finished.error.class}:${finished.error.reason}`);
}
