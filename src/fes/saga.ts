import { err, ok, type Result } from "neverthrow";
import type { ActivationEffect } from "../activation/machine.js";
import {
  errors,
  type IdempotencyConflict,
  type InsufficientFunds,
  type ProviderMismatch,
  type ProviderUnavailable,
  type StorageFailure,
} from "../core/errors.js";
import { invariant } from "../core/invariant.js";
import {
  type ActivationRecord,
  type IdempotencyRecord,
  REFUSED_PREFIX,
  type RentalRecord,
} from "../core/records.js";
import type { ProviderFailure, ProviderResult } from "../provider/port.js";
import type { RentalEffect } from "../rental/machine.js";
import type { Loaded, LoadRequest } from "../storage/port.js";
import { UnitPlan } from "../wallet/unit-plan.js";
import { callProvider, decide, type FesContext, observedUnit, ownRecord } from "./context.js";
import { attemptKey, scopedIdempotencyKey } from "./keys.js";
import { fingerprint, readStorage } from "./unit-of-work.js";

/**
 * The step runner shared by activations and rentals (see `docs/saga.md`). Every money-moving call is the same
 * saga: *reserve* (freeze and record `pending` in one unit of work, under the idempotency key) → *call the provider*
 * exactly once → *record the outcome*, or leave it pending when the outcome is unknown. Every end is decided from
 * what the provider says happened and from the decision recorded before the call. The entities differ only in the
 * specs they hand to these runners.
 */

/** A record the runner steps: an activation or a rental. */
export type Entity = ActivationRecord | RentalRecord;

/** The money effects a transition may ask for, from either machine. */
type Effect = ActivationEffect | RentalEffect;

/** What the runner needs to know of an entity kind: how to load it, its machine, how to save it. */
export interface EntityKind<R extends Entity, Ev extends { readonly type: string }, TE, NF> {
  readonly kind: "activation" | "rental";
  /** What to load under the lock for the record `id`. */
  loadOf(id: string): Omit<LoadRequest, "walletIds">;
  fromLoaded(loaded: Loaded): R | undefined;
  read(ctx: FesContext, id: string): Promise<R | undefined>;
  notFound(id: string): NF;
  /** The pure transition of the entity's machine. */
  transition(
    ctx: FesContext,
    r: R,
    event: Ev,
    nowMs: number,
  ): Result<{ next: R; effects: readonly Effect[] }, TE>;
  save(plan: UnitPlan, next: R, expectedVersion: number | null): void;
  /** Audit fields of a record (what changed). */
  audited(r: R): Record<string, unknown>;
}

/**
 * The effect interpreter: applies one event to the loaded record — the pure transition, then its effects as
 * ledger steps of the plan (settle or release a hold, pay cashback, record a late code) — and saves it with a
 * version check. `freeze` places a new hold in the same unit (an extension's period).
 */
export function applyEvent<R extends Entity, Ev extends { readonly type: string }, TE, NF>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  plan: UnitPlan,
  loaded: Loaded,
  id: string,
  event: Ev,
  freeze?: { readonly holdId: string; readonly amountMinor: number },
): Result<R, TE | NF | InsufficientFunds> {
  const r = kind.fromLoaded(loaded);
  if (r === undefined) return err(kind.notFound(id));
  plan.rekey(`${r.id}@v${r.version}`);
  const t = kind.transition(ctx, r, event, plan.nowMs);
  if (t.isErr()) return err(t.error);
  const { next, effects } = t.value;
  if (next === r && freeze === undefined) return ok(r);
  if (freeze !== undefined) {
    const frozen = plan.freeze(r.walletId, {
      id: freeze.holdId,
      amountMinor: freeze.amountMinor,
      ownerType: kind.kind,
      ownerId: r.id,
    });
    if (frozen.isErr()) return err(frozen.error);
  }
  for (const effect of effects) {
    switch (effect.type) {
      case "hold.settle": {
        const hold = loaded.holds.find((h) => h.id === effect.holdId);
        invariant(hold !== undefined, `${kind.kind} ${r.id} has no hold ${effect.holdId}`);
        invariant(
          plan.settle(hold, effect.amountMinor).isOk(),
          `${kind.kind} ${r.id}: hold ${hold.id} could not be resolved`,
        );
        break;
      }
      case "wallet.cashback":
        invariant(
          plan
            .post(
              "cashback",
              r.walletId,
              "credit",
              "promotions",
              effect.amountMinor,
              r.id,
              "timeout cashback",
            )
            .isOk(),
          `${kind.kind} ${r.id}: a cashback of ${effect.amountMinor} could not be credited`,
        );
        break;
      case "late_code":
        plan.audit(`${kind.kind}.late_code`, kind.kind, r.id, null, { code: effect.code });
        break;
    }
  }
  kind.save(plan, next, r.version);
  plan.audit(`${kind.kind}.${event.type}`, kind.kind, r.id, kind.audited(r), kind.audited(next));
  return ok({ ...next, version: r.version + 1 });
}

