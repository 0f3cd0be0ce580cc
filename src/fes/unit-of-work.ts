import { err, ok, type Result, ResultAsync } from "neverthrow";
import { errors, type StorageFailure } from "../core/errors.js";
import { type InvariantViolation, isInvariantViolation } from "../core/invariant.js";
import {
  isStorageConflictError,
  type Storage,
  type StorageConflictError,
  type StorageTx,
} from "../storage/port.js";

/** Carries an `Err` out of a storage transaction so that the adapter rolls back exactly as for a throw. */
class Rollback<E> {
  constructor(readonly error: E) {}
}

/** How many times a unit of work is rerun after a {@link StorageConflictError} before giving up. */
const MAX_CONFLICT_RETRIES = 8;

/**
 * Runs a unit of work in a storage transaction. This is the one place where an `Err` becomes a rollback: the
 * work's `Err` is thrown through the adapter's transaction (which rolls back) and returned as the `Err` again.
 * A conflict (a guard missed, a unique key taken concurrently) reruns the whole unit, which then reads the
 * winner's writes. Any other storage error becomes `storage_failure`; an {@link InvariantViolation} is rethrown.
 */
export function runUnit<T, E>(
  storage: Storage,
  work: (tx: StorageTx) => Promise<Result<T, E>>,
): ResultAsync<T, E | StorageFailure> {
  const attempt = async (): Promise<Result<T, E | StorageFailure>> => {
    for (let tries = 0; ; tries++) {
      try {
        const value = await storage.transaction(async (tx) => {
          const result = await work(tx);
          if (result.isErr()) throw new Rollback(result.error);
          return result.value;
        });
        return ok(value);
      } catch (e) {
        if (e instanceof Rollback) return err(e.error as E);
        if (isInvariantViolation(e)) throw e;
        if (isStorageConflictError(e)) {
          // A provider id another record owns stays taken on a rerun: reported at once, by its guard.
          if (e.guard.endsWith("_provider_id")) return err(errors.storageFailure(e.message, e.guard));
          if (tries < MAX_CONFLICT_RETRIES) continue;
          return err(errors.storageFailure(`conflict persisted after ${tries + 1} attempts: ${e.guard}`));
        }
        return err(toStorageFailure(e));
      }
    }
  };
  return new ResultAsync(attempt());
}

/** Wraps a plain storage read once into a `ResultAsync`. */
export function readStorage<T>(read: () => Promise<T>): ResultAsync<T, StorageFailure> {
  return ResultAsync.fromPromise((async () => read())(), (e) => {
    if (isInvariantViolation(e)) throw e;
    return toStorageFailure(e);
  });
}

function toStorageFailure(e: unknown): StorageFailure {
  const message = e instanceof Error ? e.message : String(e);
  const code =
    typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
  return errors.storageFailure(message, code);
}

/** A stable JSON rendering (sorted keys, `undefined` members left out) used as an idempotency fingerprint. */
export function fingerprint(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : fingerprint(v))).join(",")}]`;
  const record = value as Record<string, unknown>;
  let out = "";
  for (const key of Object.keys(record).sort()) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${out === "" ? "" : ","}${JSON.stringify(key)}:${fingerprint(v)}`;
  }
  return `{${out}}`;
}
