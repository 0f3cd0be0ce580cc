import { err, errAsync, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import type * as z from "zod";
import type { Clock } from "../core/clock.js";
import {
  errors,
  type IdempotencyConflict,
  type InvalidInput,
  issuesFromZod,
  type ProviderUnavailable,
  type StorageFailure,
  type WalletNotFound,
} from "../core/errors.js";
import { InvariantViolation } from "../core/invariant.js";
import type { WalletRecord } from "../core/records.js";
import { fingerprint, runUnit } from "../core/unit-of-work.js";
import type { PricingFunction } from "../policy/pricing.js";
import type { RefundPolicy } from "../policy/refund.js";
import type { WaitTimePolicy } from "../policy/wait-time.js";
import type { Provider, ProviderFailure, ProviderResult } from "../provider/port.js";
import type { Loaded, LoadRequest, Storage } from "../storage/port.js";
import { UnitPlan } from "../wallet/unit-plan.js";

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

/** Resolves raw provider codes to canonical ids (the catalog plugs in here); `null` when unknown. */
export type CodeResolver = (query: { provider: string; service: string; country: string }) => {
  readonly service: string | null;
  readonly country: string | null;
};

/** Everything the operations share. */
export interface FesContext {
  readonly storage: Storage;
  readonly provider: Provider;
  readonly clock: Clock;
  readonly pricing: PricingFunction;
  readonly policy: RefundPolicy;
  readonly gate: ServiceGate | undefined;
  readonly route: CountryRouter | undefined;
  readonly resolveCodes: CodeResolver | undefined;
  /** How long an activation waits for its first code; `undefined`: the provider's lifetime. */
  readonly waitTime: WaitTimePolicy | undefined;
  /** A `pending` purchase older than this is reconciled by the sweeper (longer than a provider call's timeout). */
  readonly pendingGraceMs: number;
  /** After a timeout, buy once more on the next best country. */
  readonly retryOnTimeout: boolean;
  readonly sweepBatchSize: number;
}

/** Validates input at the edge: a typed `invalid_input` error, nothing written. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
): Result<z.output<S>, InvalidInput> {
  const parsed = schema.safeParse(input);
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

/** Calls the provider once; a rejected promise is an `unknown` failure (the call may have happened). */
export function callProvider<T>(call: () => PromiseLike<ProviderResult<T>>): ResultAsync<T, ProviderFailure> {
  return new ResultAsync(
    (async (): Promise<ProviderResult<T>> => {
      try {
        return await call();
      } catch (e) {
        return err({ class: "unknown", reason: "exception", detail: e instanceof Error ? e.name : typeof e });
      }
    })(),
  );
}

/** A unit of work that moves money for a caller, with its idempotency key. */
export interface MoneyUnit<T, E> {
  readonly operation: string;
  /** What the fingerprint is computed from: the validated request. */
  readonly request: unknown;
  readonly idempotencyKey: string | null;
  readonly walletIds: readonly string[];
  /** Deterministic and unique per logical step; prefixes every row written. */
  readonly unitKey: string;
  readonly actor: string;
  /** What to read under the locks besides the wallets and the idempotency record. */
  readonly load?: Omit<LoadRequest, "walletIds" | "idempotencyKey">;
  /** The decision, pure: from what was loaded, changes the plan and returns the result to store and return. */
  compute(plan: UnitPlan, loaded: Loaded): Result<T, E>;
}

/** A result of {@link runMoneyUnit}: the value, and whether it was replayed from the idempotency record. */
export interface UnitOutcome<T> {
  readonly value: T;
  readonly replayed: boolean;
}

/**
 * Runs a money unit: lock wallets (sorted), look up the idempotency key (same request → the stored result, no
 * second effect; different request → `idempotency_conflict`), compute the plan, apply it with the idempotency
 * record in the same transaction. A business error writes nothing, not even the key, so a retry can succeed.
 */
export function runMoneyUnit<T, E>(
  ctx: FesContext,
  unit: MoneyUnit<T, E>,
): ResultAsync<UnitOutcome<T>, E | IdempotencyConflict | StorageFailure> {
  const print = fingerprint(unit.request);
  const nowMs = ctx.clock.now();
  return runUnit(ctx.storage, async (tx): Promise<Result<UnitOutcome<T>, E | IdempotencyConflict>> => {
    const loaded = await tx.load({
      walletIds: unit.walletIds,
      ...(unit.idempotencyKey === null ? {} : { idempotencyKey: unit.idempotencyKey }),
      ...unit.load,
    });
    if (unit.idempotencyKey !== null) {
      const stored = loaded.idempotency;
      if (stored !== undefined) {
        return stored.operation === unit.operation && stored.fingerprint === print
          ? ok({ value: stored.result as T, replayed: true })
          : err(errors.idempotencyConflict(unit.idempotencyKey));
      }
    }
    const plan = new UnitPlan(unit.unitKey, nowMs, unit.actor, unit.idempotencyKey, loaded.wallets);
    let result: Result<T, E>;
    try {
      result = unit.compute(plan, loaded);
    } catch (e) {
      // The decision is pure: an exception there is a bug (a broken invariant, a policy that is not a function…),
      // never a storage failure to retry or report as such.
      if (e instanceof InvariantViolation) throw e;
      throw new InvariantViolation(
        `${unit.operation}: the decision threw: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
        },
      );
    }
    if (result.isErr()) return err(result.error);
    const idempotency =
      unit.idempotencyKey === null
        ? undefined
        : {
            key: unit.idempotencyKey,
            operation: unit.operation,
            fingerprint: print,
            result: result.value,
            createdAtMs: nowMs,
          };
    await tx.apply(plan.build(idempotency));
    return ok({ value: result.value, replayed: false });
  });
}

/** Finds a locked wallet or returns `wallet_not_found`. */
export function lockedWallet(loaded: Loaded, walletId: string): Result<WalletRecord, WalletNotFound> {
  const w = loaded.wallets.find((x) => x.id === walletId);
  return w === undefined ? err(errors.walletNotFound(walletId)) : ok(w);
}

/** Maps a provider failure to the error returned to the caller when nothing changed. */
export function providerError(failure: ProviderFailure): ProviderUnavailable {
  if (failure.class === "retryable") return errors.providerUnavailable(failure.reason, failure.retryAfterMs);
  return errors.providerUnavailable(
    failure.class === "declined" ? failure.reason : `${failure.class}:${failure.reason}`,
  );
}

/**
 * One event on an activation or rental, in one unit of work that locks its wallet and loads it with its holds. The
 * idempotency key is recorded under `<kind>.<event>` and the event itself, or under `as` when the call is named
 * otherwise (a cancel that became a settle); a replay returns the record as it stands now.
 */
export function runEntityStep<R, E, L>(
  ctx: FesContext,
  spec: {
    readonly kind: "activation" | "rental";
    readonly entity: { readonly id: string; readonly walletId: string };
    readonly event: { readonly type: string };
    readonly actor: string;
    readonly idempotencyKey: string | null;
    readonly as: { operation: string; request: unknown } | undefined;
    readonly compute: (plan: UnitPlan, loaded: Loaded) => Result<R, E>;
    readonly reload: (id: string) => ResultAsync<R, L>;
  },
): ResultAsync<R, E | L | IdempotencyConflict | StorageFailure> {
  const { kind, entity, event } = spec;
  return runMoneyUnit(ctx, {
    operation: spec.as?.operation ?? `${kind}.${event.type}`,
    request: spec.as?.request ?? { [`${kind}Id`]: entity.id, event },
    idempotencyKey: spec.idempotencyKey,
    walletIds: [entity.walletId],
    unitKey: `${entity.id}@step`,
    actor: spec.actor,
    load: kind === "activation" ? { activationId: entity.id } : { rentalId: entity.id },
    compute: spec.compute,
  }).andThen(
    (o): ResultAsync<R, E | L | IdempotencyConflict | StorageFailure> =>
      o.replayed ? spec.reload(entity.id) : okAsync(o.value),
  );
}
