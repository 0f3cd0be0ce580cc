import * as z from "zod";
import { normalizePrice } from "./parse.js";

/*
 * Zod schemas of the protocol's JSON payloads. Field types drift between providers (numbers as strings, booleans
 * as "1", ids as numbers or strings, lists as arrays or objects keyed "0","1",…), so each field accepts every
 * spelling seen and normalises it.
 */

/** An id as a string (16-digit ids are quoted by the parser before `JSON.parse`, so no digit is lost). */
export const idSchema = z.union([z.string().trim().min(1), z.number().int().nonnegative()]).transform(String);

/** A count that may arrive as a number or a numeric string. */
export const countSchema = z.union([z.number(), z.string().regex(/^\s*\d+\s*$/)]).transform((v) => Number(v));

/** A price as a normalised decimal string. */
export const priceSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const p = normalizePrice(v);
  if (p === null) {
    ctx.addIssue({ code: "custom", message: "not a price" });
    return z.NEVER;
  }
  return p;
});

/** A boolean spelled `true`, `1`, `"1"`, `"true"` (and their negatives). */
export const flagSchema = z
  .union([z.boolean(), z.number(), z.string()])
  .transform((v) => v === true || v === 1 || v === "1" || v === "true");

/** A list that is an array or an object keyed "0","1",… (taken in key order). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.union([z.array(item), z.record(z.string(), item)]).transform((v): z.output<T>[] =>
    Array.isArray(v)
      ? v
      : Object.entries(v)
          .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b))
          .map(([, x]) => x as z.output<T>),
  );
}

/** `getNumberV2`. */
export const numberV2Schema = z.object({
  activationId: idSchema,
  phoneNumber: idSchema,
  activationCost: priceSchema.optional().nullable(),
  currency: z.union([z.number(), z.string()]).optional().nullable(),
  canGetAnotherSms: flagSchema.optional().nullable(),
  activationEndTime: z.string().optional().nullable(),
});

/** `getPrices`: country → service → price and stock. */
export const pricesSchema = z.record(
  z.string(),
  z.record(
    z.string(),
    z.object({
      cost: priceSchema,
      count: countSchema.optional().nullable(),
      physicalCount: countSchema.optional().nullable(),
    }),
  ),
);

/** One row of `getActiveActivations`. */
export const activeActivationSchema = z.object({
  activationId: idSchema,
  serviceCode: z.string().trim().optional().nullable(),
  service: z.string().trim().optional().nullable(),
  phoneNumber: idSchema,
  activationCost: priceSchema.optional().nullable(),
  smsCode: z
    .union([z.array(z.union([z.string(), z.number()])), z.string(), z.number(), z.null()])
    .optional()
    .transform((v): string[] =>
      v === undefined || v === null || v === "" ? [] : Array.isArray(v) ? v.map(String) : [String(v)],
    ),
  activationTime: z.string().optional().nullable(),
  activationEndTime: z.string().optional().nullable(),
  countryCode: idSchema.optional().nullable(),
  orderId: z.union([z.string(), z.number()]).optional().nullable(),
});

/** `getActiveActivations`: the list under `activeActivations` (original) or `data` (HeroSMS). */
export const activeActivationsSchema = z
  .object({
    activeActivations: listOf(activeActivationSchema).optional(),
    data: listOf(activeActivationSchema).optional(),
  })
  .transform((v) => v.activeActivations ?? v.data ?? []);

/** `getStatusV2`, in both documented shapes. */
export const statusV2Schema = z.object({
  verificationType: z.union([z.number(), z.string()]).optional(),
  sms: z
    .object({
      code: z.union([z.string(), z.number()]).transform(String),
      text: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
  data: z
    .object({
      code: z.union([z.string(), z.number()]).transform(String),
      text: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
});

/** The `phone` object of `getRentNumber` and `continueRentNumber`. */
export const rentPhoneSchema = z.object({
  status: z.literal("success").optional(),
  phone: z.object({ id: idSchema, endDate: z.string().optional().nullable(), number: idSchema }),
  price: priceSchema.optional().nullable(),
  cost: priceSchema.optional().nullable(),
});

/** One SMS of `getRentStatus`. */
export const rentMessageSchema = z.object({
  phoneFrom: z.union([z.string(), z.number()]).transform(String),
  text: z.string(),
  service: z.string().optional().nullable(),
  date: z.string().optional().nullable(),
});

/** `getRentStatus` (success). */
export const rentStatusSchema = z.object({
  status: z.literal("success"),
  values: listOf(rentMessageSchema).optional().default([]),
});

/** `getRentServicesAndCountries`. */
export const rentServicesSchema = z.object({
  services: z.record(
    z.string(),
    z.object({
      cost: priceSchema,
      quant: z
        .union([countSchema, z.object({ current: countSchema, total: countSchema.optional() })])
        .optional()
        .transform((q) => (q === undefined ? 0 : typeof q === "number" ? q : q.current)),
    }),
  ),
});

/** `getRentList`. */
export const rentListSchema = z.object({
  status: z.literal("success"),
  values: listOf(
    z.object({
      id: idSchema,
      phone: idSchema,
      service: z.string().optional().nullable(),
      country: idSchema.optional().nullable(),
      endDate: z.string().optional().nullable(),
    }),
  )
    .optional()
    .default([]),
});

/** `{"status":"success"}` of `setRentStatus`. */
export const rentOkSchema = z.object({ status: z.literal("success") });
