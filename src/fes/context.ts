import { err, errAsync, ok, type Result, ResultAsync } from "neverthrow";
import type * as z from "zod";
import type { Clock } from "../core/clock.js";
import {
  errors,
  type IdempotencyConflict,
  type InvalidInput,
  issuesFromZod,
  type ProviderMismatch,
  type ProviderUnavailable,
  type StorageFailure,
  type WalletNotFound,
} from "../core/errors.js";
import { InvariantViolation, isInvariantViolation } from "../core/invariant.js";
import type { WalletRecord } from "../core/records.js";
import type { PricingFunction } from "../policy/pricing.js";
import type { RefundPolicy } from "../policy/refund.js";
import type { WaitTimePolicy } from "../policy/wait-time.js";
import type { Provider, ProviderFailure, ProviderResult } from "../provider/port.js";
import type { Loaded, LoadRequest, Storage, StorageTx } from "../storage/port.js";
import { UnitPlan } from "../wallet/unit-plan.js";
import { scopedIdempotencyKey } from "./keys.js";
import type { FesEvent, FesObserver } from "./observer.js";
import { safeParseInput } from "./safe-parse.js";
import { fingerprint, runUnit } from "./unit-of-work.js";

/** Decides whether a service×country may be sold (health policies plug in here). */
export type ServiceGate = (query: {
  service: string;
  country: string;
}) => { readonly enabled: true } | { readonly enabled: false; readonly reason: string };

/** Orders the countries to try for a service (routing by history plugs in here). */
export type CountryRouter = (query: {
  service: string;
  excludeCountries: readonly string[];
}) => readonly string[];

/**
 * Resolves raw provider codes to canonical ids (the catalog plugs in here); `null` when unknown. `unknownService`
 * is `true` when the resolver knows the provider's codes and the service code is none of them: the purchase is
 * refused with `unknown_service_code` before anything is frozen.
 */
export type CodeResolver = (query: { provider: string; service: string; country: string }) => {
  readonly service: string | null;
  readonly country: string | null;
  readonly unknownService?: boolean;
};

/** Everything the operations share. */
export interface FesContext {
  readonly storage: Storage;
  readonly provider: Provider;
  /** The provider's name: the one provider this service serves. */
  readonly providerName: string;
  readonly clock: Clock;
  readonly pricing: PricingFunction;
  readonly policy: RefundPolicy;
  readonly gate: ServiceGate | undefined;
  readonly route: CountryRouter | undefined;
  readonly resolveCodes: CodeResolver | undefined;
  readonly waitTime: WaitTimePolicy;
  readonly observer: FesObserver | undefined;
  /** A monotonic timer for durations reported to the observer (never the business clock). */
  readonly monotonicNow: () => number;
  /** A `pending` purchase older than this is reconciled by the sweeper (longer than a provider call's timeout). */
  readonly pendingGraceMs: number;
  /** How long a decision that needs the provider is deferred while the provider cannot be read. */
  readonly providerGraceMs: number;
  /** After a timeout, buy once more on the next best country. */
  readonly retryOnTimeout: boolean;
  readonly sweepBatchSize: number;
}

/** Reports an event to the observer; an observer that throws is ignored. */
export function emit(ctx: FesContext, event: FesEvent): void {
  if (ctx.observer === undefined) return;
  try {
    ctx.observer.onEvent(event);
  } catch {
    // The observer's failure is never the caller's.
  }
}

/** Validates input at the edge: a typed `invalid_input` error, nothing written. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
): Result<z.output<S>, InvalidInput> {
  const parsed = safeParseInput(schema, input);
  return parsed.success ? ok(parsed.data) : err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
}

/**
 * Validates input, then runs `body` with the parsed request: one `ResultAsync` at the boundary, plain
 * `async`/`await` inside (cheaper than a chain of `ResultAsync` combinators on the hot path).
 */
export function validated<S extends z.ZodType, T, E>(
  schema: S,
  input: unknown,
  body: (request: z.output<S>) => PromiseLike<Result<T, E>>,
): ResultAsync<T, E | InvalidInput> {
  const parsed = parseInput(schema, input);
  if (parsed.isErr()) return errAsync(parsed.error);
  return new ResultAsync(Promise.resolve(body(parsed.value)));
}

/**
 * Calls the provider once; a rejected promise is an `unknown` failure (the call may have happened). Reported to the
 * observer with its duration.
 */
export function callProvider<T>(
  ctx: FesContext,
  name: string,
  ids: Readonly<Record<string, string>>,
  call: () => PromiseLike<ProviderResult<T>>,
): ResultAsync<T, ProviderFailure> {
  return new ResultAsync(
    (async (): Promise<ProviderResult<T>> => {
      const started = ctx.monotonicNow();
      let result: ProviderResult<T>;
      try {
        result = await call();
      } catch (e) {
        result = err({
          class: "unknown",
          reason: "exception",
          detail: e instanceof Error ? e.name : typeof e,
        });
      }
      emit(ctx, {
        kind: "provider",
        name,
        provider: ctx.providerName,
        ids,
        durationMs: ctx.monotonicNow() - started,
        ...(result.isOk()
          ? { outcome: "ok" as const }
          : { outcome: "error" as const, errorType: `${result.error.class}:${result.error.reason}` }),
      });
      return result;
    })(),
  );
}

