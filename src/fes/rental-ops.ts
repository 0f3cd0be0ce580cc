import { err, errAsync, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import {
  type CurrencyMismatch,
  errors,
  type IdempotencyConflict,
  type InsufficientFunds,
  type InvalidInput,
  type ProviderUnavailable,
  type PurchaseFailed,
  type RentalNotFound,
  type ServiceDisabled,
  type StorageFailure,
  type TransitionNotAllowed,
  type WalletNotFound,
} from "../core/errors.js";
import { rentalHoldId } from "../core/ids.js";
import { invariant } from "../core/invariant.js";
import type { RentalRecord } from "../core/records.js";
import { fingerprint, readStorage } from "../core/unit-of-work.js";
import type { Quote } from "../provider/port.js";
import { isWithinRefundWindow, type RentalEvent, transitionRental } from "../rental/machine.js";
import type { Loaded } from "../storage/port.js";
import type { UnitPlan } from "../wallet/unit-plan.js";
import {
  callProvider,
  type FesContext,
  parseInput,
  providerError,
  runEntityStep,
  runMoneyUnit,
} from "./context.js";
import { buyRentalInput, extendRentalInput, rentalActionInput } from "./schemas.js";

/** Errors of a step on an existing rental. */
export type RentalStepError = RentalNotFound | TransitionNotAllowed | IdempotencyConflict | StorageFailure;

/** Errors of buying or extending a rental. */
export type RentalPurchaseError =
  | RentalStepError
  | InvalidInput
  | WalletNotFound
  | CurrencyMismatch
  | InsufficientFunds
  | ServiceDisabled
  | PurchaseFailed
  | ProviderUnavailable;

/** The rental operations of the service. */
export function rentalOperations(ctx: FesContext) {
  const caps = ctx.provider.capabilities;

  const load = (rentalId: string): ResultAsync<RentalRecord, RentalNotFound | StorageFailure> =>
    readStorage(() => ctx.storage.read.getRental(rentalId)).andThen((r) =>
      r === undefined ? errAsync(errors.rentalNotFound(rentalId)) : okAsync(r),
    );

  const applyEvent = (
    plan: UnitPlan,
    loaded: Loaded,
    rentalId: string,
    event: RentalEvent,
    freeze?: { holdId: string; amountMinor: number },
  ): Result<RentalRecord, RentalNotFound | TransitionNotAllowed | InsufficientFunds> => {
    const r = loaded.rental;
    if (r === undefined) return err(errors.rentalNotFound(rentalId));
    plan.rekey(`${r.id}@v${r.version}`);
    const t = transitionRental(r, event, {
      nowMs: plan.nowMs,
      policy: ctx.policy,
      rentRefundWindowMs: caps.rentRefundWindowMs,
    });
    if (t.isErr()) return err(t.error);
    if (freeze !== undefined) {
      const frozen = plan.freeze(r.walletId, {
        id: freeze.holdId,
        amountMinor: freeze.amountMinor,
        ownerType: "rental",
        ownerId: r.id,
      });
      if (frozen.isErr()) return err(frozen.error);
    }
    for (const effect of t.value.effects) {
      const hold = loaded.holds.find((h) => h.id === effect.holdId);
      invariant(hold !== undefined, `rental ${r.id} has no hold ${effect.holdId}`);
      invariant(
        plan.settle(hold, effect.amountMinor).isOk(),
        `rental ${r.id}: hold ${hold.id} could not be resolved`,
      );
    }
    plan.saveRental(t.value.next, r.version);
    plan.audit(
      `rental.${event.type}`,
      "rental",
      r.id,
      { state: r.state, endsAtMs: r.endsAtMs },
      {
        state: t.value.next.state,
        endsAtMs: t.value.next.endsAtMs,
      },
    );
    return ok({ ...t.value.next, version: r.version + 1 });
  };

  /** Applies one event to a rental in one unit of work. */
  const step = (
    rental: Pick<RentalRecord, "id" | "walletId">,
    event: RentalEvent,
    actor: string,
    idempotencyKey: string | null = null,
    /** The operation and request the idempotency key is recorded under, when not the event itself. */
    as?: { operation: string; request: unknown },
  ): ResultAsync<RentalRecord, RentalStepError> =>
    runEntityStep(ctx, {
      kind: "rental",
      entity: rental,
      event,
      actor,
      idempotencyKey,
      as,
      reload: load,
      compute: (plan, loaded) => {
        const r = applyEvent(plan, loaded, rental.id, event);
        invariant(
          r.isOk() || r.error.type !== "insufficient_funds",
          "a rental step without a freeze cannot lack funds",
        );
        return r as Result<RentalRecord, RentalNotFound | TransitionNotAllowed>;
      },
    });

  const price = (service: string, country: string, hours: number, walletCurrency: string, id: string) =>
    callProvider(() => ctx.provider.quoteRental({ service, country, hours }))
      .mapErr((f) => (f.class === "declined" ? errors.purchaseFailed(id, f.reason) : providerError(f)))
      .andThen((quote: Quote) => {
        if (quote.stock <= 0) return errAsync(errors.purchaseFailed(id, "no_numbers"));
        const p = ctx.pricing({
          kind: "rental",
          service,
          country,
          hours,
          providerPrice: quote.price,
          providerCurrency: quote.currency,
          walletCurrency,
        });
        return p.isErr() ? errAsync(errors.purchaseFailed(id, p.error.type)) : okAsync(p.value);
      });

  const asPurchaseResult = (r: RentalRecord): Result<RentalRecord, PurchaseFailed> =>
    r.state === "failed" ? err(errors.purchaseFailed(r.id, r.failureReason ?? "failed")) : ok(r);

  /**
   * Ends a rental at the customer's request: upstream first (a refunded cancel inside the window, else a finish),
   * then the ledger. A key already used replays (or conflicts) without calling the provider again. A rental the
   * provider already took back is recorded as revoked, whatever the customer asked.
   */
  const endWith = (
    r: RentalRecord,
    event: "cancel" | "finish",
    actor: string,
    key: string | null,
  ): ResultAsync<RentalRecord, RentalStepError | ProviderUnavailable> =>
    new ResultAsync(
      (async (): Promise<Result<RentalRecord, RentalStepError | ProviderUnavailable>> => {
        const as = { operation: `rental.${event}`, request: { rentalId: r.id } };
        const record = (ending: RentalEvent) => step(r, ending, actor, key, as);
        if (key !== null) {
          const stored = await readStorage(() => ctx.storage.read.getIdempotency(key));
          if (stored.isErr()) return err(stored.error);
          if (stored.value !== undefined) return record({ type: event });
        }
        if (r.state !== "active" || r.providerRentalId === null)
          return err(errors.transitionNotAllowed(r.state, event));
        const id = r.providerRentalId;
        const refunded =
          event === "cancel" && isWithinRefundWindow(r, ctx.clock.now(), caps.rentRefundWindowMs);
        const called = await callProvider(() =>
          refunded ? ctx.provider.cancelRental(id) : ctx.provider.finishRental(id),
        );
        let ending: RentalEvent = event === "cancel" ? { type: "cancel", refunded } : { type: "finish" };
        if (called.isErr()) {
          const f = called.error;
          const gone = f.class === "declined" && (f.reason === "not_active" || f.reason === "not_found");
          if (f.class === "declined" && f.reason === "refund_window_passed") {
            // The provider's window closed first: no refund upstream, so none here; finish it instead.
            const finished = await callProvider(() => ctx.provider.finishRental(id));
            if (finished.isErr()) return err(providerError(finished.error));
            ending = { type: "cancel", refunded: false };
          } else if (gone) {
            // Ended upstream already: if the provider took it back, the revoke policy applies, not the request.
            const status = await callProvider(() => ctx.provider.getRentalStatus(id));
            if (status.isOk() && status.value.state === "revoked") ending = { type: "revoke" };
          } else {
            return err(providerError(f));
          }
        }
        return record(ending);
      })(),
    );

  /** A replayed extension: the rental, or the same refusal when the provider declined that period. */
  const declinedExtension = (r: RentalRecord, holdId: string): Result<RentalRecord, PurchaseFailed> => {
    const period = r.periods.find((x) => x.holdId === holdId);
    return period?.state === "failed"
      ? err(errors.purchaseFailed(r.id, period.failureReason ?? "declined"))
      : ok(r);
  };

  return {
    load,
    step,

    /** Rents a number for `hours`: the price stays frozen until the rental ends. */
    buyRental(input: {
      walletId: string;
      service: string;
      country: string;
      hours: number;
      idempotencyKey: string;
      actor?: string;
    }): ResultAsync<RentalRecord, RentalPurchaseError> {
      return parseInput(buyRentalInput, input).asyncAndThen((req) => {
        const rentalId = `rent:${req.idempotencyKey}`;
        const actor = req.actor ?? `customer:${req.walletId}`;
        const request = {
          walletId: req.walletId,
          service: req.service,
          country: req.country,
          hours: req.hours,
        };
        // The gate judges the ids the statistics are kept under: canonical where the catalog resolves them.
        const names = ctx.resolveCodes?.({ provider: caps.name, service: req.service, country: req.country });
        const gate = ctx.gate?.({
          service: names?.service ?? req.service,
          country: names?.country ?? req.country,
        }) ?? {
          enabled: true as const,
        };
        if (!gate.enabled) return errAsync(errors.serviceDisabled(req.service, req.country, gate.reason));
        return readStorage(() => ctx.storage.read.getIdempotency(req.idempotencyKey)).andThen(
          (stored): ResultAsync<RentalRecord, RentalPurchaseError> => {
            if (stored !== undefined) {
              return stored.operation === "rental.buy" && stored.fingerprint === fingerprint(request)
                ? load(rentalId).andThen(asPurchaseResult)
                : errAsync(errors.idempotencyConflict(req.idempotencyKey));
            }
            return readStorage(() => ctx.storage.read.getWallet(req.walletId))
              .andThen((w) => (w === undefined ? errAsync(errors.walletNotFound(req.walletId)) : okAsync(w)))
              .andThen((w) =>
                price(req.service, req.country, req.hours, w.currency, rentalId).map((p) => ({ w, p })),
              )
              .andThen(({ w, p }) =>
                runMoneyUnit(ctx, {
                  operation: "rental.buy",
                  request,
                  idempotencyKey: req.idempotencyKey,
                  walletIds: [req.walletId],
                  unitKey: `${rentalId}@v0`,
                  actor,
                  compute: (plan) => {
                    const holdId = rentalHoldId(rentalId, 0);
                    const frozen = plan.freeze(req.walletId, {
                      id: holdId,
                      amountMinor: p.priceMinor,
                      ownerType: "rental",
                      ownerId: rentalId,
                    });
                    if (frozen.isErr()) return err(frozen.error);
                    const names = ctx.resolveCodes?.({
                      provider: caps.name,
                      service: req.service,
                      country: req.country,
                    });
                    plan.saveRental(
                      {
                        id: rentalId,
                        walletId: req.walletId,
                        provider: caps.name,
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
                        version: 1,
                      },
                      null,
                    );
                    plan.audit("rental.buy", "rental", rentalId, null, {
                      state: "pending",
                      priceMinor: p.priceMinor,
                    });
                    return ok({ rentalId });
                  },
                }).andThen((o) =>
                  o.replayed
                    ? load(rentalId)
                    : callProvider(() =>
                        ctx.provider.rent({
                          service: req.service,
                          country: req.country,
                          hours: req.hours,
                          orderId: rentalId,
                        }),
                      )
                        .andThen((issued) =>
                          step(
                            { id: rentalId, walletId: req.walletId },
                            {
                              type: "issued",
                              providerRentalId: issued.providerRentalId,
                              phone: issued.phone,
                              endsAtMs: issued.endsAtMs,
                              costMinor: p.costMinor,
                            },
                            actor,
                          ).orElse((e) =>
                            e.type === "transition_not_allowed"
                              ? // Answered after the sweeper decided: a number nobody owns is given back upstream.
                                load(rentalId).andThen((current) =>
                                  current.providerRentalId === issued.providerRentalId
                                    ? okAsync(current)
                                    : callProvider(() => ctx.provider.cancelRental(issued.providerRentalId))
                                        .orElse(() => okAsync(undefined))
                                        .map(() => current),
                                )
                              : errAsync(e),
                          ),
                        )
                        .orElse((e) => {
                          if (!("class" in e)) return errAsync(e);
                          if (e.class === "unknown") return load(rentalId);
                          const reason = e.class === "declined" ? e.reason : `${e.class}:${e.reason}`;
                          return step(
                            { id: rentalId, walletId: req.walletId },
                            { type: "purchase_failed", reason },
                            actor,
                          );
                        }),
                ),
              )
              .andThen((r) => asPurchaseResult(r));
          },
        );
      });
    },

    /** Extends an active rental: the extra price is frozen as a new hold and settled when the rental ends. */
    extendRental(input: {
      rentalId: string;
      hours: number;
      idempotencyKey: string;
      actor?: string;
    }): ResultAsync<RentalRecord, RentalPurchaseError> {
      return parseInput(extendRentalInput, input).asyncAndThen((req) =>
        load(req.rentalId).andThen((r): ResultAsync<RentalRecord, RentalPurchaseError> => {
          const actor = req.actor ?? `customer:${r.walletId}`;
          return readStorage(() => ctx.storage.read.getIdempotency(req.idempotencyKey)).andThen(
            (stored): ResultAsync<RentalRecord, RentalPurchaseError> => {
              const unit = (p: { priceMinor: number } | null) =>
                runMoneyUnit(ctx, {
                  operation: "rental.extend",
                  request: { rentalId: r.id, hours: req.hours },
                  idempotencyKey: req.idempotencyKey,
                  walletIds: [r.walletId],
                  unitKey: `${r.id}@extend`,
                  actor,
                  load: { rentalId: r.id },
                  compute: (
                    plan: UnitPlan,
                    loaded: Loaded,
                  ): Result<
                    { rentalId: string; holdId: string },
                    ProviderUnavailable | RentalNotFound | TransitionNotAllowed | InsufficientFunds
                  > => {
                    if (p === null) return err(errors.providerUnavailable("extension state lost: retry"));
                    // The period's hold id is decided under the lock: two extensions racing get :1 and :2.
                    const holdId = rentalHoldId(r.id, loaded.rental?.periods.length ?? r.periods.length);
                    return applyEvent(
                      plan,
                      loaded,
                      r.id,
                      { type: "extend_requested", holdId, hours: req.hours, priceMinor: p.priceMinor },
                      { holdId, amountMinor: p.priceMinor },
                    ).map(() => ({ rentalId: r.id, holdId }));
                  },
                });
              if (stored !== undefined) {
                // Replay: the stored extension, or the same refusal if the provider declined it.
                return unit(null).andThen((o) =>
                  load(r.id).andThen((cur) => declinedExtension(cur, o.value.holdId)),
                );
              }
              if (r.state !== "active" || r.providerRentalId === null)
                return errAsync(errors.transitionNotAllowed(r.state, "extend_requested"));
              const providerRentalId = r.providerRentalId;
              return price(r.serviceCode, r.countryCode, req.hours, r.currency, r.id)
                .andThen((p) => unit(p).map((o) => ({ o, p })))
                .andThen(({ o, p }) => {
                  const extended = o.value;
                  if (o.replayed) {
                    return load(r.id).andThen((cur) => declinedExtension(cur, extended.holdId));
                  }
                  return callProvider(() => ctx.provider.extendRental(providerRentalId, req.hours))
                    .andThen((ext) =>
                      step(
                        r,
                        {
                          type: "extend_confirmed",
                          holdId: extended.holdId,
                          endsAtMs: ext.endsAtMs,
                          costMinor: p.costMinor,
                        },
                        actor,
                      ),
                    )
                    .orElse((e) => {
                      if (!("class" in e)) return errAsync(e);
                      // Unknown: the period stays pending; when the rental ends its hold is released.
                      if (e.class === "unknown") return load(r.id);
                      const reason = e.class === "declined" ? e.reason : `${e.class}:${e.reason}`;
                      return step(
                        r,
                        { type: "extend_failed", holdId: extended.holdId, reason },
                        actor,
                      ).andThen(() => errAsync(errors.purchaseFailed(r.id, reason)));
                    });
                });
            },
          );
        }),
      );
    },

    /**
     * Cancels a rental: inside the provider's refund window the money is released; after it this is an early
     * finish, settled in full or pro rata by the refund policy.
     */
    cancelRental(input: { rentalId: string; idempotencyKey?: string; actor?: string }) {
      return parseInput(rentalActionInput, input).asyncAndThen((req) =>
        load(req.rentalId).andThen((r) =>
          endWith(r, "cancel", req.actor ?? `customer:${r.walletId}`, req.idempotencyKey ?? null),
        ),
      );
    },

    /** Ends a rental early: settled in full or pro rata by the refund policy. */
    finishRental(input: { rentalId: string; idempotencyKey?: string; actor?: string }) {
      return parseInput(rentalActionInput, input).asyncAndThen((req) =>
        load(req.rentalId).andThen((r) =>
          endWith(r, "finish", req.actor ?? `customer:${r.walletId}`, req.idempotencyKey ?? null),
        ),
      );
    },

    /** Polls the provider: counts new messages and applies a revocation (`STATUS_REVOKE`). */
    syncRental(rentalId: string): ResultAsync<RentalRecord, RentalStepError | ProviderUnavailable> {
      return load(rentalId).andThen((r) => {
        if (r.state !== "active" || r.providerRentalId === null) return okAsync(r);
        return callProvider(() => ctx.provider.getRentalStatus(r.providerRentalId!))
          .mapErr(providerError)
          .andThen((status): ResultAsync<RentalRecord, RentalStepError | ProviderUnavailable> => {
            const fresh = status.messages.length - r.messageCount;
            const afterSms = fresh > 0 ? step(r, { type: "sms", count: fresh }, "system:poll") : okAsync(r);
            return status.state === "revoked"
              ? afterSms.andThen((cur) => step(cur, { type: "revoke" }, "system:poll"))
              : afterSms;
          });
      });
    },
  };
}
