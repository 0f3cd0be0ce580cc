import * as z from "zod";

/**
 * An amount of money in integer minor units (cents, kopecks). Branded so that a plain number cannot be passed
 * where a validated amount is expected; build one with {@link amountMinor} or the zod schemas below.
 */
export type AmountMinor = number & { readonly __brand: "AmountMinor" };

/** An ISO 4217-style currency code of three upper-case letters. */
export type Currency = string & { readonly __brand: "Currency" };

/** Zod schema for a non-negative safe integer amount of minor units. */
export const amountMinorSchema = z
  .number()
  .int("amount must be an integer number of minor units")
  .min(0, "amount must not be negative")
  .max(Number.MAX_SAFE_INTEGER, "amount must be a safe integer")
  .transform((n) => n as AmountMinor);

/** Zod schema for a strictly positive amount of minor units (what a money movement must carry). */
export const positiveAmountMinorSchema = amountMinorSchema.refine((n) => n > 0, "amount must be positive");

/** Zod schema for a signed, non-zero amount of minor units (an adjustment). */
export const signedAmountMinorSchema = z
  .number()
  .int("amount must be an integer number of minor units")
  .min(-Number.MAX_SAFE_INTEGER, "amount must be a safe integer")
  .max(Number.MAX_SAFE_INTEGER, "amount must be a safe integer")
  .refine((n) => n !== 0, "amount must not be zero");

/** Zod schema for a currency code. */
export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, "currency must be three upper-case letters")
  .transform((c) => c as Currency);

/** Brands a number as an amount. Throws for a value that is not a non-negative safe integer: use it for literals. */
export function amountMinor(n: number): AmountMinor {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not an amount of minor units: ${n}`);
  return n as AmountMinor;
}

/** Brands a string as a currency. Throws for a malformed code: use it for literals. */
export function currency(code: string): Currency {
  if (!/^[A-Z]{3}$/.test(code)) throw new RangeError(`not a currency code: ${code}`);
  return code as Currency;
}

/** Adds amounts and asserts the sum is still a safe integer (an overflow is a bug, not an input error). */
export function addMinor(a: number, b: number): AmountMinor {
  const sum = a + b;
  if (!Number.isSafeInteger(sum) || sum < 0) throw new RangeError(`amount overflow: ${a} + ${b}`);
  return sum as AmountMinor;
}