/** A caller's key on a step, and the operation and request it is recorded under. */
export interface StepKey {
  readonly key: string;
  readonly operation: string;
  readonly request: unknown;
}

/** A stored idempotency record for `key` on the wallet: replay when it is the same request, else a conflict. */
function replayed(stored: IdempotencyRecord | undefined, key: StepKey): Result<boolean, IdempotencyConflict> {
  if (stored === undefined) return ok(false);
  return stored.operation === key.operation && stored.fingerprint === fingerprint(key.request)
    ? ok(true)
    : err(errors.idempotencyConflict(key.key));
}

/** The outcome of a step: the record after it, and whether a key replayed a step made before. */
export interface Stepped<R> {
  readonly record: R;
  readonly replayed: boolean;
}

/**
 * One event on an activation or rental, in one unit of work that locks its wallet and loads it with its holds.
 * With a key, the replay rule runs under the same lock: a key already used for this request replays (the record
 * as it stands now, nothing written), one used for another request is `idempotency_conflict`; otherwise the key is
 * recorded with the step.
 */
export function step<R extends Entity, Ev extends { readonly type: string }, TE, NF>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  entity: { readonly id: string; readonly walletId: string },
  event: Ev,
  actor: string,
  key: StepKey | null = null,
) {
  const stored = key === null ? null : scopedIdempotencyKey(entity.walletId, key.key);
  const nowMs = ctx.clock.now();
  return observedUnit(
    ctx,
    `${kind.kind}.${event.type}`,
    { [`${kind.kind}Id`]: entity.id, walletId: entity.walletId },
    async (tx): Promise<Result<Stepped<R>, TE | NF | IdempotencyConflict>> => {
      const loaded = await tx.load({
        walletIds: [entity.walletId],
        ...(stored === null ? {} : { idempotencyKey: stored }),
        ...kind.loadOf(entity.id),
      });
      if (key !== null) {
        const again = replayed(loaded.idempotency, key);
        if (again.isErr()) return err(again.error);
        if (again.value) {
          const current = kind.fromLoaded(loaded);
          return current === undefined
            ? err(kind.notFound(entity.id))
            : ok({ record: current, replayed: true });
        }
      }
      const plan = new UnitPlan(`${entity.id}@step`, nowMs, actor, key?.key ?? null, loaded.wallets);
      const result = decide(`${kind.kind}.${event.type}`, () =>
        applyEvent(ctx, kind, plan, loaded, entity.id, event),
      );
      if (result.isErr()) {
        invariant(
          (result.error as { type?: string }).type !== "insufficient_funds",
          "a step without a freeze cannot lack funds",
        );
        return err(result.error as TE | NF);
      }
      await tx.apply(
        plan.build(
          stored === null || key === null
            ? undefined
            : {
                key: stored,
                operation: key.operation,
                fingerprint: fingerprint(key.request),
                result: { id: entity.id },
                createdAtMs: nowMs,
              },
        ),
      );
      return ok({ record: result.value, replayed: false });
    },
  );
}

/** Reads a record outside any unit of work, or `not_found`. */
export async function loadRecord<R extends Entity, Ev extends { readonly type: string }, TE, NF>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  id: string,
): Promise<Result<R, NF | StorageFailure>> {
  const read = await readStorage(() => kind.read(ctx, id));
  if (read.isErr()) return err(read.error);
  return read.value === undefined ? err(kind.notFound(id)) : ok(read.value);
}

