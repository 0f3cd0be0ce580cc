import * as z from "zod";
import { normalizePrice } from "./parse.js";

/*
 * Zod schemas of the protocol's JSON payloads. Field types drift between providers (numbers as strings, booleans
 * as "1", ids as numbers or strings, lists as arrays or objects keyed "0","1",…), so each field accepts every
 * spelling seen and normalises it.
 */

/** Longest provider id accepted (public samples have 9–10 digits; 16-digit ids exist on clones). */
export const MAX_PROVIDER_ID_LENGTH = 32;
/** Longest code accepted. */
export const MAX_CODE_LENGTH = 256;
/** Longest SMS text or sender accepted. */
export const MAX_SMS_TEXT_LENGTH = 4096;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when a provider text can be stored and shown: at most `max` UTF-16 units, no NUL, no lone surrogate.
 * A value that fails is a garbled answer (PostgreSQL refuses NUL, so storing it would fail every poll).
 */
export function isStorableText(v: string, max: number): boolean {
  return v.length <= max && !v.includes("\u0000") && !LONE_SURROGATE.test(v);
}

/**
 * A provider id as a string: 1–32 characters of `[0-9A-Za-z_-]` (16-digit ids are quoted by the parser before
 * `JSON.parse`, so no digit is lost).
 */
export const idSchema = z
  .union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform(String)
  .pipe(
    z
      .string()
      .trim()
      .min(1)
      .max(MAX_PROVIDER_ID_LENGTH)
      .regex(/^[0-9A-Za-z_-]+$/),
  );

/** A bought number: 5–20 digits, an optional leading `+`. A masked number (`79584******`) is not one. */
export const phoneSchema = z
  .union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform(String)
  .pipe(
    z
      .string()
      .trim()
      .regex(/^\+?\d{5,20}$/),
  );

/** A number as a list shows it, possibly masked (`79********1`). */
export const listedPhoneSchema = z
  .union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform(String)
  .pipe(
    z
      .string()
      .trim()
      .regex(/^\+?[\d*]{3,24}$/),
  );

/** A code: a non-empty storable string (a number is taken as its digits). */
export const codeSchema = z
  .union([z.string(), z.number()])
  .transform(String)
  .refine((c) => c !== "" && isStorableText(c, MAX_CODE_LENGTH), "not a storable code");

/** An SMS text or sender: a storable string. */
export const smsTextSchema = z.string().refine((t) => isStorableText(t, MAX_SMS_TEXT_LENGTH), "not storable");

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
  phoneNumber: phoneSchema,
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
  phoneNumber: listedPhoneSchema,
  activationCost: priceSchema.optional().nullable(),
  smsCode: z
    .union([z.array(codeSchema), codeSchema, z.literal(""), z.null()])
    .optional()
    .transform((v): string[] =>
      v === undefined || v === null || v === "" ? [] : Array.isArray(v) ? v.map(String) : [String(v)],
    ),
  activationTime: z.string().optional().nullable(),
  activationEndTime: z.string().optional().nullable(),
  countryCode: idSchema.optional().nullable(),
  orderId: z.union([z.string(), z.number()]).optional().nullable(),
});

/**
 * `getActiveActivations` with rows: under `activeActivations` (original), `data` (HeroSMS), or
 * `activeActivations.rows` (HeroSMS, which also sends `"data":[]` beside it when nothing is open). A document
 * with neither list, or a `status` other than `success`, is not this answer: it is never read as "none open".
 */
export const activeActivationsSchema = z
  .object({
    status: z.literal("success").optional(),
    data: listOf(activeActivationSchema).optional(),
    activeActivations: z
      .union([z.object({ rows: listOf(activeActivationSchema) }), listOf(activeActivationSchema)])
      .optional(),
  })
  .refine((v) => v.data !== undefined || v.activeActivations !== undefined, "no list")
  .transform((v) => {
    const aa = v.activeActivations;
    const rows = aa === undefined ? undefined : Array.isArray(aa) ? aa : aa.rows;
    return (v.data?.length ? v.data : undefined) ?? (rows?.length ? rows : undefined) ?? v.data ?? rows ?? [];
  });

/** `getStatusV2`, in both documented shapes. */
export const statusV2Schema = z.object({
  verificationType: z.union([z.number(), z.string()]).optional(),
  sms: z
    .object({
      code: codeSchema,
      text: smsTextSchema.nullable().optional(),
    })
    .nullable()
    .optional(),
  data: z
    .object({
      code: codeSchema,
      text: smsTextSchema.nullable().optional(),
    })
    .nullable()
    .optional(),
});

/** The `phone` object of `getRentNumber` and `continueRentNumber` (original service). */
export const rentPhoneSchema = z.object({
  status: z.literal("success").optional(),
  phone: z.object({ id: idSchema, endDate: z.string().optional().nullable(), number: phoneSchema }),
  price: priceSchema.optional().nullable(),
  cost: priceSchema.optional().nullable(),
});

/** A HeroSMS rent answer, shaped like `getNumberV2` (dates carry an offset). */
export const rentV2Schema = z.object({
  activationId: idSchema,
  phoneNumber: phoneSchema,
  activationCost: priceSchema.optional().nullable(),
  currency: z.union([z.number(), z.string()]).optional().nullable(),
  activationEndTime: z.string().optional().nullable(),
});

/** One SMS of `getRentStatus`. */
export const rentMessageSchema = z.object({
  phoneFrom: z.union([z.string(), z.number()]).transform(String).pipe(smsTextSchema),
  text: smsTextSchema,
  service: z.string().optional().nullable(),
  date: z.string().optional().nullable(),
});

/** `getRentStatus` (success). */
export const rentStatusSchema = z.object({
  status: z.literal("success"),
  values: listOf(rentMessageSchema).optional().default([]),
  /** The rental's end, where the provider states it. */
  endDate: z.string().optional().nullable(),
});

/**
 * `getRentServicesAndCountries`: `{cost, quant}` per service on the original service, `{quantity, price,
 * retail_price}` on HeroSMS.
 */
export const rentServicesSchema = z.object({
  services: z.record(
    z.string(),
    z.union([
      z.object({
        cost: priceSchema,
        quant: z
          .union([countSchema, z.object({ current: countSchema, total: countSchema.optional() })])
          .optional()
          .transform((q) => (q === undefined ? 0 : typeof q === "number" ? q : q.current)),
      }),
      z
        .object({
          price: priceSchema,
          quantity: countSchema.optional(),
          retail_price: priceSchema.optional(),
        })
        .transform((v) => ({ cost: v.price, quant: v.quantity ?? 0 })),
    ]),
  ),
});

/** `getRentList`. */
export const rentListSchema = z.object({
  status: z.literal("success"),
  values: listOf(
    z.object({
      id: idSchema,
      phone: listedPhoneSchema,
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
