import { err, ok, type Result, type ResultAsync } from "neverthrow";
import {
  type CurrencyMismatch,
  errors,
  type HoldExists,
  type HoldNotFound,
  type HoldNotOpen,
  type IdempotencyConflict,
  type InsufficientFunds,
  type InvalidInput,
  type ReversalExceedsSettled,
  type SettleExceedsHold,
  type StorageFailure,
  type TransitionNotAllowed,
  type WalletExists,
  type WalletNotFound,
} from "../core/errors.js";
import { manualHoldId } from "../core/ids.js";
import type { HoldRecord, PlatformAccountKind, TransferRecord, WalletRecord } from "../core/records.js";
import type { Loaded } from "../storage/port.js";
import { UnitPlan } from "../wallet/unit-plan.js";
import { type FesContext, lockedWallet, parseInput, replayOrRun, validated } from "./context.js";
import { operationIdFor } from "./keys.js";
import {
  adjustInput,
  createWalletInput,
  creditInput,
  freezeInput,
  moneyMoveInput,
  releaseInput,
  reverseInput,
  settleInput,
  statementInput,
} from "./schemas.js";
import { readStorage, runUnit } from "./unit-of-work.js";

/** A wallet's counters. */
export interface WalletBalance {
  readonly walletId: string;
  readonly currency: string;
  readonly balanceMinor: number;
  readonly frozenMinor: number;
  readonly availableMinor: number;
}

/** The result of a posted money movement. */
export interface MoneyMoved {
  readonly walletId: string;
  readonly transferId: string;
  readonly amountMinor: number;
  readonly balanceAfterMinor: number;
}

/** One line of a wallet statement: a signed amount and the running balance. */
export interface StatementEntry {
  readonly seq: number;
  readonly transferId: string;
  readonly kind: TransferRecord["kind"];
  /** Positive into the wallet, negative out of it. */
  readonly amountMinor: number;
  readonly balanceAfterMinor: number;
  readonly operationId: string;
  readonly reason: string | null;
  readonly atMs: number;
}

/** A page of a wallet statement; pass `nextAfterSeq` as `afterSeq` for the next page (`null` at the end). */
export interface Statement {
  readonly walletId: string;
  readonly entries: readonly StatementEntry[];
  readonly nextAfterSeq: number | null;
}

type MoveError =
  | InvalidInput
  | ReversalExceedsSettled
  | HoldExists
  | WalletNotFound
  | CurrencyMismatch
  | InsufficientFunds
  | IdempotencyConflict
  | StorageFailure;

const balanceOf = (w: WalletRecord): WalletBalance => ({
  walletId: w.id,
  currency: w.currency,
  balanceMinor: w.balanceMinor,
  frozenMinor: w.frozenMinor,
  availableMinor: w.balanceMinor - w.frozenMinor,
});

const checkCurrency = (w: WalletRecord, currency: string): Result<WalletRecord, CurrencyMismatch> =>
  w.currency === currency ? ok(w) : err(errors.currencyMismatch(w.currency, currency));

/** The posted movements between a wallet and a platform account: their transfer kind, account and direction. */
const MOVES = {
  deposit: { kind: "deposit", platform: "deposits", direction: "credit" },
  withdraw: { kind: "withdrawal", platform: "deposits", direction: "debit" },
  adjust: { kind: "adjustment", platform: "adjustments", direction: "signed" },
  cashback: { kind: "cashback", platform: "promotions", direction: "credit" },
  reverse: { kind: "reversal", platform: "revenue", direction: "credit" },
} as const satisfies Record<
  string,
  { kind: TransferRecord["kind"]; platform: PlatformAccountKind; direction: "credit" | "debit" | "signed" }
>;