/** Reads a record this service may act on upstream: `not_found`, or `provider_mismatch` for another provider's. */
export async function loadOwned<R extends Entity, Ev extends { readonly type: string }, TE, NF>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  id: string,
): Promise<Result<R, NF | ProviderMismatch | StorageFailure>> {
  const r = await loadRecord(ctx, kind, id);
  return r.isErr() ? err(r.error) : ownRecord(ctx, r.value);
}

// ---------------------------------------------------------------------------------------------------------------
// Purchases: buying an activation or a rental, and extending a rental.
// ---------------------------------------------------------------------------------------------------------------

/**
 * The one failure → outcome mapping of a purchase:
 * - `pending`: it may have happened upstream (`unknown`): never sent again, the sweeper reconciles it;
 * - `refused`: nothing was executed upstream (`retryable`): the hold is released, the attempt is recorded as
 *   refused (out of the statistics) and the caller's key may run again;
 * - `failed`: the provider declined (or a configuration bug): released, recorded, replayed to the same key.
 */
export type PurchaseFailure =
  | { readonly kind: "pending" }
  | { readonly kind: "refused"; readonly reason: string; readonly retryAfterMs: number }
  | { readonly kind: "failed"; readonly reason: string };

/** Classifies a provider failure of a purchase. */
export function purchaseFailure(f: ProviderFailure): PurchaseFailure {
  switch (f.class) {
    case "unknown":
      return { kind: "pending" };
    case "retryable":
      return { kind: "refused", reason: `${REFUSED_PREFIX}${f.reason}`, retryAfterMs: f.retryAfterMs };
    case "declined":
      return { kind: "failed", reason: f.reason };
    case "fatal":
      return { kind: "failed", reason: `fatal:${f.reason}` };
  }
}

/** The handle of one purchase attempt, stored as the idempotency result of its key. */
export interface PurchaseHandle {
  /** The activation or rental. */
  readonly id: string;
  /** The hold the attempt placed (an extension's period). */
  readonly holdId: string;
}

/** What differs between purchases (activation, rental, extension): the data and the steps the runner calls. */
export interface PurchaseSpec<
  R extends Entity,
  Ev extends { readonly type: string },
  TE,
  NF,
  RE,
  Issued,
  P,
  PE,
> {
  readonly kind: EntityKind<R, Ev, TE, NF>;
  /** The operation the key is recorded under, e.g. `activation.buy`; also the observer's name of the reserve. */
  readonly operation: string;
  /** The provider method, for the observer. */
  readonly providerCall: string;
  /** The validated request (what the fingerprint is computed from). */
  readonly request: unknown;
  readonly walletId: string;
  readonly key: string;
  readonly actor: string;
  /** What attempt `attempt` locks and loads besides the wallet and its key (the rental an extension adds to). */
  loadFor(attempt: number): Omit<LoadRequest, "walletIds" | "idempotencyKey">;
  /**
   * What a new attempt needs before it reserves (the offer: a quote and the customer price). Only asked when the
   * key has no attempt to replay, so a replay never calls the provider.
   */
  prepare(): Promise<Result<P, PE>>;
  /** Under the lock: freeze the price and record the pending purchase (`prepared` is absent only after a race). */
  reserve(
    plan: UnitPlan,
    loaded: Loaded,
    attempt: number,
    prepared: P | undefined,
  ): Result<PurchaseHandle, RE>;
  /** Whether a stored attempt was refused by the provider (nothing bought), so the key runs again. */
  refused(record: R, handle: PurchaseHandle): boolean;
  /** The provider call: made exactly once per attempt. */
  call(handle: PurchaseHandle, record: R, prepared: P): PromiseLike<ProviderResult<Issued>>;
  /** The event that records the number (or the extension) the provider issued. */
  issued(handle: PurchaseHandle, issued: Issued, nowMs: number, record: R, prepared: P): Ev;
  /** The event that records a purchase that bought nothing. */
  failed(handle: PurchaseHandle, reason: string): Ev;
  /**
   * The provider answered after the sweeper had decided the purchase (`transition_not_allowed`): what to do with
   * what it issued (give back a number nobody owns).
   */
  lateAnswer(current: R, issued: Issued): Promise<void>;
}

