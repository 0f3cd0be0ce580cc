/**
 * Brands for the errors that cross entry points. Each entry of the published package (ESM and CJS alike) and any
 * other copy of it installed beside it carries its own class objects, so `instanceof` alone cannot recognise an
 * error thrown by another copy. A `Symbol.for` key lives in the runtime's global registry and is the same in every
 * copy: the guards check it.
 */

/** Brand of {@link StorageConflictError}. */
export const STORAGE_CONFLICT: unique symbol = Symbol.for("sms-fes.StorageConflictError");
/** Brand of {@link InvariantViolation}. */
export const INVARIANT_VIOLATION: unique symbol = Symbol.for("sms-fes.InvariantViolation");

/** Marks `target` with `key` (not enumerable, so equality checks and JSON leave it out). */
export function brand(target: object, key: symbol): void {
  Object.defineProperty(target, key, { value: true, enumerable: false });
}

/** Whether `value` is an object marked with `key`. */
export function isBranded(value: unknown, key: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[key] === true;
}
