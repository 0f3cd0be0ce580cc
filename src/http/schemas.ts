/**
 * The HTTP API's request and response shapes as zod schemas: the handler validates with them and the OpenAPI
 * document is generated from them, so the two never disagree. Field rules come from the service's own schemas.
 */
import * as z from "zod";
import { currencySchema, positiveAmountMinorSchema } from "../core/money.js";
import {
  codeSchema,
  entityIdSchema,
  hoursSchema,
  idempotencyKeySchema,
  walletIdSchema,
} from "../fes/schemas.js";

/** The `Idempotency-Key` request header. */
export const idempotencyKeyHeader = idempotencyKeySchema.describe(
  "Idempotency-Key header: the same key with the same request replays the stored result",
);

/** A path parameter naming an activation or a rental. */
export const idParam = entityIdSchema;

/** A path parameter naming a wallet (admin routes). */
export const walletIdParam = walletIdSchema;

/** Body of `POST /activations`. */
export const buyActivationBody = z.strictObject({
  service: codeSchema.describe("service code or canonical id, e.g. `tg` or `telegram`"),
  country: codeSchema.describe('country code or canonical id, or "auto" to let the router choose'),
});

/** Body of `POST /rentals`. */
export const buyRentalBody = z.strictObject({
  service: codeSchema,
  country: codeSchema,
  hours: hoursSchema,
});

/** Body of `POST /rentals/{id}/extend`. */
export const extendRentalBody = z.strictObject({ hours: hoursSchema });

/** An action on one activation or rental takes no body (an empty object is accepted). */
export const emptyBody = z.strictObject({});

/** Query of `GET /wallet/statement`. */
export const statementQuery = z.strictObject({
  afterSeq: z.coerce.number().int().min(0).optional().describe("the `nextAfterSeq` of the previous page"),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** Query of `GET /quote`. */
export const quoteQuery = z.strictObject({
  service: codeSchema,
  country: codeSchema,
  hours: z.coerce.number().int().min(1).max(1344).optional().describe("for a rental quote"),
});

/** Query of `GET /prices`. */
export const priceListQuery = z.strictObject({
  service: codeSchema.optional(),
  country: codeSchema.optional(),
});

/** Body of `POST /admin/wallets`. */
export const createWalletBody = z.strictObject({ walletId: walletIdSchema, currency: currencySchema });

/** Body of `POST /admin/wallets/{walletId}/deposit`. */
export const depositBody = z.strictObject({
  amountMinor: positiveAmountMinorSchema,
  currency: currencySchema,
  reason: z.string().max(500).optional(),
});

/** The dashboard's and the health API's windows. */
export const healthWindowName = z.enum(["24h", "7d", "30d"]);

/** Query of `GET /admin` and `GET /admin/health`. */
export const healthQuery = z.strictObject({ window: healthWindowName.default("24h") });

/** A wallet's counters. */
export const walletView = z.object({
  walletId: z.string(),
  currency: z.string(),
  balanceMinor: z.number().int(),
  frozenMinor: z.number().int(),
  availableMinor: z.number().int(),
});

/** A page of the statement. */
export const statementView = z.object({
  walletId: z.string(),
  entries: z.array(
    z.object({
      seq: z.number().int(),
      transferId: z.string(),
      kind: z.string(),
      amountMinor: z.number().int().describe("positive into the wallet, negative out of it"),
      balanceAfterMinor: z.number().int(),
      operationId: z.string(),
      reason: z.string().nullable(),
      atMs: z.number().int(),
    }),
  ),
  nextAfterSeq: z.number().int().nullable().describe("pass as `afterSeq` for the next page; null at the end"),
});

const msOrNull = z.number().int().nullable();

/** An activation as its customer sees it (no provider cost, no internal ids). */
export const activationView = z.object({
  id: z.string(),
  state: z.enum(["pending", "waiting", "received", "cancelled", "timeout", "expired", "failed"]),
  service: z.string(),
  country: z.string(),
  phone: z.string().nullable(),
  codes: z.array(z.string()),
  priceMinor: z.number().int(),
  currency: z.string(),
  cashbackMinor: z.number().int(),
  failureReason: z.string().nullable(),
  retryOf: z.string().nullable(),
  createdAtMs: z.number().int(),
  issuedAtMs: msOrNull,
  deadlineAtMs: msOrNull,
  endedAtMs: msOrNull,
  closedAtMs: msOrNull,
});

/** A rental as its customer sees it. */
export const rentalView = z.object({
  id: z.string(),
  state: z.enum(["pending", "active", "cancelled", "finished", "expired", "revoked", "failed"]),
  service: z.string(),
  country: z.string(),
  phone: z.string().nullable(),
  currency: z.string(),
  priceMinor: z.number().int(),
  periods: z.array(
    z.object({
      hours: z.number().int(),
      priceMinor: z.number().int(),
      state: z.enum(["pending", "paid", "failed"]),
    }),
  ),
  messageCount: z.number().int(),
  failureReason: z.string().nullable(),
  createdAtMs: z.number().int(),
  startedAtMs: msOrNull,
  endsAtMs: msOrNull,
  endedAtMs: msOrNull,
});

/** What one sweep did. */
export const sweepView = z.record(z.string(), z.unknown());

/** A price-list answer: whatever the configured price list returns. */
export const priceView = z.unknown();

/** An RFC 9457 problem document, with the library's error `code` and its fields as extension members. */
export const problemView = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  retryAfterSeconds: z.number().int().optional(),
});
