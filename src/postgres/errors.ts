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

/** Node socket errors that mean the database could not be reached or the connection broke. */
const SOCKET_ERRORS: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Whether an error means the connection to the database is gone or could not be made: SQLSTATE class 08, a server
 * shutting sessions down or starting up (57P01–57P03), a FATAL from the server, a socket error, or the driver's
 * own "connection terminated" / "not queryable" / connect-timeout errors.
 */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ConnectionLostError) return true;
  if (typeof error !== "object" || error === null) return false;
  const state = sqlState(error);
  if (state !== undefined) {
    const severity = (error as { readonly severity?: unknown }).severity;
    return state.startsWith("08") || state.startsWith("57P") || severity === "FATAL" || severity === "PANIC";
  }
  const code = (error as { readonly code?: unknown }).code;
  if (typeof code === "string" && SOCKET_ERRORS.has(code)) return true;
  const message = (error as { readonly message?: unknown }).message;
  return (
    typeof message === "string" &&
    /connection terminated|not queryable|timeout exceeded when trying to connect|connection (?:ended|closed)/i.test(
      message,
    )
  );
}

/**
 * The database connection was lost or could not be made. `code` is `08001` when nothing was sent (no connection),
 * `08006` when the connection broke. `outcomeUnknown` is true when a COMMIT was in flight: the unit of work may
 * have committed, and repeating the request with the same idempotency key tells (it replays or runs once). The
 * core reports it as `storage_failure` with this `code`. The pool replaces the connection: later calls work again
 * once the database is back.
 */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
  constructor(
    readonly code: "08001" | "08006",
    readonly outcomeUnknown: boolean,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      code === "08001"
        ? `could not connect to the database: ${detail}`
        : outcomeUnknown
          ? `the database connection was lost while COMMIT was in flight, so the outcome is unknown (repeat the request with the same idempotency key): ${detail}`
          : `the database connection was lost; nothing was committed: ${detail}`,
      { cause },
    );
  }
}

/** `error` as a {@link ConnectionLostError} when it is a connection loss, else unchanged. */
export function asConnectionLoss(error: unknown, when: "connect" | "work" | "commit"): unknown {
  if (error instanceof ConnectionLostError || !isConnectionLoss(error)) return error;
  const code = (error as { readonly code?: unknown }).code;
  const neverConnected = when === "connect" || code === "ECONNREFUSED" || code === "57P03";
  return new ConnectionLostError(
    neverConnected ? "08001" : "08006",
    when === "commit" && !neverConnected,
    error,
  );
}
