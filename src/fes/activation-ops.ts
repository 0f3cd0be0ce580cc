import { err, ok, type Result } from "neverthrow";
import {
  type ActivationEvent,
  type ActivationTransitionError,
  activationMachineState,
  canActivation,
  transitionActivation,
} from "../activation/machine.js";
import {
  type ActivationNotFound,
  type CurrencyMismatch,
  errors,
  type IdempotencyConflict,
  type InsufficientFunds,
  type InvalidInput,
  type PriceAboveMax,
  type ProviderMismatch,
  type ProviderUnavailable,
  type PurchaseFailed,
  type ServiceDisabled,
  type StorageFailure,
  type TooEarlyToCancel,
  type TransitionNotAllowed,
  type UnknownServiceCode,
  type WalletNotFound,
} from "../core/errors.js";
import { activationHoldId } from "../core/ids.js";
import { type ActivationRecord, type EndRequest, isRefusedPurchase } from "../core/records.js";
import { WAIT_TIME_POLICY_REASON } from "../policy/wait-time.js";
import type {
  ActivationStatus,
  ActiveActivation,
  IssuedActivation,
  ProviderFailure,
  ProviderResult,
  Quote,
} from "../provider/port.js";
import type { UnitPlan } from "../wallet/unit-plan.js";
import { callProvider, type FesContext, ownRecord, parseInput, providerError } from "./context.js";
import { activationIdFor, derivedKey } from "./keys.js";
import {
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
import { activationActionInput, buyActivationInput, codeInput } from "./schemas.js";
import { readStorage } from "./unit-of-work.js";

/** Errors of a step on an existing activation. */
export type ActivationStepError =
  | ActivationNotFound
  | TransitionNotAllowed
  | TooEarlyToCancel
  | IdempotencyConflict
  | ProviderMismatch
  | StorageFailure;

/** Errors of `buyActivation`. */
export type BuyActivationError =
  | ActivationStepError
  | InvalidInput
  | WalletNotFound
  | CurrencyMismatch
  | InsufficientFunds
  | IdempotencyConflict
  | ServiceDisabled
  | UnknownServiceCode
  | PriceAboveMax
  | PurchaseFailed
  | ProviderUnavailable
  | StorageFailure;

/** Input of `buyActivation`. */
export interface BuyActivationInput {
  readonly walletId: string;
  readonly service: string;
  /** A country code, or `"auto"` to let the router choose. */
  readonly country: string;
  readonly idempotencyKey: string;
  /** The most the customer pays, in minor units: a higher price is refused before anything is frozen. */
  readonly maxPriceMinor?: number;
  readonly actor?: string;
}

/** The activation as the step runner sees it. */
export const activationKind: EntityKind<
  ActivationRecord,
  ActivationEvent,
  ActivationTransitionError,
  ActivationNotFound
> = {
  kind: "activation",
  loadOf: (id) => ({ activationId: id }),
  fromLoaded: (loaded) => loaded.activation,
  read: (ctx, id) => ctx.storage.read.getActivation(id),
  notFound: errors.activationNotFound,
  transition: (ctx, a, event, nowMs) =>
    transitionActivation(a, event, {
      nowMs,
      policy: ctx.policy,
      earlyCancelWindowMs: ctx.provider.capabilities.earlyCancelWindowMs,
    }),
  save: (plan, next, expectedVersion) => plan.saveActivation(next, expectedVersion),
  audited: (a) => ({ state: a.state }),
};

/** A chosen offer: where to buy and at what customer price. */
interface Offer {
  readonly country: string;
  readonly quote: Quote;
  readonly priceMinor: number;
  readonly costMinor: number;
}

/** Declines that mean "try another country" rather than "give up". */
const ROUTABLE: ReadonlySet<string> = new Set([
  "no_numbers",
  "service_unavailable",
  "price_too_low",
  "banned",
]);

/** One event on an activation by the system. */
export function activationStep(
  ctx: FesContext,
  a: Pick<ActivationRecord, "id" | "walletId">,
  event: ActivationEvent,
  actor: string,
) {
  return step(ctx, activationKind, a, event, actor).map((s) => s.record);
}

/** The activation, or `activation_not_found`. */
export function getActivation(ctx: FesContext, activationId: string) {
  return loadRecord(ctx, activationKind, activationId);
}

/** A purchase that ended without a number is an error for the caller; the record stays for the statistics. */
function asPurchaseResult(a: ActivationRecord): Result<ActivationRecord, PurchaseFailed> {
  return a.state === "failed" ? err(errors.purchaseFailed(a.id, a.failureReason ?? "failed")) : ok(a);
}

function canonical(ctx: FesContext, service: string, country: string) {
  const c = ctx.resolveCodes?.({ provider: ctx.providerName, service, country });
  return { service: c?.service ?? service, country: c?.country ?? country };
}

function quoteError(f: ProviderFailure, id: string): PurchaseFailed | ProviderUnavailable {
  if (f.class === "declined" && ROUTABLE.has(f.reason)) return errors.purchaseFailed(id, f.reason);
  if (f.class === "declined" && f.reason === "unknown_service")
    return errors.purchaseFailed(id, "unknown_service");
  return providerError(f);
}

/** Finds where to buy: the country asked for, or the router's candidates for `auto`, skipping disabled ones. */
async function chooseOffer(
  ctx: FesContext,
  req: { service: string; country: string },
  walletCurrency: string,
  activationId: string,
): Promise<Result<Offer, InvalidInput | ServiceDisabled | PurchaseFailed | ProviderUnavailable>> {
  const auto = req.country === "auto";
  if (auto && ctx.route === undefined) {
    return err(
      errors.invalidInput([{ path: "country", message: 'country "auto" needs a router in the config' }]),
    );
  }
  const candidates = auto
    ? (ctx.route?.({ service: req.service, excludeCountries: [] }) ?? [])
    : [req.country];
  let last: PurchaseFailed | ServiceDisabled | ProviderUnavailable = errors.serviceDisabled(
    req.service,
    req.country,
    "no country available",
  );
  for (const country of candidates) {
    const gate = ctx.gate?.(canonical(ctx, req.service, country)) ?? { enabled: true as const };
    if (!gate.enabled) {
      last = errors.serviceDisabled(req.service, country, gate.reason);
    } else {
      const quoted = await callProvider(ctx, "quote", {}, () =>
        ctx.provider.quote({ service: req.service, country }),
      );
      if (quoted.isErr()) last = quoteError(quoted.error, activationId);
      else if (quoted.value.stock <= 0) last = errors.purchaseFailed(activationId, "no_numbers");
      else {
        const price = ctx.pricing({
          kind: "activation",
          service: req.service,
          country,
          providerPrice: quoted.value.price,
          providerCurrency: quoted.value.currency,
          walletCurrency,
        });
        if (price.isOk()) return ok({ country, quote: quoted.value, ...price.value });
        last = errors.purchaseFailed(activationId, price.error.type);
      }
    }
    if (!auto) break;
  }
  return err(last);
}

export { WAIT_TIME_POLICY_REASON };

/**
 * The deadline of an issued activation: issue + the wait-time policy's wait, clamped to the provider's rules, and
 * the experiment arm that chose it.
 */
function deadlineOf(
  ctx: FesContext,
  a: ActivationRecord,
  issued: IssuedActivation,
  nowMs: number,
): { deadlineAtMs: number; experiment?: { id: string; arm: string } } {
  const caps = ctx.provider.capabilities;
  const providerEnd = issued.endsAtMs ?? nowMs + caps.activationLifetimeMs;
  const lifetimeMs = Math.max(0, providerEnd - nowMs);
  const { waitMs, experiment } = ctx.waitTime.decide({
    activationId: a.id,
    service: a.service ?? a.serviceCode,
    country: a.country ?? a.countryCode,
    provider: ctx.providerName,
    issuedAtMs: nowMs,
    lifetimeMs,
    earlyCancelWindowMs: caps.earlyCancelWindowMs,
    retryOf: a.retryOf,
  });
  const wait = Number.isFinite(waitMs) ? waitMs : lifetimeMs;
  const deadlineAtMs = nowMs + Math.min(lifetimeMs, Math.max(caps.earlyCancelWindowMs, wait));
  return experiment === undefined
    ? { deadlineAtMs }
    : { deadlineAtMs, experiment: { id: experiment.id, arm: experiment.arm } };
}

/** What can refuse a purchase before anything is frozen. */
type PrepareError =
  | StorageFailure
  | WalletNotFound
  | InvalidInput
  | ServiceDisabled
  | PurchaseFailed
  | ProviderUnavailable
  | PriceAboveMax;

/** Buys an activation: reserve, call the provider once, record the number or the failure. */
export async function buyActivation(
  ctx: FesContext,
  input: BuyActivationInput,
  retryOf: ActivationRecord | null = null,
): Promise<Result<ActivationRecord, BuyActivationError>> {
  const parsed = parseInput(buyActivationInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const actor = req.actor ?? `customer:${req.walletId}`;
  const known = ctx.resolveCodes?.({
    provider: ctx.providerName,
    service: req.service,
    country: req.country,
  });
  if (known?.unknownService === true) return err(errors.unknownServiceCode(req.service, ctx.providerName));
  const bought = await runPurchase<
    ActivationRecord,
    ActivationEvent,
    ActivationTransitionError,
    ActivationNotFound,
    WalletNotFound | InsufficientFunds | ProviderUnavailable,
    IssuedActivation,
    Offer,
    PrepareError
  >(ctx, {
    kind: activationKind,
    operation: "activation.buy",
    providerCall: "buyActivation",
    request: {
      walletId: req.walletId,
      service: req.service,
      country: req.country,
      retryOf: retryOf?.id ?? null,
      maxPriceMinor: req.maxPriceMinor,
    },
    walletId: req.walletId,
    key: req.idempotencyKey,
    actor,
    loadFor: () => ({}),
    prepare: async (): Promise<Result<Offer, PrepareError>> => {
      const w = await readStorage(() => ctx.storage.read.getWallet(req.walletId));
      if (w.isErr()) return err(w.error);
      if (w.value === undefined) return err(errors.walletNotFound(req.walletId));
      const offer = await chooseOffer(
        ctx,
        req,
        w.value.currency,
        activationIdFor(req.walletId, req.idempotencyKey, 0),
      );
      if (offer.isErr()) return err(offer.error);
      if (req.maxPriceMinor !== undefined && offer.value.priceMinor > req.maxPriceMinor)
        return err(errors.priceAboveMax(offer.value.priceMinor, req.maxPriceMinor));
      return ok(offer.value);
    },
    reserve: (plan: UnitPlan, loaded, attempt, offer) => {
      const w = loaded.wallets.find((x) => x.id === req.walletId);
      if (w === undefined) return err(errors.walletNotFound(req.walletId));
      if (offer === undefined) return err(errors.providerUnavailable("purchase state lost: retry"));
      const id = activationIdFor(req.walletId, req.idempotencyKey, attempt);
      const holdId = activationHoldId(id);
      const frozen = plan.freeze(req.walletId, {
        id: holdId,
        amountMinor: offer.priceMinor,
        ownerType: "activation",
        ownerId: id,
      });
      if (frozen.isErr()) return err(frozen.error);
      const names = ctx.resolveCodes?.({
        provider: ctx.providerName,
        service: req.service,
        country: offer.country,
      });
      const record: ActivationRecord = {
        id,
        walletId: req.walletId,
        provider: ctx.providerName,
        providerActivationId: null,
        serviceCode: req.service,
        countryCode: offer.country,
        service: names?.service ?? null,
        country: names?.country ?? null,
        state: "pending",
        phone: null,
        priceMinor: offer.priceMinor,
        costMinor: offer.costMinor,
        currency: w.currency,
        codes: [],
        lateCodes: [],
        holdId,
        retryOf: retryOf?.id ?? null,
        failureReason: null,
        createdAtMs: plan.nowMs,
        issuedAtMs: null,
        firstCodeAtMs: null,
        endedAtMs: null,
        closedAtMs: null,
        deadlineAtMs: null,
        experimentId: null,
        experimentArm: null,
        cashbackMinor: 0,
        endRequest: null,
        version: 1,
      };
      plan.saveActivation(record, null);
      plan.audit("activation.buy", "activation", id, null, {
        state: "pending",
        priceMinor: offer.priceMinor,
      });
      return ok({ id, holdId });
    },
    refused: (a) => isRefusedPurchase(a),
    call: (_handle, a, offer) =>
      ctx.provider.buyActivation({
        service: a.serviceCode,
        country: a.countryCode,
        maxPrice: offer.quote.price,
        orderId: a.id,
      }),
    issued: (_handle, issued, nowMs, a, offer) => {
      const cost =
        issued.cost === null
          ? undefined
          : ctx.pricing({
              kind: "activation",
              service: a.serviceCode,
              country: a.countryCode,
              providerPrice: issued.cost,
              providerCurrency: issued.currency ?? offer.quote.currency,
              walletCurrency: a.currency,
            });
      return {
        type: "issued",
        providerActivationId: issued.providerActivationId,
        phone: issued.phone,
        costMinor: cost?.isOk() ? cost.value.costMinor : offer.costMinor,
        ...deadlineOf(ctx, a, issued, nowMs),
      };
    },
    failed: (_handle, reason) => ({ type: "purchase_failed", reason }),
    lateAnswer: async (current, issued) => {
      // Reconciled to this number, the answer agrees; released as lost (or given another number), the number just
      // bought belongs to nobody, so it is cancelled upstream (the platform's money comes back).
      if (current.providerActivationId === issued.providerActivationId) return;
      await callProvider(ctx, "cancelActivation", { activationId: current.id }, () =>
        ctx.provider.cancelActivation(issued.providerActivationId),
      );
    },
  });
  if (bought.isErr()) return err(bought.error);
  if (bought.value.kind === "refused") return err(bought.value.error);
  return asPurchaseResult(bought.value.record);
}

/** What an activation end may answer besides the record. */
type EndError = ProviderUnavailable | TooEarlyToCancel;

/**
 * The cancel of an activation, as an end spec: the recorded request (a customer's or the wait-time policy's) is
 * sent upstream; a code that arrived meanwhile wins (the cancel becomes a settle); a provider that cannot say what
 * happened leaves the activation as it is, its request recorded, for the sweeper.
 */
function cancelSpec(
  ctx: FesContext,
  request: EndRequest | null,
  accepted: ActivationEvent = { type: "cancel" },
): EndSpec<ActivationRecord, ActivationEvent, void, ActivationStatus, EndError> {
  const caps = ctx.provider.capabilities;
  return {
    name: "activation.cancel",
    request: request === null ? null : { type: "cancel_requested", request },
    send: (a) => ({
      name: "cancelActivation",
      call: () => ctx.provider.cancelActivation(a.providerActivationId ?? ""),
    }),
    onAnswer: (_a, answer): EndDecision<ActivationEvent, EndError> => {
      if (answer.isOk()) return { kind: "record", events: [accepted] };
      const f = answer.error;
      if (f.class === "declined" && f.reason === "code_received") {
        const codes = f.codes !== undefined && f.codes.length > 0 ? f.codes : ["(code withheld by provider)"];
        return { kind: "record", events: codes.map((code) => ({ type: "code", code })) };
      }
      if (f.class === "declined" && f.reason === "early_cancel")
        return { kind: "defer", error: errors.tooEarlyToCancel(f.retryAfterMs ?? caps.earlyCancelWindowMs) };
      // Gone upstream, or no clear answer: it may have completed with a code never seen here. Ask.
      return { kind: "ask_status" };
    },
    readStatus: (a) => ctx.provider.getActivationStatus(a.providerActivationId ?? ""),
    fromStatus: (_a, status) => decideFromStatus(status, "cancel_not_confirmed"),
  };
}

/** The code a status shows: a code, or the code of an activation the provider completed. */
function shownCode(status: ActivationStatus): string | undefined {
  return status.state === "code" || status.state === "ended" ? status.code : undefined;
}

/**
 * An end decided from the activation's status upstream: a code settles (also the code of an activation the
 * provider completed), an end without one ends, anything else waits.
 */
function decideFromStatus(
  status: ProviderResult<ActivationStatus>,
  waitingReason: string,
): EndDecision<ActivationEvent, EndError> {
  if (status.isErr()) return { kind: "defer", error: providerError(status.error) };
  const code = shownCode(status.value);
  if (code !== undefined) return { kind: "record", events: [{ type: "code", code }] };
  switch (status.value.state) {
    case "ended":
      return { kind: "record", events: [{ type: "provider_ended", reason: "provider_ended" }] };
    default:
      return { kind: "defer", error: errors.providerUnavailable(waitingReason) };
  }
}

/** Finds an activation by id or by the provider's id (of the provider this service serves). */
async function findActivation(
  ctx: FesContext,
  input: { activationId?: string | undefined; providerActivationId?: string | undefined },
): Promise<Result<ActivationRecord, ActivationNotFound | StorageFailure>> {
  if (input.activationId !== undefined) return getActivation(ctx, input.activationId);
  const id = input.providerActivationId ?? "";
  const found = await readStorage(() => ctx.storage.read.findActivationByProviderId(ctx.providerName, id));
  if (found.isErr()) return err(found.error);
  return found.value === undefined ? err(errors.activationNotFound(id)) : ok(found.value);
}

/** Loads an activation this service may act on upstream. */
function ownActivation(ctx: FesContext, activationId: string) {
  return loadOwned(ctx, activationKind, activationId);
}

/**
 * Records a code (from a poll or a webhook). Duplicates are ignored; a code after the activation ended is recorded
 * as a late code and never charged. Past our deadline a code without its arrival time is judged by the provider
 * (see `receivedAtMs`); when the provider cannot be read the answer is `provider_unavailable`.
 */
export async function onCode(
  ctx: FesContext,
  input: {
    activationId?: string;
    providerActivationId?: string;
    code: string;
    /**
     * When the code reached the provider (a webhook's `receivedAt`). Absent: in time before our deadline; past it,
     * in time when the provider shows that code (it reached a number the provider held: a delivery that reached us
     * late says nothing of when the code reached the provider), else late.
     */
    receivedAtMs?: number;
    actor?: string;
  },
): Promise<Result<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>> {
  const parsed = parseInput(codeInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const found = await findActivation(ctx, req);
  if (found.isErr()) return err(found.error);
  const own = ownRecord(ctx, found.value);
  if (own.isErr()) return err(own.error);
  const a = own.value;
  let receivedAtMs = req.receivedAtMs;
  if (receivedAtMs === undefined) {
    const arrival = await codeArrival(ctx, a, req.code);
    if (arrival.isErr()) return err(arrival.error);
    receivedAtMs = arrival.value;
  }
  return activationStep(
    ctx,
    a,
    { type: "code", code: req.code, ...(receivedAtMs === undefined ? {} : { receivedAtMs }) },
    req.actor ?? "provider",
  );
}

/**
 * When a code given without its arrival time reached the provider, as far as it matters: `undefined` (in time)
 * before our deadline, or past it when the provider shows that code; now (late) when the provider shows no such
 * code. A provider that cannot be read decides nothing: `provider_unavailable` (a webhook is then delivered again)
 * until `providerGraceMs` past the deadline, as the sweeper waits; after that the code is late.
 */
async function codeArrival(
  ctx: FesContext,
  a: ActivationRecord,
  code: string,
): Promise<Result<number | undefined, ProviderUnavailable>> {
  const nowMs = ctx.clock.now();
  if (a.state !== "waiting" || a.deadlineAtMs === null || nowMs < a.deadlineAtMs) return ok(undefined);
  if (a.providerActivationId === null) return ok(nowMs);
  const status = await callProvider(ctx, "getActivationStatus", { activationId: a.id }, () =>
    ctx.provider.getActivationStatus(a.providerActivationId!),
  );
  if (status.isErr()) {
    const undecided = status.error.class !== "declined" && nowMs < a.deadlineAtMs + ctx.providerGraceMs;
    return undecided ? err(providerError(status.error)) : ok(nowMs);
  }
  return ok(shownCode(status.value) === code ? undefined : nowMs);
}

/**
 * After a timeout, buys once more on the router's next best country (a key derived from the activation, `retryOf`
 * set): the customer pays for at most one success, as the timed-out activation was released. `null` when not
 * applicable.
 */
export async function retryAfterTimeout(
  ctx: FesContext,
  a: ActivationRecord,
): Promise<Result<ActivationRecord | null, BuyActivationError>> {
  // A wait the policy ended is a timeout of ours: retried the same way.
  const endedWaiting =
    a.state === "timeout" || (a.state === "cancelled" && a.failureReason === WAIT_TIME_POLICY_REASON);
  if (!ctx.retryOnTimeout || !endedWaiting || a.retryOf !== null) return ok(null);
  const next = ctx.route?.({
    service: a.service ?? a.serviceCode,
    excludeCountries: [a.country ?? a.countryCode, a.countryCode],
  })[0];
  if (next === undefined) return ok(null);
  return buyActivation(
    ctx,
    {
      walletId: a.walletId,
      service: a.serviceCode,
      country: next,
      idempotencyKey: derivedKey(a.id, "retry"),
      actor: "system:retry",
    },
    a,
  );
}

/**
 * Polls the provider: records a new code, or ends an activation the provider ended without one (expired before our
 * deadline, timeout after it, cancelled when a cancel was recorded). `ended` upstream never by itself proves a
 * refund: a code seen wins.
 */
export async function pollActivation(
  ctx: FesContext,
  activationId: string,
): Promise<Result<ActivationRecord, ActivationStepError | ProviderUnavailable>> {
  const own = await ownActivation(ctx, activationId);
  if (own.isErr()) return err(own.error);
  const a = own.value;
  if ((a.state !== "waiting" && a.state !== "received") || a.providerActivationId === null) return ok(a);
  const status = await callProvider(ctx, "getActivationStatus", { activationId: a.id }, () =>
    ctx.provider.getActivationStatus(a.providerActivationId!),
  );
  if (status.isErr()) return err(providerError(status.error));
  const code = shownCode(status.value);
  if (code !== undefined) return activationStep(ctx, a, { type: "code", code }, "system:poll");
  if (status.value.state === "ended" && a.state === "waiting") {
    const ended = await activationStep(
      ctx,
      a,
      { type: "provider_ended", reason: "provider_ended" },
      "system:poll",
    );
    // A timeout is retried whoever notices it first.
    if (ended.isOk()) await retryAfterTimeout(ctx, ended.value);
    return ended;
  }
  return ok(a);
}

/** Asks for another code on the same number (free); the activation stays `received`. */
export async function requestAnotherCode(
  ctx: FesContext,
  input: { activationId: string; actor?: string },
): Promise<Result<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>> {
  const parsed = parseInput(activationActionInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const own = await ownActivation(ctx, parsed.value.activationId);
  if (own.isErr()) return err(own.error);
  const a = own.value;
  const state = activationMachineState(a);
  if (!canActivation(state, "another_code") || a.providerActivationId === null)
    return err(errors.transitionNotAllowed(state, "another_code"));
  const asked = await callProvider(ctx, "requestAnotherCode", { activationId: a.id }, () =>
    ctx.provider.requestAnotherCode(a.providerActivationId!),
  );
  return asked.isErr() ? err(providerError(asked.error)) : ok(a);
}

/**
 * Cancels an activation that has no code yet: refused inside the provider's early-cancel window with the time to
 * wait. The cancel is recorded before the provider call, so a lost answer is decided from it (never a timeout with
 * cashback). A code that arrives while the cancel is in flight wins: the result is the `received` activation.
 */
export async function cancelActivation(
  ctx: FesContext,
  input: { activationId: string; idempotencyKey?: string; actor?: string },
): Promise<Result<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable>> {
  const parsed = parseInput(activationActionInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const req = parsed.value;
  const own = await ownActivation(ctx, req.activationId);
  if (own.isErr()) return err(own.error);
  const a = own.value;
  const key: StepKey | null =
    req.idempotencyKey === undefined
      ? null
      : { key: req.idempotencyKey, operation: "activation.cancel", request: { activationId: a.id } };
  const request: EndRequest = { event: "cancel", refunded: true, atMs: ctx.clock.now(), reason: "customer" };
  const ended = await runEnd(
    ctx,
    activationKind,
    a,
    cancelSpec(ctx, request),
    req.actor ?? `customer:${a.walletId}`,
    key,
    (r) => r.state === "waiting",
  );
  // The caller asked to cancel: a refusal names that call, not the step that records it.
  return ended.mapErr((e) =>
    e.type === "transition_not_allowed" && e.event === "cancel_requested" ? { ...e, event: "cancel" } : e,
  );
}

/** Finishes a received activation: the number stops being usable; the charge stands. */
export async function finishActivation(
  ctx: FesContext,
  input: { activationId: string; actor?: string },
): Promise<Result<ActivationRecord, InvalidInput | ActivationStepError>> {
  const parsed = parseInput(activationActionInput, input);
  if (parsed.isErr()) return err(parsed.error);
  const own = await ownActivation(ctx, parsed.value.activationId);
  if (own.isErr()) return err(own.error);
  const a = own.value;
  const state = activationMachineState(a);
  if (!canActivation(state, "finish")) return err(errors.transitionNotAllowed(state, "finish"));
  // Finishing upstream is a courtesy; the money is already settled, so its failure changes nothing here.
  await callProvider(ctx, "finishActivation", { activationId: a.id }, () =>
    ctx.provider.finishActivation(a.providerActivationId ?? ""),
  );
  return activationStep(ctx, a, { type: "finish" }, parsed.value.actor ?? `customer:${a.walletId}`);
}

/** What the sweeper did with one activation past its deadline (or with a lost cancel). */
export type ActivationSweepOutcome =
  | "timeout"
  | "received"
  | "cancelled"
  | "expired"
  | "deferred"
  | "unchanged";

/**
 * The sweeper's end of an activation past its deadline, or whose recorded cancel lost its answer, decided from
 * what the provider says: a code settles (also on the last poll, and the code of an activation the provider
 * completed); a recorded cancel is sent again and wins over the timeout; an activation the provider still holds past
 * our deadline is cancelled upstream first (our deadline is judged on our clock, the provider's may be behind), and
 * times out only once the provider accepted the cancel or shows it ended without a code — past a deadline the
 * wait-time policy shortened it ends as that policy's cancel; a provider that cannot be read (a refused or lost
 * request) defers the decision, for at most `providerGraceMs` past the deadline.
 */
export async function sweepActivation(
  ctx: FesContext,
  a: ActivationRecord,
): Promise<
  Result<{ record: ActivationRecord; outcome: ActivationSweepOutcome }, ActivationStepError | EndError>
> {
  const nowMs = ctx.clock.now();
  const caps = ctx.provider.capabilities;
  const pastGrace = a.deadlineAtMs !== null && nowMs >= a.deadlineAtMs + ctx.providerGraceMs;
  const outcome = (r: ActivationRecord): ActivationSweepOutcome =>
    r.state === "waiting"
      ? "unchanged"
      : r.state === "received"
        ? "received"
        : (r.state as ActivationSweepOutcome);
  const finalStep = async () => {
    const stepped = await activationStep(ctx, a, { type: "deadline" }, "system:sweep");
    return stepped.map((record) => ({ record, outcome: outcome(record) }));
  };
  const ended = async (
    r: Result<ActivationRecord, ActivationStepError | EndError | IdempotencyConflict | StorageFailure>,
  ) => {
    if (r.isOk()) return ok({ record: r.value, outcome: outcome(r.value) });
    if (r.error.type === "provider_unavailable" || r.error.type === "too_early_to_cancel") {
      if (pastGrace) return finalStep();
      return ok({ record: a, outcome: "deferred" as const });
    }
    return err(r.error);
  };
  if (a.endRequest != null || a.providerActivationId === null) {
    if (a.providerActivationId === null) return finalStep();
    return ended(
      await runEnd(ctx, activationKind, a, cancelSpec(ctx, null), "system:sweep", null, () => true),
    );
  }
  const status = await callProvider(ctx, "getActivationStatus", { activationId: a.id }, () =>
    ctx.provider.getActivationStatus(a.providerActivationId!),
  );
  if (status.isOk() && (status.value.state === "waiting" || status.value.state === "waiting_retry")) {
    const shortened =
      a.issuedAtMs !== null &&
      a.deadlineAtMs !== null &&
      a.deadlineAtMs < a.issuedAtMs + caps.activationLifetimeMs;
    if (!shortened) {
      // Our deadline passed while the provider still holds the number (its clock behind ours): a code may still
      // reach it. Cancel upstream first and decide from the answer: accepted, the refund is certain and it times
      // out; refused because a code arrived, it settles; anything unclear is read from the status.
      return ended(
        await runEnd(
          ctx,
          activationKind,
          a,
          cancelSpec(ctx, null, { type: "deadline" }),
          "system:sweep",
          null,
          () => true,
        ),
      );
    }
    // The wait-time policy ended it before the provider would: cancel upstream first (a code meanwhile wins).
    const request: EndRequest = {
      event: "cancel",
      refunded: true,
      atMs: nowMs,
      reason: WAIT_TIME_POLICY_REASON,
    };
    return ended(
      await runEnd(ctx, activationKind, a, cancelSpec(ctx, request), "system:sweep", null, () => true),
    );
  }
  const decision = decideFromStatus(status, "status_unreadable");
  if (decision.kind !== "record") return ended(err(errors.providerUnavailable("status_unreadable")));
  let current = a;
  for (const event of decision.events) {
    const stepped = await activationStep(ctx, current, event, "system:sweep");
    if (stepped.isErr()) return err(stepped.error);
    current = stepped.value;
  }
  return ok({ record: current, outcome: outcome(current) });
}

/**
 * Reconciles a pending activation purchase against the provider's open activations: by order id where the
 * provider keeps one; else by service, country and time — skipping numbers another record already owns, so two
 * lost purchases of one pair each get their own, and holding back a number another purchase still in flight (pending,
 * not yet due) could equally be answered with: while such a number is the only one that fits, the decision waits
 * (the record stays pending, for at most three grace periods after the purchase). Not found: released.
 */
export async function reconcileActivation(
  ctx: FesContext,
  a: ActivationRecord,
  listed: readonly ActiveActivation[],
): Promise<Result<{ record: ActivationRecord; adopted: boolean }, ActivationStepError>> {
  const caps = ctx.provider.capabilities;
  const fits = (l: ActiveActivation, x: ActivationRecord) =>
    l.orderId === null &&
    l.service === x.serviceCode &&
    l.country === x.countryCode &&
    (l.createdAtMs === null || Math.abs(l.createdAtMs - x.createdAtMs) <= ctx.pendingGraceMs);
  const candidates = listed.filter((l) => l.orderId === a.id || (!caps.supportsOrderId && fits(l, a)));
  const free: ActiveActivation[] = [];
  for (const candidate of candidates) {
    const taken = await readStorage(() =>
      ctx.storage.read.findActivationByProviderId(ctx.providerName, candidate.providerActivationId),
    );
    if (taken.isErr()) return err(taken.error);
    if (taken.value === undefined) free.push(candidate);
  }
  let inFlight: readonly ActivationRecord[] = [];
  // Held back for a few grace periods at most: on a busy pair whose list gives no purchase time some sibling is
  // always in flight, and the hold must not wait for ever.
  const patient = ctx.clock.now() - a.createdAtMs < 3 * ctx.pendingGraceMs;
  if (!caps.supportsOrderId && patient && free.some((l) => l.orderId !== a.id)) {
    // Purchases of this provider whose answers may still come: pending and younger than the grace period.
    const recent = await readStorage(() =>
      ctx.storage.read.listActivations({
        states: ["pending"],
        createdSinceMs: ctx.clock.now() - ctx.pendingGraceMs,
      }),
    );
    if (recent.isErr()) return err(recent.error);
    inFlight = recent.value.filter((s) => s.id !== a.id && s.provider === ctx.providerName);
  }
  const claimable = (l: ActiveActivation) => l.orderId === a.id || !inFlight.some((s) => fits(l, s));
  const match = free.find(claimable);
  if (match === undefined && free.length > 0) return ok({ record: a, adopted: false });
  if (match === undefined) {
    const released = await activationStep(
      ctx,
      a,
      { type: "purchase_failed", reason: "lost_purchase" },
      "system:sweep",
    );
    return released.map((record) => ({ record, adopted: false }));
  }
  const issued = await activationStep(
    ctx,
    a,
    {
      type: "issued",
      providerActivationId: match.providerActivationId,
      phone: match.phone,
      costMinor: a.costMinor,
      deadlineAtMs: match.endsAtMs ?? a.createdAtMs + caps.activationLifetimeMs,
    },
    "system:sweep",
  );
  if (issued.isErr()) return err(issued.error);
  let current = issued.value;
  for (const code of match.codes) {
    const coded = await activationStep(ctx, current, { type: "code", code }, "system:sweep");
    if (coded.isErr()) return err(coded.error);
    current = coded.value;
  }
  return ok({ record: current, adopted: true });
}
