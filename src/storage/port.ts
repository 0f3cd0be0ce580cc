import { brand, isBranded, STORAGE_CONFLICT } from "../core/brand.js";
import type {
  ActivationRecord,
  ActivationState,
  AuditRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";
import type { HealthDimension, HealthStats } from "../health/stats.js";

/**
 * The storage port. Inside a unit of work an adapter implements one read that takes the locks (`load`) and one
 * write (`apply`) that takes the whole commit plan, so a database adapter serves a unit of work in two round
 * trips. Outside, a handful of domain-shaped reads.
 *
 * Units of work follow one shape: load (lock the wallets involved, read what the decision needs), compute a plan
 * with a pure function, apply it. The core never writes outside `apply`.
 */
export interface Storage {
  /**
   * Runs `work` atomically. Commits when the promise resolves, rolls back everything when it rejects (the core
   * turns an `Err` into a rejection in one place). The adapter may run `work` again after a deadlock or a
   * serialization failure, so `work` must have no effect outside `tx`. Throws {@link StorageConflictError} when a
   * guard of `apply` missed or a unique key was taken by a concurrent unit of work; any other rejection is a
   * storage failure.
   */
  transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T>;
  /** Reads outside any unit of work (a consistent snapshot is not promised across calls). */
  readonly read: StorageReader;
  /**
   * Deletes idempotency records created before `createdBeforeMs`, oldest first, at most `limit`; resolves to how
   * many were deleted. A request repeated with a pruned key runs again as a new request: keep the retention
   * window longer than any client retries. Optional so that wrappers of a storage need not forward it; the
   * memory and PostgreSQL adapters implement it.
   */
  pruneIdempotency?(query: IdempotencyPruneQuery): Promise<number>;
  /**
   * The id of the wallet that owns the hold (which never changes), or `undefined` when there is no such hold.
   * Optional, as `pruneIdempotency`: without it the core reads the hold with `read.getHold`; an adapter that
   * caches holds answers without a round trip.
   */
  walletOfHold?(holdId: string): Promise<string | undefined>;
}

/**
 * The operations available inside a unit of work: one read that takes the locks, one write. A unit of work is
 * `load` → a pure decision → `apply`, so a database adapter can serve it in two round trips (`BEGIN` + the load,
 * then the commit plan + `COMMIT`).
 */
export interface StorageTx {
  /**
   * Locks the requested customer wallets, in the byte order of their ids (`COLLATE "C"`), until the unit of work
   * ends, and reads, under those locks, everything the decision needs: the idempotency record, the activation
   * or rental, and the holds asked for by id plus every hold owned by that activation or rental. Missing rows
   * are simply absent (`undefined`, or left out of the lists). Callers always request the wallet that owns what
   * they read: that lock is what serializes changes to it. May be called more than once per unit of work.
   */
  load(request: LoadRequest): Promise<Loaded>;
  /**
   * Applies a commit plan. Every guard must hold or nothing of the plan is written and the unit of work fails
   * with a {@link StorageConflictError} — from this call, or (an adapter may defer the write to the commit, to
   * send both in one round trip) from `transaction` itself; either way it is rolled back whole. Guards:
   * - `createWallets`: the id is new;
   * - `walletDeltas`: the wallet exists, and after the delta `balance ≥ 0`, `frozen ≥ 0` and `balance − frozen ≥ 0`;
   * - `transfers`: the id is new; `seq` is assigned by the storage;
   * - `openHolds`: the id is new;
   * - `resolveHolds`: the hold is `open` (a conditional update: a second resolution misses);
   * - `activations` / `rentals`: `expectedVersion: null` inserts (the id is new), a number updates only when the
   *   stored version equals it; the stored version becomes the previous one plus one;
   * - `idempotency`: the key is new;
   * - `audit`: the id is new; append only.
   * A `load` after an `apply` in the same unit of work sees the applied writes.
   */
  apply(plan: CommitPlan): Promise<void>;
}

/** What a unit of work locks and reads. */
export interface LoadRequest {
  /** Customer wallets to lock (platform account ids, starting with `@`, are ignored). */
  readonly walletIds: readonly string[];
  readonly idempotencyKey?: string;
  /** Loads the activation and the holds it owns. */
  readonly activationId?: string;
  /** Loads the rental and the holds it owns. */
  readonly rentalId?: string;
  /** Holds to load by id. */
  readonly holdIds?: readonly string[];
  /** Sums the money posted for this operation on the requested wallets (what a reversal may give back). */
  readonly operationId?: string;
}

/** What `load` returns. */
export interface Loaded {
  /** The locked wallets that exist, in byte order of their ids. */
  readonly wallets: readonly WalletRecord[];
  readonly idempotency: IdempotencyRecord | undefined;
  readonly activation: ActivationRecord | undefined;
  readonly rental: RentalRecord | undefined;
  /** The holds requested by id and those owned by the activation or rental, ordered by id, each once. */
  readonly holds: readonly HoldRecord[];
  /** With `operationId`: its settled and reversed totals on the requested wallets (0 when none). */
  readonly operation?: { readonly settledMinor: number; readonly reversedMinor: number };
}

/** Everything one unit of work writes. */
export interface CommitPlan {
  readonly createWallets?: readonly WalletRecord[];
  readonly walletDeltas?: readonly WalletDelta[];
  readonly transfers?: readonly TransferRecord[];
  readonly openHolds?: readonly HoldRecord[];
  readonly resolveHolds?: readonly HoldResolution[];
  readonly activations?: readonly VersionedWrite<ActivationRecord>[];
  readonly rentals?: readonly VersionedWrite<RentalRecord>[];
  readonly idempotency?: IdempotencyRecord;
  readonly audit?: readonly AuditRecord[];
}

/** A change of a wallet's counters; `version` is incremented by one. */
export interface WalletDelta {
  readonly walletId: string;
  readonly balanceDeltaMinor: number;
  readonly frozenDeltaMinor: number;
}

/** Resolution of an open hold. */
export interface HoldResolution {
  readonly holdId: string;
  readonly state: "settled" | "released";
  readonly settledMinor: number;
  readonly resolvedAtMs: number;
}

/** An insert (`expectedVersion: null`) or a version-checked update. */
export interface VersionedWrite<T> {
  readonly record: T;
  readonly expectedVersion: number | null;
}

/** Reads outside a unit of work. */
export interface StorageReader {
  /** The wallet, or `undefined`. */
  getWallet(id: string): Promise<WalletRecord | undefined>;
  /** All customer wallets, ordered by id; `afterId` and `limit` page through them. */
  listWallets(page?: PageQuery): Promise<readonly WalletRecord[]>;
  /** The hold, or `undefined`. */
  getHold(id: string): Promise<HoldRecord | undefined>;
  /** Holds, optionally only those in `state`, ordered by id; `afterId` and `limit` page through them. */
  listHolds(
    filter?: {
      readonly state?: HoldRecord["state"];
      readonly walletId?: string;
    } & PageQuery,
  ): Promise<readonly HoldRecord[]>;
  /** The activation, or `undefined`. */
  getActivation(id: string): Promise<ActivationRecord | undefined>;
  /** The activation with this provider id, or `undefined`. */
  findActivationByProviderId(
    provider: string,
    providerActivationId: string,
  ): Promise<ActivationRecord | undefined>;
  /**
   * Activations, optionally filtered, ordered by `createdAtMs` then id; `createdSinceMs` (inclusive) and
   * `createdUntilMs` (exclusive) keep those created in that window; `afterId` and `limit` page through them.
   */
  listActivations(
    filter?: {
      readonly walletId?: string;
      readonly states?: readonly ActivationState[];
    } & CreatedWindow &
      PageQuery,
  ): Promise<readonly ActivationRecord[]>;
  /** The rental, or `undefined`. */
  getRental(id: string): Promise<RentalRecord | undefined>;
  /** The rental with this provider id, or `undefined` (at most one: the id is unique per provider). */
  findRentalByProviderId(provider: string, providerRentalId: string): Promise<RentalRecord | undefined>;
  /** Rentals, optionally filtered, ordered by `createdAtMs` then id; paged and windowed like activations. */
  listRentals(
    filter?: {
      readonly walletId?: string;
      readonly states?: readonly RentalRecord["state"][];
    } & CreatedWindow &
      PageQuery,
  ): Promise<readonly RentalRecord[]>;
  /**
   * Transfers in `seq` order. With `accountId`, only those with the account on either side; `afterSeq` and
   * `limit` page through them.
   */
  listTransfers(filter?: {
    readonly accountId?: string;
    readonly afterSeq?: number;
    readonly limit?: number;
  }): Promise<readonly TransferRecord[]>;
  /** The idempotency record, or `undefined`. */
  getIdempotency(key: string): Promise<IdempotencyRecord | undefined>;
  /** Audit rows in insertion order, optionally for one subject; `afterId` and `limit` page through them. */
  listAudit(filter?: { readonly subjectId?: string } & PageQuery): Promise<readonly AuditRecord[]>;
  /**
   * What the sweeper must look at, at `nowMs`, as {@link selectDueWork} defines it: activations `waiting` whose
   * deadline is ≤ `nowMs`, rentals `active` whose end is ≤ `nowMs`, activations and rentals whose recorded end
   * request (`endRequest.atMs`) is at or before `pendingBeforeMs` (an end step whose answer was lost), and
   * activations or rentals `pending` created at or before `pendingBeforeMs`. With `provider`, only records of that
   * provider. At most `limit` of each, oldest first.
   */
  listDue(query: DueQuery): Promise<DueWork>;
  /**
   * The health statistics of the activations created in `[sinceMs, untilMs)` (either bound may be infinite),
   * grouped by `groupBy`: what `computeHealthStats` returns over the same records, computed without loading the
   * records into memory where the storage can aggregate them itself.
   */
  healthStats(query: HealthStatsQuery): Promise<HealthStats>;
}

/**
 * One page of a list, at most `limit` records, those that come after `afterId` in the list's order: for lists in
 * byte order of ids, the ids after it; for lists in creation or insertion order, the records after the position of
 * the record with that id (none when there is no such record) — whether or not that record still matches the
 * filter, so a page walk never stops early. Without either, the whole list. `iterateList` walks every page.
 */
export interface PageQuery {
  readonly afterId?: string;
  readonly limit?: number;
}

/** A window over `createdAtMs`: `createdSinceMs` inclusive, `createdUntilMs` exclusive. */
export interface CreatedWindow {
  readonly createdSinceMs?: number;
  readonly createdUntilMs?: number;
}

/** The question of {@link StorageReader.healthStats}. */
export interface HealthStatsQuery {
  /** Inclusive lower bound of `createdAtMs` (may be `-Infinity`). */
  readonly sinceMs: number;
  /** Exclusive upper bound of `createdAtMs` (may be `Infinity`). */
  readonly untilMs: number;
  /** Dimensions to group by, as in `computeHealthStats`; default none (only the total). */
  readonly groupBy?: readonly HealthDimension[];
}

/** Idempotency records to drop: those created before `createdBeforeMs`, at most `limit` per call. */
export interface IdempotencyPruneQuery {
  readonly createdBeforeMs: number;
  readonly limit: number;
}

/** The question of `listDue`. */
export interface DueQuery {
  readonly nowMs: number;
  readonly pendingBeforeMs: number;
  readonly limit: number;
  /** Only records of this provider (a service serves one provider); all providers when absent. */
  readonly provider?: string;
}

/** The sweeper's to-do list. */
export interface DueWork {
  readonly activationsPastDeadline: readonly ActivationRecord[];
  readonly rentalsPastEnd: readonly RentalRecord[];
  readonly pendingActivations: readonly ActivationRecord[];
  readonly pendingRentals: readonly RentalRecord[];
}

/**
 * Thrown by `apply` (or by the commit) when a guard missed or a unique key was taken concurrently. The core
 * reruns the unit of work a bounded number of times: the rerun reads the winner's writes (and so replays an
 * idempotent result, or reports the business error).
 */
export class StorageConflictError extends Error {
  override readonly name = "StorageConflictError";
  constructor(
    /** Which guard missed, e.g. `hold_not_open`, `version`, `unique:idempotency`. */
    readonly guard: string,
    message: string,
  ) {
    super(message);
    brand(this, STORAGE_CONFLICT);
  }

  /** `instanceof` answers by the brand, so it holds across copies of the package (ESM and CJS, two installs). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isStorageConflictError(value);
  }
}

/**
 * Whether `value` is a {@link StorageConflictError} from any copy of this package (ESM or CJS build, another
 * install): the check is a global-registry symbol, not the class identity. Adapters and the core use this.
 */
export function isStorageConflictError(value: unknown): value is StorageConflictError {
  return isBranded(value, STORAGE_CONFLICT);
}

/**
 * The meaning of `listDue` over records already in memory (oldest first, as given): what an adapter that keeps its
 * records in memory returns, and what a database adapter's queries must agree with.
 */
export function selectDueWork(
  activations: readonly ActivationRecord[],
  rentals: readonly RentalRecord[],
  query: DueQuery,
): DueWork {
  const { nowMs, pendingBeforeMs, limit, provider } = query;
  const ours = (r: { readonly provider: string }) => provider === undefined || r.provider === provider;
  const endAsked = (r: ActivationRecord | RentalRecord) =>
    r.endRequest != null && r.endRequest.atMs <= pendingBeforeMs;
  return {
    activationsPastDeadline: activations
      .filter(
        (a) =>
          ours(a) &&
          a.state === "waiting" &&
          ((a.deadlineAtMs !== null && a.deadlineAtMs <= nowMs) || endAsked(a)),
      )
      .slice(0, limit),
    rentalsPastEnd: rentals
      .filter(
        (r) =>
          ours(r) && r.state === "active" && ((r.endsAtMs !== null && r.endsAtMs <= nowMs) || endAsked(r)),
      )
      .slice(0, limit),
    pendingActivations: activations
      .filter((a) => ours(a) && a.state === "pending" && a.createdAtMs <= pendingBeforeMs)
      .slice(0, limit),
    pendingRentals: rentals
      .filter((r) => ours(r) && r.state === "pending" && r.createdAtMs <= pendingBeforeMs)
      .slice(0, limit),
  };
}