/** The wallet operations of the service. */
export function walletOperations(ctx: FesContext) {
  /** Posts one movement between a wallet and a platform account. */
  const move = (
    operation: keyof typeof MOVES,
    request: {
      walletId: string;
      amountMinor: number;
      currency: string;
      idempotencyKey: string;
      reason?: string | undefined;
      operationId?: string | undefined;
      actor?: string | undefined;
    },
  ): PromiseLike<Result<MoneyMoved, MoveError>> => {
    const { kind, platform, direction } = MOVES[operation];
    const credit = direction === "credit" || (direction === "signed" && request.amountMinor > 0);
    const amountMinor = Math.abs(request.amountMinor);
    const moved = replayOrRun(ctx, {
      operation: `wallet.${operation}`,
      request,
      idempotencyKey: request.idempotencyKey,
      walletIds: [request.walletId],
      unitKey: operationIdFor(request.walletId, request.idempotencyKey),
      actor: request.actor ?? "platform",
      // A reversal gives back at most what was settled for its operation, less what was already given back.
      ...(operation === "reverse" && request.operationId !== undefined
        ? { load: { operationId: request.operationId } }
        : {}),
      compute: (plan, loaded) =>
        lockedWallet(loaded, request.walletId)
          .andThen((w) => checkCurrency(w, request.currency))
          .andThen((w): Result<WalletRecord, ReversalExceedsSettled> => {
            const posted = loaded.operation;
            if (operation !== "reverse" || posted === undefined) return ok(w);
            return posted.reversedMinor + amountMinor > posted.settledMinor
              ? err(
                  errors.reversalExceedsSettled(
                    request.operationId ?? "",
                    posted.settledMinor,
                    posted.reversedMinor,
                    amountMinor,
                  ),
                )
              : ok(w);
          })
          .andThen((w) =>
            plan.post(
              kind,
              w.id,
              credit ? "credit" : "debit",
              platform,
              amountMinor,
              request.operationId ?? operationIdFor(request.walletId, request.idempotencyKey),
              request.reason ?? null,
            ),
          )
          .map((t) => ({
            walletId: t.walletId,
            transferId: t.id,
            amountMinor: t.amountMinor,
            balanceAfterMinor: t.walletBalanceAfterMinor,
          })),
    });
    return moved.then((r) => r.map((o) => o.value));
  };

  /** Resolves a manual hold under its wallet's lock: settles `amount(hold)` and releases the rest. */
  const resolveManualHold =
    (holdId: string, amount: (hold: HoldRecord) => number) =>
    (
      plan: UnitPlan,
      loaded: Loaded,
    ): Result<
      HoldResolutionResult,
      HoldNotFound | HoldNotOpen | SettleExceedsHold | TransitionNotAllowed
    > => {
      const hold = loaded.holds.find((h) => h.id === holdId);
      if (hold === undefined) return err(errors.holdNotFound(holdId));
      if (hold.ownerType !== "manual") {
        return err(errors.transitionNotAllowed(`${hold.ownerType}_hold`, "manual_resolution"));
      }
      return plan.settle(hold, amount(hold)).map((r) => ({
        holdId,
        state: r.state,
        settledMinor: r.settledMinor,
        releasedMinor: hold.amountMinor - r.settledMinor,
      }));
    };

  /**
   * Learns the wallet of a hold outside a unit of work (the lock is taken before the decision). The owner of a
   * hold never changes, so an adapter that caches holds answers without a round trip.
   */
  const holdWallet = async (holdId: string): Promise<Result<string, HoldNotFound | StorageFailure>> => {
    const { storage } = ctx;
    if (storage.walletOfHold !== undefined) {
      const owner = await readStorage(() => storage.walletOfHold?.(holdId) ?? Promise.resolve(undefined));
      if (owner.isErr()) return err(owner.error);
      return owner.value === undefined ? err(errors.holdNotFound(holdId)) : ok(owner.value);
    }
    const read = await readStorage(() => storage.read.getHold(holdId));
    if (read.isErr()) return err(read.error);
    return read.value === undefined ? err(errors.holdNotFound(holdId)) : ok(read.value.walletId);
  };

  /** Resolves a manual hold: learns its wallet, then settles `amount(hold)` under that wallet's lock. */
  const resolve = async (
    operation: "wallet.settle" | "wallet.release",
    req: { holdId: string; idempotencyKey: string; actor?: string | undefined },
    amount: (hold: HoldRecord) => number,
  ) => {
    const walletId = await holdWallet(req.holdId);
    if (walletId.isErr()) return err(walletId.error);
    const resolved = await replayOrRun(ctx, {
      operation,
      request: req,
      idempotencyKey: req.idempotencyKey,
      walletIds: [walletId.value],
      load: { holdIds: [req.holdId] },
      unitKey: operationIdFor(walletId.value, req.idempotencyKey),
      actor: req.actor ?? "platform",
      compute: resolveManualHold(req.holdId, amount),
    });
    return resolved.map((o) => o.value);
  };

  return {
    /** Creates a customer wallet. Creating it again with the same currency returns it; another currency is `wallet_exists`. */
    createWallet(input: {
      walletId: string;
      currency: string;
      actor?: string;
    }): ResultAsync<WalletBalance, InvalidInput | WalletExists | StorageFailure> {
      return parseInput(createWalletInput, input).asyncAndThen((req) =>
        runUnit(ctx.storage, async (tx): Promise<Result<WalletBalance, WalletExists>> => {
          const [existing] = (await tx.load({ walletIds: [req.walletId] })).wallets;
          if (existing !== undefined) {
            return existing.currency === req.currency
              ? ok(balanceOf(existing))
              : err(errors.walletExists(existing.id, existing.currency));
          }
          const record: WalletRecord = {
            id: req.walletId,
            currency: req.currency,
            balanceMinor: 0,
            frozenMinor: 0,
            version: 1,
            createdAtMs: ctx.clock.now(),
          };
          const plan = new UnitPlan(
            `wallet:${req.walletId}`,
            record.createdAtMs,
            req.actor ?? "platform",
            null,
            [],
          );
          plan.createWallet(record);
          await tx.apply(plan.build());
          return ok(balanceOf(record));
        }),
      );
    },

    /** The wallet's balance, frozen and available amounts. */
    getBalance(walletId: string): ResultAsync<WalletBalance, WalletNotFound | StorageFailure> {
      return readStorage(() => ctx.storage.read.getWallet(walletId)).andThen((w) =>
        w === undefined ? err(errors.walletNotFound(walletId)) : ok(balanceOf(w)),
      );
    },

    /** A page of the wallet's posted transfers, oldest first, with the running balance. */
    statement(input: {
      walletId: string;
      afterSeq?: number;
      limit?: number;
    }): ResultAsync<Statement, InvalidInput | WalletNotFound | StorageFailure> {
      return parseInput(statementInput, input).asyncAndThen((req) =>
        readStorage(() => ctx.storage.read.getWallet(req.walletId))
          .andThen((w) => (w === undefined ? err(errors.walletNotFound(req.walletId)) : ok(w)))
          .andThen((w) =>
            readStorage(() =>
              ctx.storage.read.listTransfers({
                accountId: w.id,
                afterSeq: req.afterSeq ?? 0,
                limit: req.limit + 1,
              }),
            ),
          )
          .map((rows) => {
            const page = rows.slice(0, req.limit);
            return {
              walletId: req.walletId,
              entries: page.map((t) => ({
                seq: t.seq,
                transferId: t.id,
                kind: t.kind,
                amountMinor: t.creditAccountId === req.walletId ? t.amountMinor : -t.amountMinor,
                balanceAfterMinor: t.walletBalanceAfterMinor,
                operationId: t.operationId,
                reason: t.reason,
                atMs: t.createdAtMs,
              })),
              nextAfterSeq: rows.length > req.limit ? page[page.length - 1]!.seq : null,
            };
          }),
      );
    },

    /** Credits a wallet from the platform's `deposits` account (money paid in). */
    deposit(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      idempotencyKey: string;
      reason?: string;
      actor?: string;
    }) {
      return validated(moneyMoveInput, input, (req) => move("deposit", req));
    },

    /** Debits a wallet to `deposits` (money paid out); fails with `insufficient_funds` beyond `available`. */
    withdraw(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      idempotencyKey: string;
      reason?: string;
      actor?: string;
    }) {
      return validated(moneyMoveInput, input, (req) => move("withdraw", req));
    },

    /** A signed correction against the `adjustments` account, with a mandatory reason. */
    adjust(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      reason: string;
      idempotencyKey: string;
      actor?: string;
    }) {
      return validated(adjustInput, input, (req) => move("adjust", req));
    },

    /** A goodwill credit from `promotions`. */
    cashback(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      reason: string;
      operationId?: string;
      idempotencyKey: string;
      actor?: string;
    }) {
      return validated(creditInput, input, (req) => move("cashback", req));
    },

    /** Gives settled money back from revenue (a refund after a settle); a new transfer, the settle stays. */
    reverse(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      reason: string;
      /** The operation (activation, rental or manual operation id) whose settled money is given back. */
      operationId: string;
      idempotencyKey: string;
      actor?: string;
    }) {
      return validated(reverseInput, input, (req) => move("reverse", req));
    },

    /** Places a manual hold for a platform operation; its id derives from `operationId`. */
    freeze(input: {
      walletId: string;
      amountMinor: number;
      currency: string;
      operationId: string;
      idempotencyKey: string;
      actor?: string;
    }): ResultAsync<HoldRecord, MoveError> {
      return validated(freezeInput, input, (req) =>
        replayOrRun(ctx, {
          operation: "wallet.freeze",
          request: req,
          idempotencyKey: req.idempotencyKey,
          walletIds: [req.walletId],
          unitKey: operationIdFor(req.walletId, req.idempotencyKey),
          actor: req.actor ?? "platform",
          load: { holdIds: [manualHoldId(req.operationId)] },
          compute: (plan, loaded) =>
            lockedWallet(loaded, req.walletId)
              .andThen((w) => checkCurrency(w, req.currency))
              .andThen((w) =>
                loaded.holds.length > 0 ? err(errors.holdExists(manualHoldId(req.operationId))) : ok(w),
              )
              .andThen((w) =>
                plan.freeze(w.id, {
                  id: manualHoldId(req.operationId),
                  amountMinor: req.amountMinor,
                  ownerType: "manual",
                  ownerId: req.operationId,
                }),
              ),
        }).then((r) => r.map((o) => o.value)),
      );
    },

    /** Settles a manual hold, in full (default) or in part; the rest is released in the same step. */
    settle(input: {
      holdId: string;
      amountMinor?: number;
      idempotencyKey: string;
      actor?: string;
    }): ResultAsync<
      HoldResolutionResult,
      | InvalidInput
      | HoldNotFound
      | HoldNotOpen
      | SettleExceedsHold
      | TransitionNotAllowed
      | IdempotencyConflict
      | StorageFailure
    > {
      return validated(settleInput, input, (req) =>
        resolve("wallet.settle", req, (hold) => req.amountMinor ?? hold.amountMinor),
      );
    },

    /** Releases a manual hold: the money becomes available again. */
    release(input: { holdId: string; idempotencyKey: string; actor?: string }) {
      return validated(releaseInput, input, (req) => resolve("wallet.release", req, () => 0));
    },
  };
}

/** The outcome of settling or releasing a hold. */
export interface HoldResolutionResult {
  readonly holdId: string;
  readonly state: "settled" | "released";
  readonly settledMinor: number;
  readonly releasedMinor: number;
}