/** How a purchase ended for the caller. */
export type PurchaseResult<R> =
  | {
      readonly kind: "recorded";
      readonly record: R;
      readonly handle: PurchaseHandle;
      readonly replayed: boolean;
    }
  | { readonly kind: "refused"; readonly error: ProviderUnavailable };

/** Attempts one key may make after refusals before the runner gives up (a provider refusing forever). */
const MAX_ATTEMPTS = 64;

/**
 * Runs a purchase: reserve under the key (replaying the stored attempt, or starting the next one when the stored
 * attempt was refused), call the provider exactly once, record the outcome. Never sends a reserved attempt twice:
 * a replay reads the record as it stands.
 */
export async function runPurchase<
  R extends Entity,
  Ev extends { readonly type: string },
  TE,
  NF,
  RE,
  Issued,
  P,
  PE,
>(
  ctx: FesContext,
  spec: PurchaseSpec<R, Ev, TE, NF, RE, Issued, P, PE>,
): Promise<
  Result<PurchaseResult<R>, RE | TE | NF | PE | IdempotencyConflict | ProviderUnavailable | StorageFailure>
> {
  const print = fingerprint(spec.request);
  // Whether the key has an attempt to replay decides only whether to prepare an offer; the replay rule itself runs
  // under the lock below.
  let prepared: P | undefined;
  const replayable = await hasReplay(ctx, spec, print);
  if (replayable.isErr()) return err(replayable.error);
  if (!replayable.value) {
    const offer = await spec.prepare();
    if (offer.isErr()) return err(offer.error);
    prepared = offer.value;
  }
  const nowMs = ctx.clock.now();
  const reserved = await observedUnit(
    ctx,
    `${spec.operation}.reserve`,
    { walletId: spec.walletId },
    async (
      tx,
    ): Promise<
      Result<{ handle: PurchaseHandle; replayed: boolean }, RE | IdempotencyConflict | ProviderUnavailable>
    > => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const key = attemptKey(spec.walletId, spec.key, attempt);
        const loaded = await tx.load({
          walletIds: [spec.walletId],
          idempotencyKey: key,
          ...spec.loadFor(attempt),
        });
        const stored = loaded.idempotency;
        if (stored !== undefined) {
          if (stored.operation !== spec.operation || stored.fingerprint !== print)
            return err(errors.idempotencyConflict(spec.key));
          const handle = stored.result as PurchaseHandle;
          const current = spec.kind.fromLoaded(
            await tx.load({ walletIds: [spec.walletId], ...spec.kind.loadOf(handle.id) }),
          );
          if (current !== undefined && spec.refused(current, handle)) continue;
          return ok({ handle, replayed: true });
        }
        const plan = new UnitPlan(`${spec.operation}@${key}`, nowMs, spec.actor, spec.key, loaded.wallets);
        if (prepared === undefined)
          return err(errors.providerUnavailable("purchase raced another attempt: retry"));
        const offer = prepared;
        const handle = decide(spec.operation, () => spec.reserve(plan, loaded, attempt, offer));
        if (handle.isErr()) return err(handle.error);
        await tx.apply(
          plan.build({
            key,
            operation: spec.operation,
            fingerprint: print,
            result: handle.value,
            createdAtMs: nowMs,
          }),
        );
        return ok({ handle: handle.value, replayed: false });
      }
      return err(errors.idempotencyConflict(spec.key));
    },
  );
  if (reserved.isErr()) return err(reserved.error);
  const { handle } = reserved.value;
  const entity = { id: handle.id, walletId: spec.walletId };
  const current = await loadRecord(ctx, spec.kind, handle.id);
  if (current.isErr()) return err(current.error);
  if (reserved.value.replayed || prepared === undefined)
    return ok({ kind: "recorded", record: current.value, handle, replayed: true });
  const offer = prepared;
  const called = await callProvider(ctx, spec.providerCall, { [`${spec.kind.kind}Id`]: handle.id }, () =>
    spec.call(handle, current.value, offer),
  );
  if (called.isOk()) {
    const issued = called.value;
    const event = spec.issued(handle, issued, ctx.clock.now(), current.value, offer);
    const recorded = await step(ctx, spec.kind, entity, event, spec.actor);
    if (recorded.isOk())
      return ok({ kind: "recorded", record: recorded.value.record, handle, replayed: false });
    const e = recorded.error as { type?: string; code?: string };
    if (e.type === "transition_not_allowed") {
      // The answer came after the sweeper had already decided this purchase.
      const now = await loadRecord(ctx, spec.kind, handle.id);
      if (now.isErr()) return err(now.error);
      await spec.lateAnswer(now.value, issued);
      return ok({ kind: "recorded", record: now.value, handle, replayed: false });
    }
    if (e.type === "storage_failure" && e.code?.endsWith("_provider_id") === true) {
      // Another record already owns this provider id: this purchase stays pending; the sweeper releases it.
      return ok({ kind: "recorded", record: current.value, handle, replayed: false });
    }
    return err(recorded.error);
  }
  const failure = purchaseFailure(called.error);
  if (failure.kind === "pending")
    return ok({ kind: "recorded", record: current.value, handle, replayed: false });
  const failed = await step(ctx, spec.kind, entity, spec.failed(handle, failure.reason), spec.actor);
  if (failed.isErr()) return err(failed.error);
  if (failure.kind === "refused") {
    return ok({ kind: "refused", error: errors.providerUnavailable(failure.reason, failure.retryAfterMs) });
  }
  return ok({ kind: "recorded", record: failed.value.record, handle, replayed: false });
}

