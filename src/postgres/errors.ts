import { isStorageConflictError, StorageConflictError } from "../storage/port.js";

/**
 * How database errors reach the core. Guard misses and unique violations become {@link StorageConflictError} (the
 * core reruns the unit of work); deadlocks and serialization failures are retried by `transaction` itself;
 * everything else is rethrown unchanged, so it keeps its SQLSTATE in `code`.
 */

/** SQLSTATE raised by `fes_conflict()` when a guard of a commit plan missed; the guard is in DETAIL. */
export const GUARD_MISSED = "FES01";
/** SQLSTATE raised when something tries to change an append-only table (transfers, audit trail). */
export const APPEND_ONLY = "FES02";

/**
 * CHECK constraints that back a guard of `apply`, and the guard names the reference (memory) adapter uses for
 * them. Any other CHECK violation is a bug in the caller and surfaces as a database error (23514).
 */
const checkGuards: Readonly<Record<string, string>> = {
  wallets_balance_nonnegative: "wallet_counters",
  wallets_frozen_nonnegative: "wallet_counters",
  wallets_available_nonnegative: "wallet_counters",
  transfers_amount_positive: "transfer",
  transfers_two_accounts: "transfer",
  holds_amount_positive: "hold_amount",
  holds_settled_within_amount: "hold_settled",
};

/** Table → the commit-plan field whose uniqueness it keeps, for `unique:<field>` guards. */
const uniqueGuards: Readonly<Record<string, string>> = {
  wallets: "wallets",
  transfers: "transfers",
  holds: "holds",
  activations: "activations",
  rentals: "rentals",
  idempotency_keys: "idempotency",
  audit_trail: "audit",
};

/** The fields of a PostgreSQL error that matter here (pg's `DatabaseError` has them all). */
interface DatabaseErrorLike {
  readonly code?: unknown;
  readonly detail?: unknown;
  readonly table?: unknown;
  readonly constraint?: unknown;
  readonly message?: unknown;
}

/** The SQLSTATE of an error, when it has one. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as DatabaseErrorLike).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Deadlocks and serialization failures: nothing happened, the unit of work is run again. */
export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return code === "40P01" || code === "40001";
}

/** The conflict a database error stands for, or `undefined` when it is not a conflict. */
export function asConflict(error: unknown): StorageConflictError | undefined {
  if (isStorageConflictError(error)) return error;
  const code = sqlState(error);
  if (code === undefined) return undefined;
  const e = error as DatabaseErrorLike;
  const message = typeof e.message === "string" ? e.message : "conflict";
  if (code === GUARD_MISSED) {
    return new StorageConflictError(typeof e.detail === "string" ? e.detail : "guard", message);
  }
  if (code === "23505") {
    if (e.constraint === "activations_provider_id") {
      return new StorageConflictError("unique:activations_provider_id", message);
    }
    if (e.constraint === "rentals_provider_id") {
      return new StorageConflictError("unique:rentals_provider_id", message);
    }
    const table = typeof e.table === "string" ? e.table : "unknown";
    return new StorageConflictError(`unique:${uniqueGuards[table] ?? table}`, message);
  }
  if (code === "23514" && typeof e.constraint === "string") {
    const guard = checkGuards[e.constraint];
    if (guard !== undefined) return new StorageConflictError(guard, message);
  }
  return undefined;
}