/** Runs a unit of work reported to the observer (name, ids, duration, attempts, outcome). */
export function observedUnit<T, E>(
  ctx: FesContext,
  name: string,
  ids: Readonly<Record<string, string>>,
  work: (tx: StorageTx) => Promise<Result<T, E>>,
): ResultAsync<T, E | StorageFailure> {
  const started = ctx.monotonicNow();
  let attempts = 0;
  const run = runUnit(ctx.storage, (tx) => {
    attempts++;
    return work(tx);
  });
  if (ctx.observer === undefined) return run;
  return new ResultAsync(
    Promise.resolve(run).then((r) => {
      emit(ctx, {
        kind: "unit",
        name,
        ids,
        durationMs: ctx.monotonicNow() - started,
        attempts,
        ...(r.isOk()
          ? { outcome: "ok" as const }
          : { outcome: "error" as const, errorType: (r.error as { type?: string }).type ?? "error" }),
      });
      return r;
    }),
  );
}

/** A unit of work that moves money for a caller, with its idempotency key. */
export interface MoneyUnit<T, E> {
  readonly operation: string;
  /** What the fingerprint is computed from: the validated request. */
  readonly request: unknown;
  /** The caller's key; stored scoped to `walletIds[0]`, the wallet the call acts on. */
  readonly idempotencyKey: string | null;
  readonly walletIds: readonly string[];
  /** Deterministic and unique per logical step; prefixes every row written. */
  readonly unitKey: string;
  readonly actor: string;
  /** What to read under the locks besides the wallets and the idempotency record. */
  readonly load?: Omit<LoadRequest, "walletIds" | "idempotencyKey">;
  /** The ids the observer is told about. */
  readonly ids?: Readonly<Record<string, string>>;
  /** The decision, pure: from what was loaded, changes the plan and returns the result to store and return. */
  compute(plan: UnitPlan, loaded: Loaded): Result<T, E>;
}

/** A result of {@link replayOrRun}: the value, and whether it was replayed from the idempotency record. */
export interface UnitOutcome<T> {
  readonly value: T;
  readonly replayed: boolean;
}

/**
 * The one replay rule, under the lock: lock wallets (sorted), look up the idempotency key scoped to the wallet
 * (same request → the stored result, no second effect; different request → `idempotency_conflict`), compute the
 * plan, apply it with the idempotency record in the same transaction. A business error writes nothing, not even
 * the key, so a retry can succeed.
 */
export function replayOrRun<T, E>(
  ctx: FesContext,
  unit: MoneyUnit<T, E>,
): ResultAsync<UnitOutcome<T>, E | IdempotencyConflict | StorageFailure> {
  const print = fingerprint(unit.request);
  const nowMs = ctx.clock.now();
  const clientKey = unit.idempotencyKey;
  const stored = clientKey === null ? null : scopedIdempotencyKey(unit.walletIds[0] ?? "", clientKey);
  return observedUnit(
    ctx,
    unit.operation,
    unit.ids ?? {},
    async (tx): Promise<Result<UnitOutcome<T>, E | IdempotencyConflict>> => {
      const loaded = await tx.load({
        walletIds: unit.walletIds,
        ...(stored === null ? {} : { idempotencyKey: stored }),
        ...unit.load,
      });
      if (stored !== null && loaded.idempotency !== undefined) {
        const record = loaded.idempotency;
        return record.operation === unit.operation && record.fingerprint === print
          ? ok({ value: record.result as T, replayed: true })
          : err(errors.idempotencyConflict(clientKey ?? ""));
      }
      const plan = new UnitPlan(unit.unitKey, nowMs, unit.actor, clientKey, loaded.wallets);
      const result = decide(unit.operation, () => unit.compute(plan, loaded));
      if (result.isErr()) return err(result.error);
      await tx.apply(
        plan.build(
          stored === null
            ? undefined
            : {
                key: stored,
                operation: unit.operation,
                fingerprint: print,
                result: result.value,
                createdAtMs: nowMs,
              },
        ),
      );
      return ok({ value: result.value, replayed: false });
    },
  );
}

/**
 * Runs a pure decision. An exception there is a bug (a broken invariant, a policy that is not a function…), never
 * a storage failure to retry or report as such.
 */
export function decide<T>(operation: string, compute: () => T): T {
  try {
    return compute();
  } catch (e) {
    if (isInvariantViolation(e)) throw e;
    throw new InvariantViolation(
      `${operation}: the decision threw: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

/** Finds a locked wallet or returns `wallet_not_found`. */
export function lockedWallet(loaded: Loaded, walletId: string): Result<WalletRecord, WalletNotFound> {
  const w = loaded.wallets.find((x) => x.id === walletId);
  return w === undefined ? err(errors.walletNotFound(walletId)) : ok(w);
}

/** Maps a provider failure to the error returned to the caller when nothing changed. */
export function providerError(failure: ProviderFailure): ProviderUnavailable {
  const cause =
    failure.detail === undefined ? undefined : `${failure.reason}: ${failure.detail.slice(0, 200)}`;
  if (failure.class === "retryable")
    return errors.providerUnavailable(failure.reason, failure.retryAfterMs, cause);
  return errors.providerUnavailable(
    failure.class === "declined" ? failure.reason : `${failure.class}:${failure.reason}`,
    undefined,
    cause,
  );
}

/** A provider-facing call is allowed only on records of the provider this service serves. */
export function ownRecord<R extends { readonly id: string; readonly provider: string }>(
  ctx: FesContext,
  record: R,
): Result<R, ProviderMismatch> {
  return record.provider === ctx.providerName
    ? ok(record)
    : err(errors.providerMismatch(record.id, record.provider, ctx.providerName));
}