/** Reads (without locks) whether the key has a stored attempt that is not refused: a replay needs no offer. */
async function hasReplay<R extends Entity, Ev extends { readonly type: string }, TE, NF, RE, Issued, P, PE>(
  ctx: FesContext,
  spec: PurchaseSpec<R, Ev, TE, NF, RE, Issued, P, PE>,
  print: string,
): Promise<Result<boolean, IdempotencyConflict | StorageFailure>> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await readStorage(() =>
      ctx.storage.read.getIdempotency(attemptKey(spec.walletId, spec.key, attempt)),
    );
    if (stored.isErr()) return err(stored.error);
    if (stored.value === undefined) return ok(false);
    if (stored.value.operation !== spec.operation || stored.value.fingerprint !== print)
      return err(errors.idempotencyConflict(spec.key));
    const handle = stored.value.result as PurchaseHandle;
    const record = await readStorage(() => spec.kind.read(ctx, handle.id));
    if (record.isErr()) return err(record.error);
    if (record.value === undefined || !spec.refused(record.value, handle)) return ok(true);
  }
  return ok(true);
}

// ---------------------------------------------------------------------------------------------------------------
// Ends: cancel, finish, timeout, expiry, revocation — decided from what the provider says happened.
// ---------------------------------------------------------------------------------------------------------------

/** What an end step decided: the events to record, or why it cannot decide yet. */
export type EndDecision<Ev, E> =
  | { readonly kind: "record"; readonly events: readonly Ev[] }
  /** Ask the provider for the record's status and decide from it. */
  | { readonly kind: "ask_status" }
  /** Nothing can be decided now (the provider cannot be read): the record stays as it is. */
  | { readonly kind: "defer"; readonly error: E };

/** What differs between ends: the request recorded first, the provider call, and how answers are read. */
export interface EndSpec<R extends Entity, Ev extends { readonly type: string }, Answer, Status, E> {
  /** The observer's name of the end, e.g. `activation.cancel`. */
  readonly name: string;
  /** The event that records the request before the call (first request wins); `null` when nothing is asked. */
  readonly request: Ev | null;
  /** The provider call that ends it upstream (from the record as it stands, with its recorded request), if any. */
  send: (r: R) => { readonly name: string; readonly call: () => PromiseLike<ProviderResult<Answer>> } | null;
  /** Reads the provider's answer to `send`. */
  onAnswer(r: R, answer: ProviderResult<Answer>): Promise<EndDecision<Ev, E>> | EndDecision<Ev, E>;
  /** Reads the record's status upstream. */
  readStatus(r: R): PromiseLike<ProviderResult<Status>>;
  /** Decides from the provider's status (or its failure to answer). */
  fromStatus(r: R, status: ProviderResult<Status>): EndDecision<Ev, E>;
}

