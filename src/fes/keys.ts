import { sha256Hex } from "../core/hash.js";

/**
 * Idempotency keys and the ids derived from them (see `docs/keys-and-ids.md`). A caller's key is scoped to the
 * wallet it acts on, as a payments API scopes keys per account: two customers may both send `buy-1`. Every id the
 * library derives is opaque (a prefix and a hash), so a client's key never shows in an id and a derived id is
 * valid for every valid input, however long.
 */

/** The longest derived key or id, so that every derived value stays within the input limits (128 characters). */
const MAX_DERIVED = 128;

/** A hash of the parts, unambiguous however the parts are spelled (JSON keeps `a:b`+`c` apart from `a`+`b:c`). */
function digest(parts: readonly (string | number)[], length = 32): string {
  return sha256Hex(JSON.stringify(parts)).slice(0, length);
}

/** The key a caller's idempotency key is stored under: scoped to the wallet it acts on. */
export function scopedIdempotencyKey(walletId: string, key: string): string {
  return `k_${digest(["idem", walletId, key], 40)}`;
}

/** The storage key of attempt `attempt` of a purchase (attempt 0 is the caller's key itself). */
export function attemptKey(walletId: string, key: string, attempt: number): string {
  return attempt === 0
    ? scopedIdempotencyKey(walletId, key)
    : `k_${digest(["attempt", walletId, key, attempt], 40)}`;
}

/** The id of an activation bought under a caller's key (attempt `attempt`, see {@link attemptKey}). */
export function activationIdFor(walletId: string, key: string, attempt: number): string {
  return `act_${digest(["activation", walletId, key, attempt])}`;
}

/** The id of a rental bought under a caller's key. */
export function rentalIdFor(walletId: string, key: string, attempt: number): string {
  return `rent_${digest(["rental", walletId, key, attempt])}`;
}

/** The unit key (prefix of every row written) of a wallet operation under a caller's key. */
export function operationIdFor(walletId: string, key: string): string {
  return `op_${digest(["operation", walletId, key])}`;
}

/**
 * A key derived from another by a suffix (e.g. the retry after a timeout): kept readable while it fits the limit
 * of a caller's key, hashed when it would not.
 */
export function derivedKey(base: string, suffix: string): string {
  const plain = `${base}:${suffix}`;
  return plain.length <= MAX_DERIVED ? plain : `d_${digest(["derived", base, suffix], 40)}`;
}
