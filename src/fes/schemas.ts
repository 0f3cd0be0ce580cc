import * as z from "zod";
import { currencySchema, positiveAmountMinorSchema, signedAmountMinorSchema } from "../core/money.js";
import { storableText } from "../core/storable-text.js";

/** An idempotency key: 1–128 printable ASCII characters without spaces, scoped to the wallet it acts on. */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, "idempotency key: 1–128 printable characters, no spaces");

/** A customer wallet id: 1–128 characters of `[A-Za-z0-9_.:-]` (platform account ids start with `@`). */
export const walletIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, "wallet id: 1–128 of [A-Za-z0-9_.:-]");

/** An entity id (activation, rental, hold) as returned by the library. */
export const entityIdSchema = z.string().min(1).max(300).check(storableText);

/** Who acts: recorded in the audit trail. */
export const actorSchema = z.string().min(1).max(200).check(storableText).optional();

/** A provider code of a service or country, or a canonical id the catalog resolves. */
export const codeSchema = z.string().trim().min(1).max(64).check(storableText);

/** Input of `createWallet`. */
export const createWalletInput = z.object({
  walletId: walletIdSchema,
  currency: currencySchema,
  actor: actorSchema,
});

/** Input of `deposit` and `withdraw`. */
export const moneyMoveInput = z.object({
  walletId: walletIdSchema,
  amountMinor: positiveAmountMinorSchema,
  currency: currencySchema,
  idempotencyKey: idempotencyKeySchema,
  reason: z.string().max(500).check(storableText).optional(),
  actor: actorSchema,
});

/** Input of `adjust`: a signed amount and a mandatory reason. */
export const adjustInput = z.object({
  walletId: walletIdSchema,
  amountMinor: signedAmountMinorSchema,
  currency: currencySchema,
  reason: z.string().min(1, "an adjustment needs a reason").max(500).check(storableText),
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** Input of `cashback`. */
export const creditInput = z.object({
  walletId: walletIdSchema,
  amountMinor: positiveAmountMinorSchema,
  currency: currencySchema,
  reason: z.string().min(1).max(500).check(storableText),
  operationId: entityIdSchema.optional(),
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** A reversal names the operation whose settled money it gives back. */
export const reverseInput = creditInput.extend({ operationId: entityIdSchema });

/** Input of a manual `freeze`. */
export const freezeInput = z.object({
  walletId: walletIdSchema,
  amountMinor: positiveAmountMinorSchema,
  currency: currencySchema,
  /** The platform's id for what is being paid; the hold id derives from it. */
  operationId: z.string().regex(/^[\x21-\x7e]{1,128}$/),
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** Input of a manual `settle`. */
export const settleInput = z.object({
  holdId: entityIdSchema,
  /** Defaults to the full held amount. */
  amountMinor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** Input of a manual `release`. */
export const releaseInput = z.object({
  holdId: entityIdSchema,
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** Input of `statement`. */
export const statementInput = z.object({
  walletId: walletIdSchema,
  afterSeq: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});

/** Input of `buyActivation`. */
export const buyActivationInput = z.object({
  walletId: walletIdSchema,
  service: codeSchema,
  /** A country code, or `"auto"` to let the router choose. */
  country: codeSchema,
  idempotencyKey: idempotencyKeySchema,
  maxPriceMinor: positiveAmountMinorSchema.optional(),
  actor: actorSchema,
});

/** Input of `onCode`. */
export const codeInput = z
  .object({
    activationId: entityIdSchema.optional(),
    providerActivationId: z.string().min(1).max(64).check(storableText).optional(),
    code: z.string().min(1).max(200).check(storableText),
    receivedAtMs: z.number().int().min(0).optional(),
    actor: actorSchema,
  })
  .refine(
    (v) => v.activationId !== undefined || v.providerActivationId !== undefined,
    "activationId or providerActivationId is required",
  );

/** Input of the calls on one activation (cancel, finish, another code). */
export const activationActionInput = z.object({
  activationId: entityIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  actor: actorSchema,
});

/** Rentals last 1 hour to 8 weeks (the reference provider allows 2–1344 hours for an extension). */
export const hoursSchema = z
  .number()
  .int("hours must be whole")
  .min(1, "hours must be at least 1")
  .max(1344, "hours must be at most 1344");

/** Input of `buyRental`. */
export const buyRentalInput = z.object({
  walletId: walletIdSchema,
  service: codeSchema,
  country: codeSchema,
  hours: hoursSchema,
  idempotencyKey: idempotencyKeySchema,
  maxPriceMinor: positiveAmountMinorSchema.optional(),
  actor: actorSchema,
});

/** Input of `extendRental`. */
export const extendRentalInput = z.object({
  rentalId: entityIdSchema,
  hours: hoursSchema,
  idempotencyKey: idempotencyKeySchema,
  actor: actorSchema,
});

/** Input of the calls on one rental (cancel, finish). */
export const rentalActionInput = z.object({
  rentalId: entityIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  actor: actorSchema,
});
