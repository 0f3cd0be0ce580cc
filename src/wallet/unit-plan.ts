import { err, ok, type Result } from "neverthrow";
import {
  errors,
  type HoldNotOpen,
  type InsufficientFunds,
  type InvalidInput,
  type SettleExceedsHold,
} from "../core/errors.js";
import { invariant } from "../core/invariant.js";
import {
  type ActivationRecord,
  type AuditRecord,
  type HoldOwnerType,
  type HoldRecord,
  type IdempotencyRecord,
  type PlatformAccountKind,
  platformAccountId,
  type RentalRecord,
  type TransferKind,
  type TransferRecord,
  type WalletRecord,
} from "../core/records.js";
import type { CommitPlan, HoldResolution, VersionedWrite, WalletDelta } from "../storage/port.js";

/** The counters of a locked wallet as the unit of work changes them. */
interface WorkingWallet {
  readonly record: WalletRecord;
  balanceMinor: number;
  frozenMinor: number;
}

/**
 * The money of one unit of work, computed in memory over the wallets it locked, then handed to the storage as
 * one commit plan. Every method keeps the wallet invariants (balance ≥ 0, available ≥ 0) or returns the
 * business error, so a plan that reaches the storage is valid by construction; the storage guards are the
 * second line of defence.
 */
export class UnitPlan {
  readonly #wallets = new Map<string, WorkingWallet>();
  readonly #transfers: TransferRecord[] = [];
  readonly #openHolds: HoldRecord[] = [];
  readonly #resolveHolds: HoldResolution[] = [];
  readonly #activations: VersionedWrite<ActivationRecord>[] = [];
  readonly #rentals: VersionedWrite<RentalRecord>[] = [];
  readonly #audit: AuditRecord[] = [];
  readonly #createWallets: WalletRecord[] = [];

  #unitKey: string;

  constructor(
    /** Unique, deterministic id of this unit of work: prefixes every row it writes. */
    unitKey: string,
    readonly nowMs: number,
    readonly actor: string,
    /** The caller's idempotency key, recorded on every audit row. */
    readonly idempotencyKey: string | null,
    lockedWallets: readonly WalletRecord[],
  ) {
    this.#unitKey = unitKey;
    for (const w of lockedWallets) {
      this.#wallets.set(w.id, { record: w, balanceMinor: w.balanceMinor, frozenMinor: w.frozenMinor });
    }
  }

  /** The id prefix of the rows this unit writes. */
  get unitKey(): string {
    return this.#unitKey;
  }

  /**
   * Sets the unit key once what the unit works on has been read under its locks (e.g. an activation at a given
   * version: one unit per version, so the key is unique). Only before any row is written.
   */
  rekey(unitKey: string): void {
    invariant(
      this.#transfers.length + this.#audit.length + this.#openHolds.length === 0,
      "rekey after a write",
    );
    this.#unitKey = unitKey;
  }

  /** The wallet's counters as changed so far by this unit. */
  wallet(walletId: string): { balanceMinor: number; frozenMinor: number; availableMinor: number } {
    const w = this.#get(walletId);
    return {
      balanceMinor: w.balanceMinor,
      frozenMinor: w.frozenMinor,
      availableMinor: w.balanceMinor - w.frozenMinor,
    };
  }

  /** Registers a wallet created by this unit so that later steps may move its money. */
  createWallet(record: WalletRecord): void {
    this.#createWallets.push(record);
    this.#wallets.set(record.id, { record, balanceMinor: 0, frozenMinor: 0 });
    this.audit("wallet.create", "wallet", record.id, null, { currency: record.currency });
  }

  /** Places a hold: raises `frozen`, leaves `balance`. Fails when `available` would go negative. */
  freeze(
    walletId: string,
    hold: { id: string; amountMinor: number; ownerType: HoldOwnerType; ownerId: string },
  ): Result<HoldRecord, InsufficientFunds> {
    const w = this.#get(walletId);
    const available = w.balanceMinor - w.frozenMinor;
    if (hold.amountMinor > available)
      return err(errors.insufficientFunds(walletId, available, hold.amountMinor));
    invariant(hold.amountMinor > 0, `hold ${hold.id} must be positive`);
    w.frozenMinor += hold.amountMinor;
    const record: HoldRecord = {
      id: hold.id,
      walletId,
      currency: w.record.currency,
      amountMinor: hold.amountMinor,
      state: "open",
      settledMinor: 0,
      ownerType: hold.ownerType,
      ownerId: hold.ownerId,
      createdAtMs: this.nowMs,
      resolvedAtMs: null,
    };
    this.#openHolds.push(record);
    this.audit("hold.freeze", "hold", hold.id, null, { amountMinor: hold.amountMinor, walletId });
    return ok(record);
  }

  /**
   * Settles a hold: posts `amountMinor` (≤ held) from the wallet to revenue and releases the rest, in one step.
   * Settling zero is a release.
   */
  settle(hold: HoldRecord, amountMinor: number): Result<HoldResolution, HoldNotOpen | SettleExceedsHold> {
    if (hold.state !== "open") return err(errors.holdNotOpen(hold.id, hold.state));
    if (amountMinor > hold.amountMinor)
      return err(errors.settleExceedsHold(hold.id, hold.amountMinor, amountMinor));
    invariant(Number.isSafeInteger(amountMinor) && amountMinor >= 0, `settle amount ${amountMinor}`);
    const w = this.#get(hold.walletId);
    w.frozenMinor -= hold.amountMinor;
    if (amountMinor > 0) {
      this.#transfer("settle", hold.walletId, "debit", "revenue", amountMinor, hold.ownerId, null, hold.id);
    }
    const resolution: HoldResolution = {
      holdId: hold.id,
      state: amountMinor > 0 ? "settled" : "released",
      settledMinor: amountMinor,
      resolvedAtMs: this.nowMs,
    };
    this.#resolveHolds.push(resolution);
    this.audit(
      amountMinor > 0 ? "hold.settle" : "hold.release",
      "hold",
      hold.id,
      { state: "open" },
      {
        state: resolution.state,
        settledMinor: amountMinor,
        releasedMinor: hold.amountMinor - amountMinor,
      },
    );
    return ok(resolution);
  }

