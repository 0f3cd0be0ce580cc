import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { type ActivationEvent, transitionActivation } from "../activation/machine.js";
import {
  type ActivationNotFound,
  type CurrencyMismatch,
  errors,
  type IdempotencyConflict,
  type InsufficientFunds,
  type InvalidInput,
  type ProviderUnavailable,
  type PurchaseFailed,
  type ServiceDisabled,
  type StorageFailure,
  type TooEarlyToCancel,
  type TransitionNotAllowed,
  type WalletNotFound,
} from "../core/errors.js";
import { activationHoldId } from "../core/ids.js";
import { invariant } from "../core/invariant.js";
import type { ActivationRecord } from "../core/records.js";
import { readStorage } from "../core/unit-of-work.js";
import type { ProviderFailure, Quote } from "../provider/port.js";
import type { Loaded } from "../storage/port.js";
import type { UnitPlan } from "../wallet/unit-plan.js";
import {
  callProvider,
  type FesContext,
  parseInput,
  providerError,
  runEntityStep,
  runMoneyUnit,
  validated,
} from "./context.js";
import { activationActionInput, buyActivationInput, codeInput } from "./schemas.js";

/** Errors of a step on an existing activation. */
export type ActivationStepError =
  | ActivationNotFound
  | TransitionNotAllowed
  | TooEarlyToCancel
  | IdempotencyConflict
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
  | PurchaseFailed
  | ProviderUnavailable
  | StorageFailure;

/** A chosen offer: where to buy and at what customer price. */
interface Offer {
  readonly country: string;
  readonly quote: Quote;
  readonly priceMinor: number;
  readonly costMinor: number;
}

/** The failure reason of a cancel the wait-time policy made. */
export const WAIT_TIME_REASON = "wait_time";

/** Declines that mean "try another country" rather than "give up". */
const ROUTABLE: ReadonlySet<string> = new Set([
  "no_numbers",
  "service_unavailable",
  "price_too_low",
  "banned",
]);