/**
 * Runs an end: records the request (when there is one) under the caller's key, calls the provider once for what the
 * recorded request asks, and records what the provider says happened. A key already used replays the record as it
 * stands, and resumes the end when it is still open (ending calls are safe to send again; purchases never are).
 */
export async function runEnd<
  R extends Entity,
  Ev extends { readonly type: string },
  TE,
  NF,
  Answer,
  Status,
  E,
>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  record: R,
  spec: EndSpec<R, Ev, Answer, Status, E>,
  actor: string,
  key: StepKey | null,
  isOpen: (r: R) => boolean,
): Promise<Result<R, TE | NF | E | IdempotencyConflict | StorageFailure>> {
  let current = record;
  if (spec.request !== null || key !== null) {
    const requested =
      spec.request === null
        ? await keyOnly(ctx, kind, record, actor, key!)
        : await step(ctx, kind, record, spec.request, actor, key);
    if (requested.isErr()) return err(requested.error);
    current = requested.value.record;
    if (!isOpen(current)) return ok(current);
  }
  let decision: EndDecision<Ev, E> = { kind: "ask_status" };
  const sending = spec.send(current);
  if (sending !== null) {
    const { name, call } = sending;
    const answer = await callProvider(ctx, name, { [`${kind.kind}Id`]: current.id }, call);
    decision = await spec.onAnswer(current, answer);
  }
  if (decision.kind === "ask_status") {
    const status = await callProvider(
      ctx,
      `get${kind.kind === "activation" ? "Activation" : "Rental"}Status`,
      {
        [`${kind.kind}Id`]: current.id,
      },
      () => spec.readStatus(current),
    );
    decision = spec.fromStatus(current, status);
  }
  if (decision.kind === "defer") return err(decision.error);
  if (decision.kind === "ask_status") return ok(current);
  for (const event of decision.events) {
    const stepped = await step(ctx, kind, current, event, actor);
    if (stepped.isErr()) {
      // Another worker recorded the end first: the record as it stands is the answer.
      if ((stepped.error as { type?: string }).type === "transition_not_allowed") {
        const now = await loadRecord(ctx, kind, current.id);
        return now.isErr() ? err(now.error) : ok(now.value);
      }
      return err(stepped.error);
    }
    current = stepped.value.record;
  }
  return ok(current);
}

/** Records only a caller's key against a record (replay or conflict under the lock), writing nothing else. */
async function keyOnly<R extends Entity, Ev extends { readonly type: string }, TE, NF>(
  ctx: FesContext,
  kind: EntityKind<R, Ev, TE, NF>,
  record: R,
  actor: string,
  key: StepKey,
): Promise<Result<Stepped<R>, NF | IdempotencyConflict | StorageFailure>> {
  const stored = scopedIdempotencyKey(record.walletId, key.key);
  const nowMs = ctx.clock.now();
  return observedUnit(
    ctx,
    `${kind.kind}.key`,
    { [`${kind.kind}Id`]: record.id },
    async (tx): Promise<Result<Stepped<R>, NF | IdempotencyConflict>> => {
      const loaded = await tx.load({
        walletIds: [record.walletId],
        idempotencyKey: stored,
        ...kind.loadOf(record.id),
      });
      const current = kind.fromLoaded(loaded);
      if (current === undefined) return err(kind.notFound(record.id));
      const again = replayed(loaded.idempotency, key);
      if (again.isErr()) return err(again.error);
      if (!again.value) {
        const plan = new UnitPlan(`${record.id}@key`, nowMs, actor, key.key, loaded.wallets);
        await tx.apply(
          plan.build({
            key: stored,
            operation: key.operation,
            fingerprint: fingerprint(key.request),
            result: { id: record.id },
            createdAtMs: nowMs,
          }),
        );
      }
      return ok({ record: current, replayed: again.value });
    },
  );
}