  /** Releases a hold: the money becomes available again; nothing is posted. */
  release(hold: HoldRecord): Result<HoldResolution, HoldNotOpen> {
    return this.settle(hold, 0) as Result<HoldResolution, HoldNotOpen>;
  }

  /**
   * Posts money between the wallet and a platform account: `credit` moves it into the wallet, `debit` out of it.
   * A debit fails when it exceeds `available` (a frozen amount cannot be withdrawn).
   */
  post(
    kind: TransferKind,
    walletId: string,
    direction: "credit" | "debit",
    platform: PlatformAccountKind,
    amountMinor: number,
    operationId: string,
    reason: string | null,
  ): Result<TransferRecord, InsufficientFunds | InvalidInput> {
    const w = this.#get(walletId);
    const available = w.balanceMinor - w.frozenMinor;
    if (direction === "debit" && amountMinor > available) {
      return err(errors.insufficientFunds(walletId, available, amountMinor));
    }
    if (direction === "credit" && w.balanceMinor + amountMinor > Number.MAX_SAFE_INTEGER) {
      return err(
        errors.invalidInput([
          { path: "amountMinor", message: "the balance would exceed the largest safe amount" },
        ]),
      );
    }
    return ok(this.#transfer(kind, walletId, direction, platform, amountMinor, operationId, reason, null));
  }

  #transfer(
    kind: TransferKind,
    walletId: string,
    direction: "credit" | "debit",
    platform: PlatformAccountKind,
    amountMinor: number,
    operationId: string,
    reason: string | null,
    holdId: string | null,
  ): TransferRecord {
    invariant(Number.isSafeInteger(amountMinor) && amountMinor > 0, `transfer amount ${amountMinor}`);
    const w = this.#get(walletId);
    const before = w.balanceMinor;
    w.balanceMinor += direction === "credit" ? amountMinor : -amountMinor;
    invariant(Number.isSafeInteger(w.balanceMinor), `wallet ${walletId} balance overflow`);
    const platformId = platformAccountId(platform, w.record.currency);
    const transfer: TransferRecord = {
      id: `${this.unitKey}#t${this.#transfers.length}`,
      seq: 0,
      kind,
      debitAccountId: direction === "credit" ? platformId : walletId,
      creditAccountId: direction === "credit" ? walletId : platformId,
      amountMinor,
      currency: w.record.currency,
      walletId,
      walletBalanceAfterMinor: w.balanceMinor,
      holdId,
      operationId,
      reason,
      createdAtMs: this.nowMs,
    };
    this.#transfers.push(transfer);
    this.audit(
      `wallet.${kind}`,
      "wallet",
      walletId,
      { balanceMinor: before },
      { balanceMinor: w.balanceMinor },
    );
    return transfer;
  }

  /** Records an insert (`expectedVersion: null`) or a version-checked update of an activation. */
  saveActivation(record: ActivationRecord, expectedVersion: number | null): void {
    this.#activations.push({ record, expectedVersion });
  }

  /** Records an insert or a version-checked update of a rental. */
  saveRental(record: RentalRecord, expectedVersion: number | null): void {
    this.#rentals.push({ record, expectedVersion });
  }

  /** Appends an audit row. */
  audit(
    action: string,
    subjectType: AuditRecord["subjectType"],
    subjectId: string,
    before: unknown,
    after: unknown,
  ) {
    this.#audit.push({
      id: `${this.unitKey}#a${this.#audit.length}`,
      atMs: this.nowMs,
      actor: this.actor,
      action,
      subjectType,
      subjectId,
      before,
      after,
      idempotencyKey: this.idempotencyKey,
    });
  }

  /** The commit plan: every write of the unit, with the idempotency record when the caller gave a key. */
  build(idempotency?: IdempotencyRecord): CommitPlan {
    const walletDeltas: WalletDelta[] = [];
    for (const w of this.#wallets.values()) {
      const balanceDeltaMinor = w.balanceMinor - w.record.balanceMinor;
      const frozenDeltaMinor = w.frozenMinor - w.record.frozenMinor;
      invariant(w.balanceMinor >= 0 && w.frozenMinor >= 0, `wallet ${w.record.id} counters went negative`);
      invariant(w.balanceMinor - w.frozenMinor >= 0, `wallet ${w.record.id} available went negative`);
      if (balanceDeltaMinor !== 0 || frozenDeltaMinor !== 0) {
        walletDeltas.push({ walletId: w.record.id, balanceDeltaMinor, frozenDeltaMinor });
      }
    }
    return {
      createWallets: this.#createWallets,
      walletDeltas,
      transfers: this.#transfers,
      openHolds: this.#openHolds,
      resolveHolds: this.#resolveHolds,
      activations: this.#activations,
      rentals: this.#rentals,
      audit: this.#audit,
      ...(idempotency === undefined ? {} : { idempotency }),
    };
  }

  #get(walletId: string): WorkingWallet {
    const w = this.#wallets.get(walletId);
    invariant(w !== undefined, `wallet ${walletId} was not locked by unit ${this.unitKey}`);
    return w;
  }
}