/** The activation operations of the service. */
export function activationOperations(ctx: FesContext) {
  const caps = ctx.provider.capabilities;

  /**
   * Applies one event to an activation in one unit of work: lock the wallet, reload the activation under the lock,
   * run the pure transition, turn its effects into ledger steps, save with a version check.
   */
  const step = (
    activation: Pick<ActivationRecord, "id" | "walletId">,
    event: ActivationEvent,
    actor: string,
    idempotencyKey: string | null = null,
    /** The operation and request the idempotency key is recorded under, when not the event itself. */
    as?: { operation: string; request: unknown },
  ): ResultAsync<ActivationRecord, ActivationStepError> =>
    runEntityStep(ctx, {
      kind: "activation",
      entity: activation,
      event,
      actor,
      idempotencyKey,
      as,
      compute: (plan, loaded) => applyEvent(plan, loaded, activation.id, event),
      reload: load,
    });

  /** Records an idempotency key for a call whose outcome is the activation as it stands (nothing else written). */
  const remember = (
    a: ActivationRecord,
    key: string | null,
    actor: string,
    as: { operation: string; request: unknown },
  ): ResultAsync<ActivationRecord, ActivationStepError> =>
    key === null
      ? load(a.id)
      : runMoneyUnit(ctx, {
          operation: as.operation,
          request: as.request,
          idempotencyKey: key,
          walletIds: [a.walletId],
          unitKey: `${a.id}@remember`,
          actor,
          load: { activationId: a.id },
          compute: (_plan, loaded) =>
            loaded.activation === undefined ? err(errors.activationNotFound(a.id)) : ok(loaded.activation),
        }).andThen((o) => (o.replayed ? load(a.id) : okAsync(o.value)));

  const applyEvent = (
    plan: UnitPlan,
    loaded: Loaded,
    activationId: string,
    event: ActivationEvent,
  ): Result<ActivationRecord, ActivationNotFound | TransitionNotAllowed | TooEarlyToCancel> => {
    const a = loaded.activation;
    if (a === undefined) return err(errors.activationNotFound(activationId));
    plan.rekey(`${a.id}@v${a.version}`);
    const t = transitionActivation(a, event, {
      nowMs: plan.nowMs,
      policy: ctx.policy,
      earlyCancelWindowMs: caps.earlyCancelWindowMs,
    });
    if (t.isErr()) return err(t.error);
    const { next, effects } = t.value;
    if (next === a) return ok(a);
    for (const effect of effects) {
      switch (effect.type) {
        case "hold.settle": {
          const hold = loaded.holds.find((h) => h.id === effect.holdId);
          invariant(hold !== undefined, `activation ${a.id} has no hold ${effect.holdId}`);
          const settled = plan.settle(hold, effect.amountMinor);
          invariant(settled.isOk(), `activation ${a.id}: hold ${hold.id} could not be resolved`);
          break;
        }
        case "wallet.cashback": {
          const paid = plan.post(
            "cashback",
            a.walletId,
            "credit",
            "promotions",
            effect.amountMinor,
            a.id,
            "timeout cashback",
          );
          invariant(paid.isOk(), "a credit cannot fail");
          break;
        }
        case "late_code":
          plan.audit("activation.late_code", "activation", a.id, null, { code: effect.code });
          break;
      }
    }
    plan.saveActivation(next, a.version);
    plan.audit(`activation.${event.type}`, "activation", a.id, { state: a.state }, { state: next.state });
    return ok({ ...next, version: a.version + 1 });
  };

  const load = (activationId: string): ResultAsync<ActivationRecord, ActivationNotFound | StorageFailure> =>
    readStorage(() => ctx.storage.read.getActivation(activationId)).andThen((a) =>
      a === undefined ? errAsync(errors.activationNotFound(activationId)) : okAsync(a),
    );

  const findActivation = (input: {
    activationId?: string | undefined;
    providerActivationId?: string | undefined;
  }) =>
    (input.activationId !== undefined
      ? readStorage(() => ctx.storage.read.getActivation(input.activationId!))
      : readStorage(() => ctx.storage.read.findActivationByProviderId(caps.name, input.providerActivationId!))
    ).andThen((a) =>
      a === undefined
        ? errAsync(errors.activationNotFound(input.activationId ?? input.providerActivationId ?? ""))
        : okAsync(a),
    );

  /** A purchase that ended without a number is an error for the caller; the record stays for the statistics. */
  const asPurchaseResult = (a: ActivationRecord): Result<ActivationRecord, PurchaseFailed> =>
    a.state === "failed" ? err(errors.purchaseFailed(a.id, a.failureReason ?? "failed")) : ok(a);

  /** Finds where to buy: the country asked for, or the router's candidates for `auto`, skipping disabled ones. */
  const chooseOffer = (
    req: { service: string; country: string },
    walletCurrency: string,
    activationId: string,
  ): ResultAsync<Offer, InvalidInput | ServiceDisabled | PurchaseFailed | ProviderUnavailable> => {
    const auto = req.country === "auto";
    if (auto && ctx.route === undefined) {
      return errAsync(
        errors.invalidInput([{ path: "country", message: 'country "auto" needs a router in the config' }]),
      );
    }
    const candidates = auto
      ? (ctx.route?.({ service: req.service, excludeCountries: [] }) ?? [])
      : [req.country];
    const tryFrom = (
      i: number,
      last: PurchaseFailed | ServiceDisabled | ProviderUnavailable,
    ): ResultAsync<Offer, ServiceDisabled | PurchaseFailed | ProviderUnavailable> => {
      const country = candidates[i];
      if (country === undefined) return errAsync(last);
      const next = (e: PurchaseFailed | ServiceDisabled | ProviderUnavailable) =>
        auto ? tryFrom(i + 1, e) : errAsync(e);
      const gate = ctx.gate?.(canonical(req.service, country)) ?? { enabled: true as const };
      if (!gate.enabled) return next(errors.serviceDisabled(req.service, country, gate.reason));
      return callProvider(() => ctx.provider.quote({ service: req.service, country }))
        .orElse((f) => errAsync(quoteError(f, activationId)))
        .andThen((quote) => {
          if (quote.stock <= 0) return errAsync(errors.purchaseFailed(activationId, "no_numbers"));
          const price = ctx.pricing({
            kind: "activation",
            service: req.service,
            country,
            providerPrice: quote.price,
            providerCurrency: quote.currency,
            walletCurrency,
          });
          return price.isErr()
            ? errAsync(errors.purchaseFailed(activationId, price.error.type))
            : okAsync({ country, quote, ...price.value });
        })
        .orElse((e) => next(e));
    };
    return tryFrom(0, errors.serviceDisabled(req.service, req.country, "no country available"));
  };

  const quoteError = (f: ProviderFailure, id: string): PurchaseFailed | ProviderUnavailable =>
    f.class === "declined" && ROUTABLE.has(f.reason) ? errors.purchaseFailed(id, f.reason) : providerError(f);

  const canonical = (service: string, country: string) => {
    const c = ctx.resolveCodes?.({ provider: caps.name, service, country });
    return { service: c?.service ?? service, country: c?.country ?? country };
  };

  /** Steps 2 and 3 of the purchase saga: ask the provider, then record the number or the failure. */
  const execute = (
    a: ActivationRecord,
    offer: Offer,
    actor: string,
  ): ResultAsync<ActivationRecord, BuyActivationError> =>
    callProvider(() =>
      ctx.provider.buyActivation({
        service: a.serviceCode,
        country: a.countryCode,
        maxPrice: offer.quote.price,
        orderId: a.id,
      }),
    )
      .andThen((issued) => {
        const nowMs = ctx.clock.now();
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
        const lifetimeEndMs = issued.endsAtMs ?? nowMs + caps.activationLifetimeMs;
        const wait = waitUntil(a, nowMs, lifetimeEndMs);
        return step(
          a,
          {
            type: "issued",
            providerActivationId: issued.providerActivationId,
            phone: issued.phone,
            costMinor: cost?.isOk() ? cost.value.costMinor : offer.costMinor,
            deadlineAtMs: wait.deadlineAtMs,
            ...(wait.experiment === undefined ? {} : { experiment: wait.experiment }),
          },
          actor,
        ).orElse((e) =>
          e.type === "transition_not_allowed"
            ? // The answer came after the sweeper had already decided this purchase.
              load(a.id).andThen((current) => settleLateAnswer(current, issued.providerActivationId))
            : errAsync(e),
        );
      })
      .orElse((e) => {
        if ("class" in e) {
          // An unknown outcome is never retried: the activation stays pending and the sweeper reconciles it.
          if (e.class === "unknown") return load(a.id);
          return step(
            a,
            { type: "purchase_failed", reason: e.class === "declined" ? e.reason : `${e.class}:${e.reason}` },
            actor,
          );
        }
        return errAsync(e);
      })
      .andThen((r) => asPurchaseResult(r));

  /**
   * The activation's deadline: issue + the wait-time policy's answer clamped to [early-cancel window, lifetime];
   * without a policy, the provider's end.
   */
  const waitUntil = (a: ActivationRecord, nowMs: number, lifetimeEndMs: number) => {
    if (ctx.waitTime === undefined) return { deadlineAtMs: lifetimeEndMs, experiment: undefined };
    const lifetimeMs = Math.max(0, lifetimeEndMs - nowMs);
    const decision = ctx.waitTime.decide({
      activationId: a.id,
      service: a.service ?? a.serviceCode,
      country: a.country ?? a.countryCode,
      provider: a.provider,
      issuedAtMs: nowMs,
      lifetimeMs,
      earlyCancelWindowMs: caps.earlyCancelWindowMs,
    });
    const waitMs = Number.isFinite(decision.waitMs) ? decision.waitMs : lifetimeMs;
    const clamped = Math.min(lifetimeMs, Math.max(caps.earlyCancelWindowMs, Math.round(waitMs)));
    return { deadlineAtMs: nowMs + clamped, experiment: decision.experiment };
  };

  /**
   * A purchase answered after the sweeper already decided it: reconciled to this number, the answer agrees; released
   * as lost (or given another number), the number just bought belongs to nobody, so it is cancelled upstream (the
   * platform's money comes back) and the purchase stays as decided.
   */
  const settleLateAnswer = (current: ActivationRecord, providerActivationId: string) =>
    current.providerActivationId === providerActivationId
      ? okAsync(current)
      : callProvider(() => ctx.provider.cancelActivation(providerActivationId))
          .orElse(() => okAsync(undefined))
          .map(() => current);

  const buyActivation = (
    input: { walletId: string; service: string; country: string; idempotencyKey: string; actor?: string },
    retryOf: ActivationRecord | null = null,
  ): ResultAsync<ActivationRecord, BuyActivationError> =>
    parseInput(buyActivationInput, input).asyncAndThen((req) => {
      const activationId = `act:${req.idempotencyKey}`;
      const actor = req.actor ?? `customer:${req.walletId}`;
      const replayOrNew = readStorage(() => ctx.storage.read.getIdempotency(req.idempotencyKey));
      return replayOrNew.andThen((stored): ResultAsync<ActivationRecord, BuyActivationError> => {
        if (stored !== undefined) {
          // Same key again: the stored purchase, without asking the provider twice.
          return runMoneyUnit(ctx, purchaseUnit(req, activationId, actor, null, retryOf)).andThen(() =>
            load(activationId).andThen(asPurchaseResult),
          );
        }
        return readStorage(() => ctx.storage.read.getWallet(req.walletId))
          .andThen((w) => (w === undefined ? errAsync(errors.walletNotFound(req.walletId)) : okAsync(w)))
          .andThen((w) => chooseOffer(req, w.currency, activationId))
          .andThen((offer) =>
            runMoneyUnit(ctx, purchaseUnit(req, activationId, actor, offer, retryOf)).andThen((o) =>
              o.replayed
                ? load(activationId).andThen(asPurchaseResult)
                : load(activationId).andThen((a) => execute(a, offer, actor)),
            ),
          );
      });
    });

  /** Step 1 of the purchase saga: freeze the price and record the `pending` activation. */
  const purchaseUnit = (
    req: { walletId: string; service: string; country: string; idempotencyKey: string },
    activationId: string,
    actor: string,
    offer: Offer | null,
    retryOf: ActivationRecord | null,
  ) => ({
    operation: "activation.buy",
    request: {
      walletId: req.walletId,
      service: req.service,
      country: req.country,
      retryOf: retryOf?.id ?? null,
    },
    idempotencyKey: req.idempotencyKey,
    walletIds: [req.walletId],
    unitKey: `${activationId}@v0`,
    actor,
    compute: (
      plan: UnitPlan,
      loaded: Loaded,
    ): Result<{ activationId: string }, WalletNotFound | InsufficientFunds | ProviderUnavailable> => {
      const w = loaded.wallets.find((x) => x.id === req.walletId);
      if (w === undefined) return err(errors.walletNotFound(req.walletId));
      // A replayed key never gets here without an offer; a first call always has one.
      if (offer === null) return err(errors.providerUnavailable("purchase state lost: retry"));
      const holdId = activationHoldId(activationId);
      const frozen = plan.freeze(req.walletId, {
        id: holdId,
        amountMinor: offer.priceMinor,
        ownerType: "activation",
        ownerId: activationId,
      });
      if (frozen.isErr()) return err(frozen.error);
      const names = ctx.resolveCodes?.({ provider: caps.name, service: req.service, country: offer.country });
      const record: ActivationRecord = {
        id: activationId,
        walletId: req.walletId,
        provider: caps.name,
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
        cashbackMinor: 0,
        version: 1,
        experimentId: null,
        experimentArm: null,
      };
      plan.saveActivation(record, null);
      plan.audit("activation.buy", "activation", activationId, null, {
        state: "pending",
        priceMinor: offer.priceMinor,
      });
      return ok({ activationId });
    },
  });

  /**
   * After a timeout (or a wait the wait-time policy ended), buys once more on the router's next best country (key
   * `<id>:retry`, `retryOf` set): the customer pays for at most one success, as the first activation was released.
   * `null` when not applicable.
   */
  const retryAfterTimeout = (
    a: ActivationRecord,
  ): ResultAsync<ActivationRecord | null, BuyActivationError> => {
    const waitEnded = a.state === "cancelled" && a.failureReason === WAIT_TIME_REASON;
    if (!ctx.retryOnTimeout || (a.state !== "timeout" && !waitEnded) || a.retryOf !== null)
      return okAsync(null);
    const next = ctx.route?.({
      service: a.service ?? a.serviceCode,
      excludeCountries: [a.country ?? a.countryCode, a.countryCode],
    })[0];
    if (next === undefined) return okAsync(null);
    return buyActivation(
      {
        walletId: a.walletId,
        service: a.serviceCode,
        country: next,
        idempotencyKey: `${a.id}:retry`,
        actor: "system:retry",
      },
      a,
    );
  };

  return {
    step,
    load,
    buyActivation,
    retryAfterTimeout,

    /**
     * Records a code (from a poll or a webhook). Duplicates are ignored; a code after the activation ended is
     * recorded as a late code and never charged.
     */
    onCode(input: {
      activationId?: string;
      providerActivationId?: string;
      code: string;
      /** When the code reached the provider (a webhook's `receivedAt`); default: now. */
      receivedAtMs?: number;
      actor?: string;
    }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError> {
      return parseInput(codeInput, input).asyncAndThen((req) =>
        findActivation(req).andThen((a) =>
          step(
            a,
            { type: "code", code: req.code, receivedAtMs: req.receivedAtMs ?? ctx.clock.now() },
            req.actor ?? "provider",
          ),
        ),
      );
    },

    /**
     * Polls the provider: records a new code, or ends an activation the provider ended without one (expired
     * before our deadline, timeout after it). `ended` upstream never by itself proves a refund: a code seen wins.
     */
    pollActivation(
      activationId: string,
    ): ResultAsync<ActivationRecord, ActivationStepError | ProviderUnavailable> {
      return load(activationId).andThen((a) => {
        if ((a.state !== "waiting" && a.state !== "received") || a.providerActivationId === null)
          return okAsync(a);
        return callProvider(() => ctx.provider.getActivationStatus(a.providerActivationId!))
          .mapErr(providerError)
          .andThen((status): ResultAsync<ActivationRecord, ActivationStepError | ProviderUnavailable> => {
            if (status.state === "code") return step(a, { type: "code", code: status.code }, "system:poll");
            if (status.state === "ended" && a.state === "waiting") {
              // Ended at or after our deadline is a timeout, and a timeout is retried whoever notices it first.
              return step(a, { type: "provider_ended", reason: "provider_ended" }, "system:poll").andThen(
                (ended) =>
                  retryAfterTimeout(ended)
                    .map(() => ended)
                    .orElse(() => okAsync(ended)),
              );
            }
            return okAsync(a);
          });
      });
    },

    /** Asks for another code on the same number (free); the activation stays `received`. */
    requestAnotherCode(input: {
      activationId: string;
      actor?: string;
    }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable> {
      return parseInput(activationActionInput, input).asyncAndThen((req) =>
        load(req.activationId).andThen((a) => {
          if (a.state !== "received" || a.providerActivationId === null || a.closedAtMs !== null) {
            return errAsync(
              errors.transitionNotAllowed(a.closedAtMs !== null ? "closed" : a.state, "another_code"),
            );
          }
          return callProvider(() => ctx.provider.requestAnotherCode(a.providerActivationId!))
            .mapErr(providerError)
            .map(() => a);
        }),
      );
    },

    /**
     * Cancels an activation that has no code yet: refused inside the provider's early-cancel window with the time
     * to wait. A code that arrives while the cancel is in flight wins: the result is the `received` activation.
     */
    cancelActivation(input: {
      activationId: string;
      idempotencyKey?: string;
      actor?: string;
    }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError | ProviderUnavailable> {
      return validated(activationActionInput, input, async (req) => {
        const found = await load(req.activationId);
        if (found.isErr()) return err(found.error);
        const a = found.value;
        const actor = req.actor ?? `customer:${a.walletId}`;
        const key = req.idempotencyKey ?? null;
        const as = { operation: "activation.cancel", request: { activationId: a.id } };
        if (key !== null) {
          // A key already used replays (or conflicts) without asking the provider again.
          const stored = await readStorage(() => ctx.storage.read.getIdempotency(key));
          if (stored.isErr()) return err(stored.error);
          if (stored.value !== undefined) return step(a, { type: "cancel" }, actor, key, as);
        }
        const dryRun = transitionActivation(
          a,
          { type: "cancel" },
          { nowMs: ctx.clock.now(), policy: ctx.policy, earlyCancelWindowMs: caps.earlyCancelWindowMs },
        );
        if (dryRun.isErr()) return err(dryRun.error);
        const id = a.providerActivationId ?? "";
        const called = await callProvider(() => ctx.provider.cancelActivation(id));
        let codes: readonly string[] = [];
        if (called.isErr()) {
          const f = called.error;
          if (f.class === "declined" && f.reason === "code_received") {
            codes = f.codes !== undefined && f.codes.length > 0 ? f.codes : ["(code withheld by provider)"];
          } else if (f.class === "declined" && f.reason === "early_cancel") {
            return err(errors.tooEarlyToCancel(f.retryAfterMs ?? caps.earlyCancelWindowMs));
          } else if (f.class === "declined" && (f.reason === "not_active" || f.reason === "not_found")) {
            // Gone upstream: it may have completed with a code never seen here. Ask before releasing.
            const status = await callProvider(() => ctx.provider.getActivationStatus(id));
            if (status.isErr()) return err(providerError(status.error));
            if (status.value.state === "code") codes = [status.value.code];
          } else {
            return err(providerError(f));
          }
        }
        if (codes.length === 0) {
          const cancelled = await step(a, { type: "cancel" }, actor, key, as);
          // A code recorded meanwhile wins over the cancel: the answer is the received activation.
          if (cancelled.isErr() && cancelled.error.type === "transition_not_allowed")
            return remember(a, key, actor, as);
          return cancelled;
        }
        // The code won while the cancel was in flight: the cancel becomes a settle.
        let current = a;
        for (const [i, code] of codes.entries()) {
          const last = i === codes.length - 1;
          const r = await step(
            current,
            { type: "code", code },
            "provider:cancel",
            last ? key : null,
            last ? as : undefined,
          );
          if (r.isErr()) return err(r.error);
          current = r.value;
        }
        return ok(current);
      });
    },

    /** Finishes a received activation: the number stops being usable; the charge stands. */
    finishActivation(input: {
      activationId: string;
      actor?: string;
    }): ResultAsync<ActivationRecord, InvalidInput | ActivationStepError> {
      return parseInput(activationActionInput, input).asyncAndThen((req) =>
        load(req.activationId).andThen((a) => {
          if (a.state !== "received") return errAsync(errors.transitionNotAllowed(a.state, "finish"));
          // Finishing upstream is a courtesy; the money is already settled, so its failure changes nothing here.
          return callProvider(() => ctx.provider.finishActivation(a.providerActivationId ?? ""))
            .orElse(() => okAsync(undefined))
            .andThen(() => step(a, { type: "finish" }, req.actor ?? `customer:${a.walletId}`));
        }),
      );
    },
  };
}
